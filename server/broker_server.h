// BrokerServer: a running keybroker gRPC server built from a Config: the
// KeyBroker service, the standard health service (grpc.health.v1) and, when
// configured, server reflection, on a TCP or unix-socket address, with TLS
// when configured, the authorization policy in force.
#ifndef KEYBROKER_SERVER_BROKER_SERVER_H_
#define KEYBROKER_SERVER_BROKER_SERVER_H_

#include <memory>
#include <string>
#include <atomic>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "server/authorizer.h"
#include "server/blocking_executor.h"
#include "server/broker_core.h"
#include "server/config.h"
#include "server/http_endpoints.h"
#include "server/key_health.h"
#include "server/key_prober.h"
#include "server/key_watch.h"
#include "server/metrics.h"
#include "server/policy_reloader.h"
#include "server/key_broker_service.h"
#include "server/key_registry.h"
#include "server/key_version_gauge.h"
#include "server/key_version_inventory.h"
#include "server/unwrap_cache.h"

namespace keybroker::server {

class BrokerServer {
 public:
  // Opens the KMSs, binds the address and starts serving. Fails with a
  // message naming the cause (configuration, keyring, address in use...).
  // `version` is reported in keybroker_build_info.
  static absl::StatusOr<std::unique_ptr<BrokerServer>> Start(const Config& config,
                                                             absl::string_view version = "dev");

  // The address actually bound (with the chosen port when the configured one
  // was 0).
  const std::string& address() const { return address_; }
  // The metrics/health HTTP address bound, "" when metrics_listen is unset.
  std::string metrics_address() const { return http_ ? http_->address() : ""; }

  // Re-reads the configuration file's authorization rules (SIGHUP). The
  // error when they were refused (the old ones stay), or when the broker was
  // not started from a file.
  absl::Status ReloadAuthorization();

  // OK when the broker should get traffic: serving, not shutting down, and
  // its own keys (the service-managed keyring) usable. A customer's
  // inaccessible key never makes it unready.
  absl::Status Ready() const;

  ~BrokerServer();

  // Stops accepting calls, lets in-flight calls finish for up to `grace`,
  // then cancels the rest. Returns when the server has stopped.
  void Shutdown(absl::Duration grace);

 private:
  BrokerServer() = default;

  // Declared in dependency order: each outlives what is declared after it.
  std::unique_ptr<BrokerMetrics> metrics_;
  std::unique_ptr<KeyHealth> key_health_;
  std::unique_ptr<KeyVersionInventory> inventory_;  // a KMS observer, so before the registry
  std::unique_ptr<kms::KmsObserverList> observers_;
  std::unique_ptr<KeyRegistry> registry_;
  std::unique_ptr<KeyVersionGauge> inventory_gauge_;
  std::unique_ptr<UnwrapCache> unwrap_cache_;
  uint64_t unwrap_cache_listener_ = 0;  // KeyHealth listener: drops a revoked key's unwraps
  std::unique_ptr<KeyWatchHub> watches_;
  std::unique_ptr<EdekAuthenticator> edek_authenticator_;
  std::unique_ptr<BrokerCore> core_;
  std::unique_ptr<BlockingExecutor> executor_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<PolicyReloader> policy_reloader_;
  std::unique_ptr<KeyBrokerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::atomic<bool> serving_{false};
  std::atomic<bool> stopping_{false};
  std::unique_ptr<HttpEndpoints> http_;  // stopped first: its handlers read the above
  std::unique_ptr<KeyProber> prober_;    // stopped at Shutdown (or first, when destroyed)
  std::thread key_checks_;  // startup_checks.h, joined at Shutdown
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_BROKER_SERVER_H_
