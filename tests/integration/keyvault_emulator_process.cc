#include "tests/integration/keyvault_emulator_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "kms_adapters/azure/cpprest_http_client.h"

extern char** environ;

namespace keybroker::testing {
namespace {

// Reads one line from `fd` within `timeout`; false on EOF or timeout.
bool ReadLine(int fd, absl::Duration timeout, std::string* line) {
  absl::Time deadline = absl::Now() + timeout;
  char c;
  while (absl::Now() < deadline) {
    struct pollfd ready = {fd, POLLIN, 0};
    if (::poll(&ready, 1, 100) <= 0) continue;
    if (::read(fd, &c, 1) != 1) return false;
    if (c == '\n') return true;
    line->push_back(c);
  }
  return false;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KeyVaultEmulator>> KeyVaultEmulator::Start(
    const std::vector<std::string>& args, const std::string& state_dir) {
  std::unique_ptr<KeyVaultEmulator> emulator(new KeyVaultEmulator());
  int out[2], in[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(in, O_CLOEXEC) != 0) {
    return absl::InternalError("pipe");
  }
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   std::string(KEYBROKER_SOURCE_DIR) + "/tests/fakes/keyvault_emulator",
                                   "--state-dir", state_dir, "--exit-on-stdin-eof"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c_argv;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  int spawned = posix_spawn(&emulator->pid_, argv[0].c_str(), &actions, nullptr, c_argv.data(),
                            environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(in[0]);
  emulator->stdin_fd_ = in[1];
  if (spawned != 0) return absl::InternalError("cannot start the key vault emulator");
  std::string line;
  bool got = ReadLine(out[0], absl::Seconds(30), &line);
  ::close(out[0]);
  if (!got) return absl::UnavailableError("the key vault emulator did not report ready");
  emulator->ready_ = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!emulator->ready_.is_object() || !emulator->ready_.contains("ca_file")) {
    return absl::UnavailableError("the key vault emulator's ready line is not what it should be");
  }
  emulator->ca_file_ = emulator->ready_["ca_file"];
  emulator->entra_ca_file_ = emulator->ready_["entra_ca_file"];
  kms::azure::TlsTrust trust;
  trust.ca_file = emulator->ca_file_;
  // Generous: create-key makes RSA-4096 keys, which on a loaded machine take
  // well over ten seconds.
  auto http = kms::azure::CpprestHttpClient::Create(trust, absl::Seconds(90));
  if (!http.ok()) return http.status();
  emulator->http_ = *std::move(http);
  return emulator;
}

KeyVaultEmulator::~KeyVaultEmulator() {
  http_.reset();
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::close(stdin_fd_);
    int status;
    ::waitpid(pid_, &status, 0);
  }
}

std::string KeyVaultEmulator::Url(const std::string& name) const {
  return ready_["hosts"][name]["url"];
}

absl::StatusOr<nlohmann::json> KeyVaultEmulator::Control(const std::string& endpoint,
                                                         const nlohmann::json& body) {
  kms::azure::HttpRequest request;
  request.method = body.is_null() ? "GET" : "POST";
  request.url = absl::StrCat(ready_["control"].get<std::string>(), "/control/", endpoint);
  if (!body.is_null()) {
    request.body = body.dump();
    request.headers = {{"Content-Type", "application/json"}};
  }
  absl::StatusOr<kms::azure::HttpResponse> response =
      http_->Send(request, absl::Now() + absl::Seconds(90));
  if (!response.ok()) return response.status();
  nlohmann::json json = nlohmann::json::parse(response->body, nullptr, false);
  if (response->status != 200) {
    return absl::FailedPreconditionError(absl::StrCat("control ", endpoint, ": ", response->body));
  }
  return json;
}

int KeyVaultEmulator::Count(const std::string& host, const std::string& operation) {
  absl::StatusOr<nlohmann::json> counts = Control("counts");
  if (!counts.ok() || !counts->contains(host)) return -1;  // fails any expected count
  const nlohmann::json& ops = (*counts)[host];
  return ops.contains(operation) ? ops[operation].get<int>() : 0;
}

absl::StatusOr<std::vector<EmulatorResponse>> KeyVaultEmulator::Responses() {
  absl::StatusOr<nlohmann::json> answer = Control("requests");
  if (!answer.ok()) return answer.status();
  if (!answer->is_object() || !answer->contains("requests") || !(*answer)["requests"].is_array()) {
    return absl::InternalError(absl::StrCat("control requests: unexpected answer ", answer->dump()));
  }
  std::vector<EmulatorResponse> responses;
  for (const nlohmann::json& entry : (*answer)["requests"]) {
    if (!entry.is_object() || !entry.contains("status") || !entry["status"].is_number_integer()) {
      return absl::InternalError(absl::StrCat("control requests: unexpected entry ", entry.dump()));
    }
    EmulatorResponse response;
    response.host = entry.value("host", "");
    response.method = entry.value("method", "");
    response.path = entry.value("path", "");
    response.status = entry["status"].get<int>();
    response.operation = entry.value("operation", "");
    response.request_id = entry.value("request_id", "");
    responses.push_back(std::move(response));
  }
  return responses;
}

absl::StatusOr<std::vector<std::string>> KeyVaultEmulator::IssuedTokens() {
  absl::StatusOr<nlohmann::json> answer = Control("tokens");
  if (!answer.ok()) return answer.status();
  if (!answer->is_object() || !answer->contains("tokens") || !(*answer)["tokens"].is_array()) {
    return absl::InternalError(absl::StrCat("control tokens: unexpected answer ", answer->dump()));
  }
  std::vector<std::string> tokens;
  for (const nlohmann::json& entry : (*answer)["tokens"]) {
    if (!entry.is_object() || !entry.contains("token") || !entry["token"].is_string()) {
      return absl::InternalError("control tokens: an entry without a token");
    }
    tokens.push_back(entry["token"].get<std::string>());
  }
  return tokens;
}

}  // namespace keybroker::testing
