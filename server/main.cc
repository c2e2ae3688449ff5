// keybroker: the envelope-encryption broker.
//
//   keybroker --config FILE                    a deployment's configuration
//   keybroker --listen ADDR --data-dir DIR     the embedded local keyring in DIR
//
// Wires configuration, KMS adapters and the gRPC server, then waits for
// SIGTERM or SIGINT and shuts down gracefully (in-flight calls finish).
#include <csignal>
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "server/broker_server.h"
#include "server/config.h"

namespace {

constexpr absl::Duration kShutdownGrace = absl::Seconds(15);

struct Flags {
  std::string config_file;
  std::string listen;
  std::string data_dir;
  std::string metrics_listen;
};

absl::StatusOr<keybroker::server::Config> ConfigFromFlags(const Flags& flags) {
  using keybroker::server::Config;
  if (!flags.config_file.empty() && !flags.data_dir.empty()) {
    return absl::InvalidArgumentError(
        "--data-dir starts the embedded local keyring; it cannot be combined with --config");
  }
  if (flags.config_file.empty()) {
    if (flags.data_dir.empty() || flags.listen.empty()) {
      return absl::InvalidArgumentError(
          "give --config FILE, or --listen ADDR and --data-dir DIR for the embedded keyring");
    }
    Config config = keybroker::server::EmbeddedDefaultConfig(flags.listen, flags.data_dir);
    config.metrics_listen = flags.metrics_listen;
    absl::Status valid = keybroker::server::ValidateConfig(config);
    if (!valid.ok()) return valid;
    return config;
  }
  absl::StatusOr<Config> config = keybroker::server::LoadConfigFile(flags.config_file);
  if (!config.ok()) return config;
  // The flags override the file.
  if (!flags.listen.empty()) config->listen = flags.listen;
  if (!flags.metrics_listen.empty()) config->metrics_listen = flags.metrics_listen;
  absl::Status valid = keybroker::server::ValidateConfig(*config);
  if (!valid.ok()) return valid;
  return config;
}

// Blocks SIGTERM and SIGINT in this thread and so in every thread created
// later (gRPC's included): only the main thread's sigwait sees them.
sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int Fail(absl::string_view event, const absl::Status& status) {
  keybroker::log::Error(event, {{"error", std::string(status.message())}});
  keybroker::log::Flush();
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // First, before any thread exists: every thread inherits the mask.
  sigset_t signals = BlockShutdownSignals();
  // Debian's Abseil is built with Mutex deadlock detection on, which updates
  // a lock graph on every lock (and every Mutex's destruction): a debugging
  // aid the tests keep, not something to pay for while serving.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  Flags flags;
  CLI::App app{"keybroker: envelope-encryption broker (gRPC keybroker.v1.KeyBroker)"};
  app.add_option("--config", flags.config_file, "YAML configuration file");
  app.add_option("--listen", flags.listen,
                 "address to serve on, host:port or unix:/path (overrides the file's listen)");
  app.add_option("--data-dir", flags.data_dir,
                 "embedded mode: keep the local keyring (and a development master key) here");
  app.add_option("--metrics-listen", flags.metrics_listen,
                 "serve /metrics, /healthz and /readyz over HTTP on host:port "
                 "(overrides the file's metrics_listen)");
  app.set_version_flag("--version", std::string("keybroker ") + KEYBROKER_VERSION);
  CLI11_PARSE(app, argc, argv);

  absl::StatusOr<keybroker::server::Config> config = ConfigFromFlags(flags);
  if (!config.ok()) return Fail("config_invalid", config.status());
  keybroker::log::Level level = keybroker::log::Level::kInfo;
  keybroker::log::ParseLevel(config->log_level, &level);
  keybroker::log::SetLevel(level);

  absl::StatusOr<std::unique_ptr<keybroker::server::BrokerServer>> server =
      keybroker::server::BrokerServer::Start(*config, KEYBROKER_VERSION);
  if (!server.ok()) return Fail("startup_failed", server.status());

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  keybroker::log::Info("shutting_down", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"},
                                         {"grace_seconds", absl::ToInt64Seconds(kShutdownGrace)}});
  (*server)->Shutdown(kShutdownGrace);
  server->reset();
  keybroker::log::Info("stopped");
  keybroker::log::Flush();
  return 0;
}
