// BrokerProcess: the real `keybroker` binary started as a child process on a
// loopback port chosen by the kernel, for integration tests.
//
// Start() waits for the "listening" log line and reads the bound address from
// it; every stderr line is kept for assertions. The destructor stops the
// process (SIGTERM, then SIGKILL after a grace period).
#ifndef KEYBROKER_TESTS_INTEGRATION_BROKER_PROCESS_H_
#define KEYBROKER_TESTS_INTEGRATION_BROKER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace keybroker::testing {

// Path of a binary built by this tree, e.g. BuiltBinary("server/keybroker").
std::string BuiltBinary(const std::string& relative);

class BrokerProcess {
 public:
  // Starts keybroker with `args` (e.g. {"--listen", "127.0.0.1:0", "--data-dir", d}).
  // Fails with the process's own stderr if it exits or does not listen within
  // `timeout`. `env` entries ("NAME=value") are added to the environment.
  static absl::StatusOr<std::unique_ptr<BrokerProcess>> Start(
      const std::vector<std::string>& args, const std::vector<std::string>& env = {},
      absl::Duration timeout = absl::Seconds(20));

  // Runs keybroker with `args` expecting it to exit by itself (a start-up
  // failure); returns its exit code (-1 if it had to be killed after 20 s)
  // and fills `output` with its stdout and stderr.
  static int RunToExit(const std::vector<std::string>& args, std::string* output,
                       const std::vector<std::string>& env = {});

  ~BrokerProcess();

  const std::string& address() const { return address_; }

  // The metrics/health HTTP address, from the `metrics_listening` line; ""
  // when the broker serves none.
  std::string MetricsAddress() const;

  // The process id, for tests that signal it themselves.
  pid_t pid() const { return pid_; }

  // Sends `signal_number` and waits up to `timeout` for the exit; returns the
  // exit code (128 + signal if killed by one), or -1 if still running.
  int Stop(int signal_number, absl::Duration timeout = absl::Seconds(20));
  // Stop(SIGTERM).
  int Terminate(absl::Duration timeout = absl::Seconds(20));

  // All stderr lines so far.
  std::vector<std::string> Lines() const;

  // Waits up to `timeout` for a stderr line containing `needle`.
  bool WaitForLogLine(absl::string_view needle, absl::Duration timeout);

 private:
  BrokerProcess() = default;
  void ReadLines(int fd);
  bool WaitForLine(absl::string_view needle, absl::Duration timeout, std::string* line);

  pid_t pid_ = -1;
  std::string address_;
  std::thread reader_;
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_INTEGRATION_BROKER_PROCESS_H_
