#include "server/broker_server.h"

#include <openssl/crypto.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "crypto/secret_file.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "server/registry_factory.h"
#include "server/startup_checks.h"

namespace keybroker::server {
namespace {

// The least number of threads for calls waiting on a remote KMS.
constexpr int kBlockingThreads = 64;
constexpr absl::Duration kKeyCheckTimeout = absl::Seconds(5);

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view field) {
  absl::StatusOr<crypto::SecretBytes> pem = crypto::ReadSecretFile(path, 1 << 20);
  if (!pem.ok()) return Annotate(pem.status(), absl::StrCat("tls.", field));
  return std::string(pem->RevealAsStringView());
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const Config& config) {
  if (!config.tls.has_value()) return grpc::InsecureServerCredentials();
  const TlsConfig& tls = *config.tls;
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadPem(tls.cert_file, "cert_file"));
  ASSIGN_OR_RETURN(pair.private_key, ReadPem(tls.key_file, "key_file"));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!tls.client_ca_file.empty()) {
    ASSIGN_OR_RETURN(options.pem_root_certs, ReadPem(tls.client_ca_file, "client_ca_file"));
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::SslServerCredentials(options);
  // gRPC keeps its own copy; wipe ours.
  for (auto& key_pair : options.pem_key_cert_pairs) {
    OPENSSL_cleanse(key_pair.private_key.data(), key_pair.private_key.size());
  }
  return credentials;
}

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

}  // namespace

absl::StatusOr<std::unique_ptr<BrokerServer>> BrokerServer::Start(const Config& config,
                                                                  absl::string_view version) {
  std::unique_ptr<BrokerServer> server(new BrokerServer());
  server->metrics_ = std::make_unique<BrokerMetrics>(version);
  server->key_health_ = std::make_unique<KeyHealth>(server->metrics_.get());
  server->observers_ = std::make_unique<kms::KmsObserverList>(
      std::vector<kms::KmsObserver*>{server->metrics_.get(), server->key_health_.get()});
  ASSIGN_OR_RETURN(server->registry_, BuildKeyRegistry(config, server->observers_.get()));
  server->key_health_->Track(*server->registry_);
  CountKeys(*server->registry_, *server->metrics_);
  server->unwrap_cache_ =
      std::make_unique<UnwrapCache>(static_cast<size_t>(config.cache.unwrap_max_entries),
                                    absl::Seconds(config.cache.unwrap_ttl_seconds));
  server->core_ = std::make_unique<BrokerCore>(server->registry_.get(), server->unwrap_cache_.get(),
                                               server->observers_.get());
  // More threads than one vault may use at once, so that a slow vault cannot
  // take them all (it also sheds load after a short wait for a slot).
  int per_vault = config.azure.has_value()
                      ? static_cast<int>(config.azure->max_concurrent_requests_per_vault)
                      : 0;
  server->executor_ = std::make_unique<BlockingExecutor>(std::max(kBlockingThreads, 2 * per_vault + 16));
  server->service_ = std::make_unique<KeyBrokerService>(
      server->core_.get(), KeyBrokerService::Options{server->executor_.get(),
                                                     server->metrics_.get(), config.audit_log});
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials, Credentials(config));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen, credentials, &port);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || (port == 0 && !absl::StartsWith(config.listen, "unix:"))) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen, " (address in use or not local?)"));
  }
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
  BrokerServer* self = server.get();
  server->key_checks_ = std::thread([self] {
    CheckConfiguredKeys(*self->registry_, *self->core_, kKeyCheckTimeout, self->stopping_);
  });
  log::Info("listening", {{"address", server->address_},
                          {"tls", config.tls.has_value()},
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
  stopping_ = true;
  if (key_checks_.joinable()) key_checks_.join();
}

void BrokerServer::Shutdown(absl::Duration grace) {
  stopping_ = true;  // /readyz answers 503 from now on
  if (key_checks_.joinable()) key_checks_.join();
  if (server_ == nullptr) return;
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  server_.reset();
}

}  // namespace keybroker::server
