// OpensslCli: runs the `openssl` command line tool in a scratch directory, so
// that tests can check our OpenSSL wrappers against an independent
// implementation (keys, certificates and signatures made or verified by the
// tool). Not thread-safe; one per test.
#ifndef KEYBROKER_TESTS_TESTING_OPENSSL_CLI_H_
#define KEYBROKER_TESTS_TESTING_OPENSSL_CLI_H_

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {

class OpensslCli {
 public:
  // Runs `openssl <args>` inside the scratch directory; returns whether it
  // exited with status 0. On failure its output is in last_log().
  bool Run(const std::string& args) {
    std::string command =
        absl::StrCat("cd '", dir_.path(), "' && openssl ", args, " </dev/null >openssl.log 2>&1");
    bool ok = std::system(command.c_str()) == 0;
    last_log_ = ok ? "" : Read("openssl.log");
    return ok;
  }

  // Makes an unencrypted RSA key (PKCS#8 PEM) in `key_file` and a self-signed
  // certificate for it in `cert_file`.
  bool MakeSelfSigned(int bits, const std::string& key_file, const std::string& cert_file) {
    return Run(absl::StrCat("req -x509 -newkey rsa:", bits, " -nodes -keyout ", key_file, " -out ",
                            cert_file, " -days 2 -subj /CN=keybroker-test"));
  }

  std::string Read(const std::string& name) const { return ReadAll(Path(name)); }
  void Write(const std::string& name, absl::string_view data) const {
    WriteAll(Path(name), std::string(data));
  }
  std::string Path(const std::string& name) const { return dir_.File(name); }
  const std::string& last_log() const { return last_log_; }

 private:
  TempDir dir_;
  std::string last_log_;
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_TESTING_OPENSSL_CLI_H_
