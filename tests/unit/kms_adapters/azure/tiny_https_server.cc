#include "tests/unit/kms_adapters/azure/tiny_https_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

extern char** environ;

namespace keybroker::testing {
namespace {

// Debian's interpreter, whatever python3 is first on PATH.
constexpr char kPython[] = "/usr/bin/python3";

// Spawns `argv` with stdin and stdout on new pipes (stderr is inherited, so
// a Python traceback shows in the test log). Returns the pid, or -1.
pid_t Spawn(const std::vector<std::string>& argv, int* stdin_fd, int* stdout_fd) {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return -1;
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return -1;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  std::vector<char*> c_argv;
  for (const std::string& arg : argv) c_argv.push_back(const_cast<char*>(arg.c_str()));
  c_argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, c_argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  *stdin_fd = in[1];
  *stdout_fd = out[0];
  return pid;
}

// Reads `fd` until a full "port <n>" line or `timeout`; returns n or 0.
int ReadPort(int fd, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  std::string output;
  char buffer[256];
  while (absl::Now() < deadline) {
    struct pollfd ready = {fd, POLLIN, 0};
    if (::poll(&ready, 1, 100) <= 0) continue;
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n <= 0) return 0;  // the child died
    output.append(buffer, n);
    size_t newline = output.find('\n');
    if (newline == std::string::npos) continue;
    absl::string_view line(output.data(), newline);
    int port = 0;
    if (!absl::ConsumePrefix(&line, "port ") || !absl::SimpleAtoi(line, &port)) return 0;
    return port;
  }
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TinyHttpsServer>> TinyHttpsServer::Start(
    const std::string& cert_file, const std::string& key_file) {
  std::unique_ptr<TinyHttpsServer> server(new TinyHttpsServer());
  int stdout_fd = -1;
  server->pid_ = Spawn({kPython, KEYBROKER_TINY_HTTPS_SERVER_PY, cert_file, key_file},
                       &server->stdin_fd_, &stdout_fd);
  if (server->pid_ < 0) return absl::UnavailableError("cannot start tiny_https_server.py");
  server->port_ = ReadPort(stdout_fd, absl::Seconds(20));
  ::close(stdout_fd);
  if (server->port_ == 0) return absl::UnavailableError("tiny_https_server.py did not start");
  return server;
}

TinyHttpsServer::~TinyHttpsServer() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);  // the child exits on EOF
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
}

std::string TinyHttpsServer::Url(absl::string_view path_and_query, absl::string_view host) const {
  return absl::StrCat("https://", host, ":", port_, path_and_query);
}

}  // namespace keybroker::testing
