// RunCtl: the built keybrokerctl run once through the shell, for
// integration tests: exit code, stdout and stderr.
#ifndef KEYBROKER_TESTS_INTEGRATION_CTL_RUNNER_H_
#define KEYBROKER_TESTS_INTEGRATION_CTL_RUNNER_H_

#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"
#include "tests/integration/broker_process.h"
#include "tests/testing/files.h"
#include "tests/testing/sanitizer_report.h"

namespace keybroker::testing {

struct CtlResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `keybrokerctl <args>` (`args` already shell-quoted where needed;
// `env` is prepended as shell assignments, e.g. "KEYBROKER_MASTER_KEY=...").
// stderr goes through `scratch_dir`/ctl.err.
inline CtlResult RunCtl(const std::string& args, const std::string& scratch_dir,
                        const std::string& env = "") {
  std::string err_file = scratch_dir + "/ctl.err";
  std::string command =
      env + " " + BuiltBinary("ctl/keybrokerctl") + " " + args + " 2>" + err_file;
  CtlResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.err = ReadAll(err_file);
  std::string report = SanitizerReport(result.err);
  if (!report.empty()) ADD_FAILURE() << "keybrokerctl (sanitizer build) reported:\n" << report;
  return result;
}

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_INTEGRATION_CTL_RUNNER_H_
