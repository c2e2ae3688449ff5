// keybroker: the envelope-encryption broker.
//
//   keybroker --config FILE                    a deployment's configuration
//   keybroker --listen ADDR --data-dir DIR     the embedded local keyring in DIR
//
// Wires configuration, KMS adapters and the gRPC server, then waits for
// SIGTERM or SIGINT and shuts down gracefully (in-flight calls finish).
// SIGHUP reloads the authorization rules from the configuration file.
#include <sys/prctl.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
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
  bool reflection = false;
  bool insecure_plaintext = false;
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
    config.reflection = flags.reflection;
    config.insecure_plaintext = flags.insecure_plaintext;
    absl::Status valid = keybroker::server::ValidateConfig(config);
    if (!valid.ok()) return valid;
    return config;
  }
  absl::StatusOr<Config> config = keybroker::server::LoadConfigFile(flags.config_file);
  if (!config.ok()) return config;
  // The flags override the file.
  if (!flags.listen.empty()) config->listen = flags.listen;
  if (!flags.metrics_listen.empty()) config->metrics_listen = flags.metrics_listen;
  if (flags.reflection) config->reflection = true;
  if (flags.insecure_plaintext) config->insecure_plaintext = true;
  absl::Status valid = keybroker::server::ValidateConfig(*config);
  if (!valid.ok()) return valid;
  return config;
}

// Blocks SIGTERM, SIGINT and SIGHUP in this thread and so in every thread created
// later (gRPC's included): only the main thread's sigwait sees them.
sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Keys and DEKs live in this process's memory: no core dump may write them
// to disk, and no process of the same user may attach to read them.
void ProtectMemory(bool allow_core_dumps) {
  if (allow_core_dumps) {
    keybroker::log::Warn("core_dumps_allowed",
                         {{"detail", "allow_core_dumps: true; a core dump holds key material"}});
    return;
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    keybroker::log::Warn("not_dumpable_failed", {{"error", std::strerror(errno)}});
  }
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
  app.add_flag("--reflection", flags.reflection,
               "serve gRPC server reflection, for grpcurl (off unless asked for; the file's "
               "reflection: true does the same)");
  app.add_flag("--insecure-plaintext", flags.insecure_plaintext,
               "allow plaintext on an address other hosts can reach (a container's first try, "
               "or a service mesh that provides mutual TLS); the file's insecure_plaintext: "
               "true does the same");
  app.set_version_flag("--version", std::string("keybroker ") + KEYBROKER_VERSION);
  CLI11_PARSE(app, argc, argv);

  absl::StatusOr<keybroker::server::Config> config = ConfigFromFlags(flags);
  if (!config.ok()) return Fail("config_invalid", config.status());
  keybroker::log::Level level = keybroker::log::Level::kInfo;
  keybroker::log::ParseLevel(config->log_level, &level);
  keybroker::log::SetLevel(level);

  ProtectMemory(config->allow_core_dumps);

  absl::StatusOr<std::unique_ptr<keybroker::server::BrokerServer>> server =
      keybroker::server::BrokerServer::Start(*config, KEYBROKER_VERSION);
  if (!server.ok()) return Fail("startup_failed", server.status());

  int signal_number = 0;
  while (sigwait(&signals, &signal_number) == 0 && signal_number == SIGHUP) {
    // Logged by the reloader, success or failure; the broker serves on.
    (*server)->ReloadAuthorization().IgnoreError();
  }
  keybroker::log::Info("shutting_down", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"},
                                         {"grace_seconds", absl::ToInt64Seconds(kShutdownGrace)}});
  (*server)->Shutdown(kShutdownGrace);
  server->reset();
  keybroker::log::Info("stopped");
  keybroker::log::Flush();
  return 0;
}
