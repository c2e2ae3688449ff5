#include "tests/integration/broker_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/sanitizer_report.h"

extern char** environ;

namespace keybroker::testing {
namespace {

// Spawns `argv` with stderr (and stdout too when `merge_stdout`) on a new
// pipe; returns the pid and the pipe's read end.
pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            int* stderr_fd, bool merge_stdout = false) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  if (merge_stdout) posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
  envs.insert(envs.end(), env.begin(), env.end());
  std::vector<char*> c_argv, c_env;
  for (const std::string& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  for (const std::string& e : envs) c_env.push_back(const_cast<char*>(e.c_str()));
  c_argv.push_back(nullptr);
  c_env.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, c_argv.data(), c_env.data()) != 0) {
    pid = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  *stderr_fd = fds[0];
  return pid;
}

std::vector<std::string> Argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv{BuiltBinary("server/keybroker")};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

int WaitExit(pid_t pid, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    absl::SleepFor(absl::Milliseconds(10));
  }
  return -1;
}

}  // namespace

std::string BuiltBinary(const std::string& relative) {
  const char* dir = std::getenv("KEYBROKER_BUILD_DIR");
  return absl::StrCat(dir != nullptr ? dir : KEYBROKER_DEFAULT_BUILD_DIR, "/", relative);
}

absl::StatusOr<std::unique_ptr<BrokerProcess>> BrokerProcess::Start(
    const std::vector<std::string>& args, const std::vector<std::string>& env,
    absl::Duration timeout) {
  std::unique_ptr<BrokerProcess> process(new BrokerProcess());
  int fd = -1;
  process->pid_ = Spawn(Argv(args), env, &fd);
  if (process->pid_ < 0) return absl::InternalError("cannot start keybroker");
  process->reader_ = std::thread([p = process.get(), fd] { p->ReadLines(fd); });
  std::string line;
  if (!process->WaitForLine("\"event\":\"listening\"", timeout, &line)) {
    return absl::UnavailableError(
        absl::StrCat("keybroker did not start:\n", absl::StrJoin(process->Lines(), "\n")));
  }
  process->address_ = nlohmann::json::parse(line)["address"].get<std::string>();
  return process;
}

std::string BrokerProcess::MetricsAddress() const {
  for (const std::string& line : Lines()) {
    nlohmann::json json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_object() && json["event"] == "metrics_listening") return json["address"];
  }
  return "";
}

int BrokerProcess::RunToExit(const std::vector<std::string>& args, std::string* output,
                             const std::vector<std::string>& env) {
  int fd = -1;
  pid_t pid = Spawn(Argv(args), env, &fd, /*merge_stdout=*/true);
  if (pid < 0) return -1;
  output->clear();
  // A broker that wrongly keeps running must fail the test, not hang it.
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  char buffer[4096];
  while (absl::Now() < deadline) {
    struct pollfd ready = {fd, POLLIN, 0};
    if (::poll(&ready, 1, 100) <= 0) continue;
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    output->append(buffer, n);
  }
  ::close(fd);
  int code = WaitExit(pid, std::max(deadline - absl::Now(), absl::Milliseconds(100)));
  if (code < 0) {
    ::kill(pid, SIGKILL);
    WaitExit(pid, absl::Seconds(5));
  }
  std::string report = SanitizerReport(*output);
  if (!report.empty()) ADD_FAILURE() << "keybroker (sanitizer build) reported:\n" << report;
  return code;
}

BrokerProcess::~BrokerProcess() {
  if (pid_ > 0 && Terminate() < 0) {
    ::kill(pid_, SIGKILL);
    WaitExit(pid_, absl::Seconds(5));
  }
  if (reader_.joinable()) reader_.join();
  // A finding at exit (a leak, a use after free during shutdown) leaves no
  // other trace in the test.
  std::string report = SanitizerReport(Lines());
  if (!report.empty()) ADD_FAILURE() << "keybroker (sanitizer build) reported:\n" << report;
}

int BrokerProcess::Terminate(absl::Duration timeout) { return Stop(SIGTERM, timeout); }

int BrokerProcess::Stop(int signal_number, absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal_number);
  int code = WaitExit(pid_, timeout);
  if (code >= 0) pid_ = -1;
  return code;
}

bool BrokerProcess::WaitForLogLine(absl::string_view needle, absl::Duration timeout) {
  std::string line;
  return WaitForLine(needle, timeout, &line);
}

std::vector<std::string> BrokerProcess::Lines() const {
  absl::MutexLock lock(&mu_);
  return lines_;
}

void BrokerProcess::ReadLines(int fd) {
  std::string pending;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) {
    pending.append(buffer, n);
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      absl::MutexLock lock(&mu_);
      lines_.push_back(pending.substr(0, newline));
      pending.erase(0, newline + 1);
    }
  }
  ::close(fd);
  absl::MutexLock lock(&mu_);
  eof_ = true;
}

bool BrokerProcess::WaitForLine(absl::string_view needle, absl::Duration timeout,
                                std::string* line) {
  absl::Time deadline = absl::Now() + timeout;
  size_t seen = 0;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      for (; seen < lines_.size(); ++seen) {
        if (absl::StrContains(lines_[seen], needle)) {
          *line = lines_[seen];
          return true;
        }
      }
      if (eof_) return false;
    }
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace keybroker::testing
