// Test PKI made with the openssl command line for each test run: a CA and a
// leaf certificate signed by it, for gRPC TLS and mutual TLS tests.
#ifndef KEYBROKER_TESTS_TESTING_TEST_CERTIFICATES_H_
#define KEYBROKER_TESTS_TESTING_TEST_CERTIFICATES_H_

#include <cstdlib>
#include <fstream>
#include <string>

namespace keybroker::testing {

// Makes, in directory `dir`, CA `ca` (ca.crt, ca.key) and leaf `name`
// (name.crt, name.key) signed by it, with CN localhost and subject
// alternative names localhost and 127.0.0.1, valid for a day (EC P-256).
// Returns whether openssl succeeded.
inline bool MakeCertificates(const std::string& dir, const std::string& ca,
                             const std::string& name) {
  std::string script =
      "set -e; cd '" + dir + "'\n" +
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
      "-keyout " + ca + ".key -out " + ca + ".crt -subj /CN=" + ca + " 2>/dev/null\n" +
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "-keyout " + name + ".key -out " + name + ".csr -subj /CN=localhost 2>/dev/null\n" +
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext\n" +
      "openssl x509 -req -in " + name + ".csr -CA " + ca + ".crt -CAkey " + ca + ".key "
      "-CAcreateserial -days 1 -extfile san.ext -out " + name + ".crt 2>/dev/null\n";
  return std::system(script.c_str()) == 0;
}

// Makes leaf `name` (name.crt, name.key) signed by the existing CA `ca` in
// `dir`, with subject CN `common_name` and, unless empty, the subject
// alternative names `san` (openssl's syntax: "URI:spiffe://...,DNS:...").
// For client identities. Returns whether openssl succeeded.
inline bool MakeLeafCertificate(const std::string& dir, const std::string& ca,
                                const std::string& name, const std::string& common_name,
                                const std::string& san) {
  std::string extension = san.empty() ? "basicConstraints=CA:FALSE" : "subjectAltName=" + san;
  std::string script =
      "set -e; cd '" + dir + "'\n" +
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "-keyout " + name + ".key -out " + name + ".csr -subj '/CN=" + common_name +
      "' 2>/dev/null\n" +
      "printf '%s\\n' '" + extension + "' > " + name + ".ext\n" +
      "openssl x509 -req -in " + name + ".csr -CA " + ca + ".crt -CAkey " + ca + ".key "
      "-CAcreateserial -days 1 -extfile " + name + ".ext -out " + name + ".crt 2>/dev/null\n";
  return std::system(script.c_str()) == 0;
}

// Makes the files a TLS broker test needs in `dir`: ca/server,
// client-ca/client and other-ca/other pairs and a master key. Returns whether
// openssl succeeded.
inline bool MakeTlsBrokerFiles(const std::string& dir) {
  if (!MakeCertificates(dir, "ca", "server") || !MakeCertificates(dir, "client-ca", "client") ||
      !MakeCertificates(dir, "other-ca", "other")) {
    return false;
  }
  std::ofstream(dir + "/master-key") << std::string(64, '1');
  return true;
}

// Writes DIR/config.yaml for a broker serving TLS with server.crt (mutual
// TLS against client-ca.crt when `mutual`) and one local alias "default";
// returns its path.
inline std::string WriteTlsBrokerConfig(const std::string& dir, bool mutual) {
  std::string path = dir + "/config.yaml";
  std::ofstream(path) << "listen: 127.0.0.1:0\n"
                      << "tls:\n"
                      << "  cert_file: " << dir << "/server.crt\n"
                      << "  key_file: " << dir << "/server.key\n"
                      << (mutual ? "  client_ca_file: " + dir + "/client-ca.crt\n" : "")
                      << "kms:\n  local:\n    keyring_file: " << dir << "/keyring\n"
                      << "    master_key_file: " << dir << "/master-key\n"
                      << "keys:\n  - alias: default\n    local_key: k\n";
  return path;
}

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_TESTING_TEST_CERTIFICATES_H_
