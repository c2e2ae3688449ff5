#include "server/key_broker_service.h"

#include <openssl/crypto.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "kms_adapters/kms_observer.h"
#include "server/error_cause.h"
#include "server/grpc_status.h"

namespace keybroker::server {
namespace {

// Finishes a unary RPC and, once gRPC is done with the messages, wipes the
// strings that held key material.
class WipingReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit WipingReactor(std::string* secret) : secret_(secret) {}
  void OnDone() override {
    if (secret_ != nullptr && !secret_->empty()) OPENSSL_cleanse(secret_->data(), secret_->size());
    delete this;
  }
  void OnCancel() override {}

 private:
  std::string* secret_;
};

// A reactor for `context`'s RPC that wipes `secret` when done, if given.
grpc::ServerUnaryReactor* NewReactor(grpc::CallbackServerContext* context,
                                     std::string* secret = nullptr) {
  return secret != nullptr ? new WipingReactor(secret) : context->DefaultReactor();
}

kms::CallOptions OptionsOf(const grpc::CallbackServerContext* context) {
  kms::CallOptions options;
  auto deadline = context->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    options.deadline = absl::FromChrono(deadline);
  }
  // Safe to call at any time in the callback API; the context outlives the
  // work, which finishes before the reactor does.
  options.cancelled = [context] { return context->IsCancelled(); };
  return options;
}

// gRPC owns request messages but does not wipe them; the caller's key
// material in a Wrap request is wiped with the response.
std::string* MutableRequestBytes(const std::string& field) {
  return const_cast<std::string*>(&field);
}

absl::Status DoGenerateDek(const BrokerCore& core, const kms::CallOptions& options,
                           const v1::GenerateDekRequest& request,
                           v1::GenerateDekResponse* response) {
  ASSIGN_OR_RETURN(auto context, crypto::EncryptionContext::FromMap(request.context()));
  ASSIGN_OR_RETURN(GeneratedDek dek, core.GenerateDek(request.key(), context, options));
  response->set_plaintext(dek.plaintext.RevealAsStringView().data(), dek.plaintext.size());
  response->set_edek(std::move(dek.edek));
  response->set_key_version(std::move(dek.key_version));
  return absl::OkStatus();
}

absl::Status DoWrap(const BrokerCore& core, const kms::CallOptions& options,
                    const v1::WrapRequest& request, v1::WrapResponse* response) {
  ASSIGN_OR_RETURN(auto context, crypto::EncryptionContext::FromMap(request.context()));
  crypto::SecretBytes plaintext = crypto::SecretBytes::CopyFrom(request.plaintext());
  ASSIGN_OR_RETURN(kms::WrappedKey wrapped, core.Wrap(request.key(), plaintext, context, options));
  response->set_edek(std::move(wrapped.edek));
  response->set_key_version(std::move(wrapped.key_version));
  return absl::OkStatus();
}

absl::Status DoUnwrap(const BrokerCore& core, const kms::CallOptions& options,
                      const v1::UnwrapRequest& request, v1::UnwrapResponse* response) {
  ASSIGN_OR_RETURN(auto context, crypto::EncryptionContext::FromMap(request.context()));
  ASSIGN_OR_RETURN(UnwrappedDek dek, core.Unwrap(request.edek(), context, options));
  response->set_plaintext(dek.plaintext.RevealAsStringView().data(), dek.plaintext.size());
  response->set_key_version(std::move(dek.key_version));
  return absl::OkStatus();
}

absl::Status DoRewrap(const BrokerCore& core, const kms::CallOptions& options,
                      const v1::RewrapRequest& request, v1::RewrapResponse* response) {
  ASSIGN_OR_RETURN(auto context, crypto::EncryptionContext::FromMap(request.context()));
  ASSIGN_OR_RETURN(kms::WrappedKey wrapped, core.Rewrap(request.edek(), context, options));
  response->set_edek(std::move(wrapped.edek));
  response->set_key_version(std::move(wrapped.key_version));
  return absl::OkStatus();
}

absl::Status DoDescribeKey(const BrokerCore& core, const kms::CallOptions& options,
                           const v1::DescribeKeyRequest& request,
                           v1::DescribeKeyResponse* response) {
  ASSIGN_OR_RETURN(KeyStatus status, core.DescribeKey(request.key(), options));
  response->set_key(request.key());
  response->set_accessible(status.accessible);
  response->set_key_version(status.description.key_version);
  response->set_algorithm(status.description.algorithm);
  response->set_quantum_resistant(status.description.quantum_resistant);
  response->set_customer_managed(status.description.customer_managed);
  response->set_kms(status.description.kms);
  response->set_reason(status.reason);
  return absl::OkStatus();
}

std::string CallerOf(const grpc::CallbackServerContext& context) {
  // With mutual TLS, the client certificate's identity (SAN or CN);
  // otherwise the peer's address.
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    std::vector<grpc::string_ref> identity = auth->GetPeerIdentity();
    if (!identity.empty()) return std::string(identity.front().data(), identity.front().size());
  }
  return context.peer();
}

}  // namespace

void KeyBrokerService::Audit(RpcMethod method, const grpc::CallbackServerContext& context,
                             const CallFacts& facts, const absl::Status& status,
                             absl::Duration latency) const {
  log::Fields fields = {
      {"caller", CallerOf(context)},
      {"method", RpcMethodName(method)},
      {"alias", facts.edek.alias.empty() ? std::string(facts.alias) : facts.edek.alias},
      {"version", facts.version.empty() ? facts.edek.version : std::string(facts.version)},
      {"outcome", absl::StatusCodeToString(status.code())},
      {"reason", status.ok() ? "" : std::string(kms::OutcomeOf(status))},
      {"cause", ErrorCauseName(CauseOf(status))},
      {"latency_ms", absl::ToDoubleMilliseconds(latency)}};
  // Our error messages name keys and causes, never key material.
  if (!status.ok()) fields["error"] = std::string(status.message());
  log::Info("audit", std::move(fields));
}

template <typename Work>
grpc::ServerUnaryReactor* KeyBrokerService::Run(RpcMethod method,
                                                grpc::CallbackServerContext* context,
                                                grpc::ServerUnaryReactor* reactor, bool may_block,
                                                Work work) {
  const absl::Time started = absl::Now();
  if (options_.metrics != nullptr) options_.metrics->RpcStarted(method);
  auto finish = [this, method, context, reactor, started, work = std::move(work)]() {
    CallFacts facts;
    absl::Status status = work(&facts);
    const absl::Duration latency = absl::Now() - started;
    if (options_.metrics != nullptr) options_.metrics->RpcFinished(method, status, latency);
    if (options_.audit) Audit(method, *context, facts, status, latency);
    reactor->Finish(ToGrpcStatus(status));
  };
  if (may_block && options_.executor != nullptr) {
    options_.executor->Submit(std::move(finish));
  } else {
    finish();
  }
  return reactor;
}

grpc::ServerUnaryReactor* KeyBrokerService::GenerateDek(grpc::CallbackServerContext* context,
                                                        const v1::GenerateDekRequest* request,
                                                        v1::GenerateDekResponse* response) {
  return Run(RpcMethod::kGenerateDek, context, NewReactor(context, response->mutable_plaintext()),
             core_->MayBlock(request->key()), [this, context, request, response](CallFacts* facts) {
               facts->alias = request->key();
               absl::Status status = DoGenerateDek(*core_, OptionsOf(context), *request, response);
               facts->version = response->key_version();
               return status;
             });
}

grpc::ServerUnaryReactor* KeyBrokerService::Wrap(grpc::CallbackServerContext* context,
                                                 const v1::WrapRequest* request,
                                                 v1::WrapResponse* response) {
  return Run(RpcMethod::kWrap, context, NewReactor(context, MutableRequestBytes(request->plaintext())),
             core_->MayBlock(request->key()), [this, context, request, response](CallFacts* facts) {
               facts->alias = request->key();
               absl::Status status = DoWrap(*core_, OptionsOf(context), *request, response);
               facts->version = response->key_version();
               return status;
             });
}

grpc::ServerUnaryReactor* KeyBrokerService::Unwrap(grpc::CallbackServerContext* context,
                                                   const v1::UnwrapRequest* request,
                                                   v1::UnwrapResponse* response) {
  return Run(RpcMethod::kUnwrap, context, NewReactor(context, response->mutable_plaintext()),
             core_->MayBlockOnEdek(request->edek()),
             [this, context, request, response](CallFacts* facts) {
               absl::Status status = DoUnwrap(*core_, OptionsOf(context), *request, response);
               if (options_.audit) facts->edek = core_->KeyOfEdek(request->edek());
               facts->version = response->key_version();
               return status;
             });
}

grpc::ServerUnaryReactor* KeyBrokerService::Rotate(grpc::CallbackServerContext* context,
                                                   const v1::RotateRequest* request,
                                                   v1::RotateResponse* response) {
  return Run(RpcMethod::kRotate, context, NewReactor(context), core_->MayBlock(request->key()),
             [this, context, request, response](CallFacts* facts) -> absl::Status {
               facts->alias = request->key();
               ASSIGN_OR_RETURN(std::string version,
                                core_->Rotate(request->key(), OptionsOf(context)));
               response->set_key_version(std::move(version));
               facts->version = response->key_version();
               return absl::OkStatus();
             });
}

grpc::ServerUnaryReactor* KeyBrokerService::Rewrap(grpc::CallbackServerContext* context,
                                                   const v1::RewrapRequest* request,
                                                   v1::RewrapResponse* response) {
  return Run(RpcMethod::kRewrap, context, NewReactor(context),
             core_->MayBlockOnEdek(request->edek()),
             [this, context, request, response](CallFacts* facts) {
               absl::Status status = DoRewrap(*core_, OptionsOf(context), *request, response);
               if (options_.audit) facts->edek = core_->KeyOfEdek(request->edek());
               facts->version = response->key_version();
               return status;
             });
}

grpc::ServerUnaryReactor* KeyBrokerService::DescribeKey(grpc::CallbackServerContext* context,
                                                        const v1::DescribeKeyRequest* request,
                                                        v1::DescribeKeyResponse* response) {
  return Run(RpcMethod::kDescribeKey, context, NewReactor(context),
             core_->MayBlock(request->key()), [this, context, request, response](CallFacts* facts) {
               facts->alias = request->key();
               absl::Status status = DoDescribeKey(*core_, OptionsOf(context), *request, response);
               facts->version = response->key_version();
               return status;
             });
}

}  // namespace keybroker::server
