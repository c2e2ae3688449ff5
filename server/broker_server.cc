#include "server/broker_server.h"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/log.h"
#include "common/monotonic_time.h"
#include "common/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/server_builder.h"
#include "server/grpc_keepalive.h"
#include "server/registry_factory.h"
#include "server/server_credentials.h"
#include "server/startup_checks.h"

namespace keybroker::server {
namespace {

// The least number of threads for calls waiting on a remote KMS.
constexpr int kBlockingThreads = 64;
constexpr absl::Duration kKeyCheckTimeout = absl::Seconds(5);
// How often the configuration file is checked for new authorization rules.
constexpr absl::Duration kPolicyPollInterval = absl::Seconds(2);

// The address with the port gRPC picked, for a configured port of 0.
std::string BoundAddress(const std::string& configured, int port) {
  if (absl::StartsWith(configured, "unix:")) return configured;
  return absl::StrCat(configured.substr(0, configured.rfind(':')), ":", port);
}

// Sets keybroker_keys_configured: the local keyring's keys are
// service-managed, the others customer-managed (BYOK).
void CountKeys(const KeyRegistry& registry, BrokerMetrics& metrics) {
  int customer = 0, service = 0;
  for (const BoundKey& key : registry.bindings()) {
    (key.kms->kind() == crypto::EdekKms::kLocal ? service : customer) += 1;
  }
  metrics.SetKeysConfigured(customer, service);
}

// How many keys named at run time the key version inventory keeps: as many
// as the Azure KMS does, none without key sources.
size_t RuntimeKeyBound(const Config& config) {
  if (!config.azure.has_value() || config.azure->key_sources.empty()) return 0;
  return static_cast<size_t>(config.azure->max_runtime_keys);
}

// Says at start what the configuration exposes, so that an operator reading
// the log knows what was asked for.
void WarnAboutExposure(const Config& config) {
  if (!config.authorization.has_value()) {
    log::Warn("authorization_disabled",
              {{"detail", "no authorization section: every caller that reaches the broker may "
                          "use every key; add authorization.rules to deny by default"}});
  }
  if (!config.tls.has_value() && !IsLocalListenAddress(config.listen)) {
    log::Warn("insecure_plaintext",
              {{"listen", config.listen},
               {"detail", "serving plaintext to the network (insecure_plaintext: true): DEKs "
                          "cross it unencrypted unless a service mesh wraps them in mutual TLS"}});
  }
  if (config.tls.has_value() && config.tls->client_ca_file.empty() &&
      config.authorization.has_value()) {
    log::Warn("tls_without_client_certificates",
              {{"detail", "tls has no client_ca_file: every TCP caller is 'anonymous' to the "
                          "authorization rules"}});
  }
}

// Removes gRPC's reflection plugin from a ServerBuilder. Linking the
// reflection library registers the plugin for every server at static
// initialization, so serving without reflection means taking it out.
class WithoutReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [](const std::unique_ptr<grpc::ServerBuilderPlugin>& plugin) {
                                    return plugin->name() == "proto_server_reflection";
                                  }),
                   plugins->end());
  }
};

// A unix socket is created 0660 (and given `group`, if configured): only the
// broker's user and that group may connect.
absl::Status RestrictUnixSocket(const std::string& listen, const std::string& group) {
  const std::string path = listen.substr(5);
  if (!group.empty()) {
    struct group* entry = getgrnam(group.c_str());
    if (entry == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unix_socket_group '", group, "' is not a group on this host"));
    }
    if (chown(path.c_str(), static_cast<uid_t>(-1), entry->gr_gid) != 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot give ", path, " to group '", group, "': ", strerror(errno)));
    }
  }
  if (chmod(path.c_str(), 0660) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot make ", path, " mode 0660: ", strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status BrokerServer::ReloadAuthorization() {
  if (policy_reloader_ == nullptr) {
    return absl::FailedPreconditionError("no configuration file to reload");
  }
  return policy_reloader_->ReloadNow("signal");
}

absl::StatusOr<std::unique_ptr<BrokerServer>> BrokerServer::Start(const Config& config,
                                                                  absl::string_view version) {
  std::unique_ptr<BrokerServer> server(new BrokerServer());
  server->metrics_ = std::make_unique<BrokerMetrics>(version);
  server->key_health_ = std::make_unique<KeyHealth>(server->metrics_.get());
  // Hears of keys named at run time from the KMS, so it is made first.
  server->inventory_ = std::make_unique<KeyVersionInventory>(RuntimeKeyBound(config));
  server->observers_ = std::make_unique<kms::KmsObserverList>(std::vector<kms::KmsObserver*>{
      server->metrics_.get(), server->key_health_.get(), server->inventory_.get()});
  ASSIGN_OR_RETURN(server->registry_, BuildKeyRegistry(config, server->observers_.get()));
  server->key_health_->Track(*server->registry_);
  CountKeys(*server->registry_, *server->metrics_);
  server->inventory_->Track(*server->registry_);
  server->inventory_gauge_ = std::make_unique<KeyVersionGauge>(server->inventory_.get());
  server->metrics_->AddCollectable(server->inventory_gauge_.get());
  server->unwrap_cache_ =
      std::make_unique<UnwrapCache>(static_cast<size_t>(config.cache.unwrap_max_entries),
                                    absl::Seconds(config.cache.unwrap_ttl_seconds));
  // A key found inaccessible loses its cached unwraps at once: the
  // revocation bound is the access probe's interval, not the unwrap TTL.
  UnwrapCache* unwrap_cache = server->unwrap_cache_.get();
  server->unwrap_cache_listener_ =
      server->key_health_
          ->Listen([unwrap_cache](const KeyState& key) {
            if (key.inaccessible.has_value()) unwrap_cache->DropKey(key.key_id, MonotonicNow());
          })
          .id;
  server->watches_ = std::make_unique<KeyWatchHub>(server->key_health_.get());
  if (config.edek_authentication.has_value()) {
    ASSIGN_OR_RETURN(kms::Kms * local, server->registry_->KmsFor(crypto::EdekKms::kLocal));
    server->edek_authenticator_ = std::make_unique<EdekAuthenticator>(
        static_cast<kms::LocalKms*>(local), config.edek_authentication->local_key,
        config.edek_authentication->accept_unauthenticated);
  }
  server->core_ = std::make_unique<BrokerCore>(server->registry_.get(), server->unwrap_cache_.get(),
                                               server->observers_.get(),
                                               server->edek_authenticator_.get(),
                                               server->inventory_.get());
  // More threads than one vault may use at once, so that a slow vault cannot
  // take them all (it also sheds load after a short wait for a slot).
  int per_vault = config.azure.has_value()
                      ? static_cast<int>(config.azure->max_concurrent_requests_per_vault)
                      : 0;
  server->executor_ = std::make_unique<BlockingExecutor>(
      std::max(kBlockingThreads, 2 * per_vault + 16),
      static_cast<size_t>(config.max_pending_kms_calls));
  ASSIGN_OR_RETURN(server->authorizer_, Authorizer::Create(config.authorization));
  if (!config.source_file.empty()) {
    server->policy_reloader_ = std::make_unique<PolicyReloader>(
        config.source_file, server->authorizer_.get(), kPolicyPollInterval);
  }
  server->service_ = std::make_unique<KeyBrokerService>(
      server->core_.get(),
      KeyBrokerService::Options{
          .executor = server->executor_.get(),
          .metrics = server->metrics_.get(),
          .authorizer = server->authorizer_.get(),
          .audit = config.audit_log,
          .watches = server->watches_.get(),
          .max_watch_streams = static_cast<size_t>(config.max_watch_streams),
      });
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   MakeServerCredentials(config));

  grpc::EnableDefaultHealthCheckService(true);
  // Reflection tells anyone who connects every service and message: useful
  // for grpcurl in development, asked for by name in production.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (!config.reflection) builder.SetOption(std::make_unique<WithoutReflection>());
  int port = 0;
  builder.AddListeningPort(config.listen, credentials, &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_request_bytes));
  // Keepalive for WatchKeys streams: the SDK's pings accepted, dead watchers
  // dropped (grpc_keepalive.h).
  SetKeepalive(builder);
  builder.RegisterService(server->service_.get());
  const bool unix_socket = absl::StartsWith(config.listen, "unix:");
  // No window in which the socket is open to all: created without group or
  // other permissions, then opened to the group.
  mode_t umask_before = unix_socket ? umask(0177) : 0;
  server->server_ = builder.BuildAndStart();
  if (unix_socket) umask(umask_before);
  if (server->server_ == nullptr || (port == 0 && !unix_socket)) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen, " (address in use or not local?)"));
  }
  if (unix_socket) RETURN_IF_ERROR(RestrictUnixSocket(config.listen, config.unix_socket_group));
  server->address_ = BoundAddress(config.listen, port);
  server->server_->GetHealthCheckService()->SetServingStatus(true);
  server->serving_ = true;
  if (!config.metrics_listen.empty()) {
    BrokerServer* self = server.get();
    ASSIGN_OR_RETURN(server->http_,
                     HttpEndpoints::Start(config.metrics_listen,
                                          {[self] { return self->metrics_->Scrape(); },
                                           [self] { return self->Ready(); }}));
    log::Info("metrics_listening", {{"address", server->http_->address()},
                                    {"paths", {"/metrics", "/healthz", "/readyz"}}});
  }
  KeyProber::Options probe;
  probe.interval = absl::Seconds(config.cache.access_probe_seconds);
  probe.idle = absl::Seconds(config.cache.access_probe_idle_seconds);
  if (config.azure.has_value()) {
    probe.request_timeout = absl::Seconds(config.azure->request_timeout_seconds);
  }
  server->prober_ = std::make_unique<KeyProber>(server->registry_.get(), probe);
  BrokerServer* self = server.get();
  server->key_checks_ = std::thread([self] {
    CheckConfiguredKeys(*self->registry_, *self->core_, kKeyCheckTimeout, self->stopping_);
  });
  WarnAboutExposure(config);
  log::Info("listening", {{"address", server->address_},
                          {"tls", config.tls.has_value()},
                          {"tls_min_version", config.tls ? config.tls->min_version : ""},
                          {"authorization", config.authorization.has_value()},
                          {"reflection", config.reflection},
                          {"mutual_tls", config.tls.has_value() &&
                                             !config.tls->client_ca_file.empty()},
                          {"keys", server->registry_->aliases()}});
  return server;
}

absl::Status BrokerServer::Ready() const {
  if (stopping_) return absl::UnavailableError("shutting down");
  if (!serving_) return absl::UnavailableError("starting");
  for (const BoundKey& key : registry_->bindings()) {
    if (key.kms->calls_remote_service()) continue;  // customers' keys: never a readiness matter
    absl::StatusOr<kms::KeyDescription> description = key.kms->Describe(key.key_id, {});
    if (!description.ok()) {
      return absl::UnavailableError(absl::StrCat("service-managed key '", key.alias,
                                                 "' is not usable: ",
                                                 description.status().message()));
    }
  }
  return absl::OkStatus();
}

BrokerServer::~BrokerServer() {
  http_.reset();
  prober_.reset();
  stopping_ = true;
  if (key_checks_.joinable()) key_checks_.join();
  if (key_health_ != nullptr) key_health_->Unlisten(unwrap_cache_listener_);
}

void BrokerServer::Shutdown(absl::Duration grace) {
  stopping_ = true;  // /readyz answers 503 from now on
  prober_.reset();
  if (key_checks_.joinable()) key_checks_.join();
  if (server_ == nullptr) return;
  server_->GetHealthCheckService()->SetServingStatus(false);
  // Watch streams never end by themselves: ended now, or the shutdown would
  // wait its whole grace period for them.
  if (watches_ != nullptr) watches_->Close();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  server_.reset();
}

}  // namespace keybroker::server
