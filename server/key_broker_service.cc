#include "server/key_broker_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "common/log.h"
#include "common/monotonic_time.h"
#include "common/status_macros.h"
#include "crypto/wipe.h"
#include "kms_adapters/kms_observer.h"
#include "server/caller_identity.h"
#include "server/error_cause.h"
#include "server/grpc_status.h"

namespace keybroker::server {
namespace {

// What a call shed for a full executor queue is told to wait.
constexpr absl::Duration kBusyRetryDelay = absl::Seconds(1);

// The reactor of every RPC: gRPC's default one, which gRPC finishes inline
// (any other reactor's OnDone runs on gRPC's executor, a thread hand-off per
// call). Key material is wiped by the message allocators instead
// (server/wiping_message_allocator.h).
grpc::ServerUnaryReactor* NewReactor(grpc::CallbackServerContext* context) {
  return context->DefaultReactor();
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

// gRPC's IsCancelled() is also true once the caller's deadline has passed, so
// work given up on it ends CANCELLED either way. A call at its deadline was
// not cancelled: it ran out of the time its caller gave it, and is recorded
// as the caller's DEADLINE_EXCEEDED, not as an untyped error.
absl::Status AttributeCancellation(const grpc::CallbackServerContext& context,
                                   const absl::Status& status, absl::Time now) {
  if (!absl::IsCancelled(status) || !AtCallerDeadline(context.deadline(), now)) return status;
  return CallerDeadlineExceeded("the caller's deadline passed before the call finished");
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

void SetTimestamp(absl::Time time, google::protobuf::Timestamp* out) {
  out->set_seconds(absl::ToUnixSeconds(time));
}

void FillVersion(const KeyVersionStatus& version, v1::KeyVersionInfo* out) {
  out->set_key_version(version.version);
  if (version.created.has_value()) SetTimestamp(*version.created, out->mutable_created());
  out->set_enabled(version.enabled);
  if (version.last_used.has_value()) SetTimestamp(*version.last_used, out->mutable_last_used());
  out->set_listed(version.listed);
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
  ASSIGN_OR_RETURN(std::vector<KeyVersionStatus> versions,
                   core.KeyVersions(request.key(), /*ask_kms=*/status.accessible, options));
  for (const KeyVersionStatus& version : versions) FillVersion(version, response->add_versions());
  return absl::OkStatus();
}

// The EDEK calls are decided on the alias bound to the EDEK's key; a call
// on an EDEK that no alias binds is refused with the same answer as one on
// an alias the caller's rules do not cover, so that nothing can be probed.
std::string DeniedMessage(RpcMethod method, absl::string_view caller, absl::string_view key,
                          bool edek_call) {
  return absl::StrCat("caller '", log::Capped(caller), "' is not authorized to call ",
                      RpcMethodName(method),
                      edek_call ? " on this EDEK's key"
                                : absl::StrCat(" on key '", log::Capped(key), "'"));
}

// Writes `value` as log::Capped(value) gives it, copying only what is cut.
void AppendCapped(log::JsonFields& fields, absl::string_view name, absl::string_view value) {
  constexpr size_t kCap = 256;  // log::Capped's default
  if (value.size() <= kCap) {
    fields.String(name, value);
  } else {
    fields.String(name, log::Capped(value, kCap));
  }
}

// What the message allocators wipe when gRPC releases an RPC's messages:
// the plaintext DEKs of responses, and the caller's key material in a Wrap
// request (gRPC owns request messages but does not wipe them).
void WipeGenerateDek(v1::GenerateDekRequest*, v1::GenerateDekResponse* response) {
  crypto::WipeString(response->mutable_plaintext());
}
void WipeWrap(v1::WrapRequest* request, v1::WrapResponse*) {
  crypto::WipeString(request->mutable_plaintext());
}
void WipeUnwrap(v1::UnwrapRequest*, v1::UnwrapResponse* response) {
  crypto::WipeString(response->mutable_plaintext());
}

// The calls that a remote KMS may be able to do without a remote call (an
// RSA wrap with its cached public key); every other call on a remote KMS
// goes straight to the executor.
bool MayBeLocal(RpcMethod method) {
  return method == RpcMethod::kGenerateDek || method == RpcMethod::kWrap;
}

}  // namespace

KeyBrokerService::KeyBrokerService(const BrokerCore* core, Options options)
    : core_(core), options_(options), generate_dek_messages_(WipeGenerateDek),
      wrap_messages_(WipeWrap), unwrap_messages_(WipeUnwrap) {
  SetMessageAllocatorFor_GenerateDek(&generate_dek_messages_);
  SetMessageAllocatorFor_Wrap(&wrap_messages_);
  SetMessageAllocatorFor_Unwrap(&unwrap_messages_);
}

std::string KeyBrokerService::DecidedKeyOf(absl::string_view key) const {
  if (!KeyRegistry::IsKeyUri(key)) return std::string(key);
  // A URI of a configured key is that key: decided on its alias, as the
  // key's EDEKs are, so that a rule for URIs does not reach it.
  if (const std::string* alias = core_->registry().ConfiguredAliasOfUri(key)) return *alias;
  // Else on its canonical form (lower-cased, no version), as an EDEK under
  // the key is, so that rules' `keys` globs match URIs however a caller
  // writes them.
  return KeyRegistry::KeyUriName(key);
}

absl::Status KeyBrokerService::Admit(const Call& call, CallFacts& facts) const {
  if (call.key.size() > kMaxKeyBytes) {
    return InvalidRequest(absl::StrCat("key must be at most ", kMaxKeyBytes, " bytes, not ",
                                       call.key.size()));
  }
  if (facts.policy == nullptr) return absl::OkStatus();
  const bool edek_call = call.edek != nullptr;
  // A malformed EDEK is refused by the work itself (EDEK_INVALID) before any
  // KMS call; it names no key to decide on and reveals nothing.
  if (edek_call && !facts.edek.decoded) return absl::OkStatus();
  std::string decided_on;
  if (!edek_call) decided_on = DecidedKeyOf(call.key);
  absl::string_view key = edek_call ? absl::string_view(facts.edek.alias) : decided_on;
  AccessRequest request{facts.caller, call.method, key};
  const ContextMap* map = call.context;
  auto lookup = [map](const std::string& name) -> const std::string* {
    if (map == nullptr) return nullptr;
    auto it = map->find(name);
    return it == map->end() ? nullptr : &it->second;
  };
  AccessDecision decision;
  if (!edek_call || !facts.edek.alias.empty()) {
    decision = facts.policy->Decide(request, lookup, MonotonicNow());
  }
  switch (decision.outcome) {
    case AccessDecision::Outcome::kAllow:
      return absl::OkStatus();
    case AccessDecision::Outcome::kRateLimited: {
      absl::Status status = MakeError(
          ErrorReason::kRateLimited,
          absl::StrCat("caller '", log::Capped(facts.caller), "' is over the rate its rule ",
                       "allows; retry later"));
      SetRetryDelay(status, decision.retry_after);
      return status;
    }
    case AccessDecision::Outcome::kDeny:
      break;
  }
  facts.allowed = false;
  if (options_.metrics != nullptr) options_.metrics->AuthorizationDenied(call.method);
  return MakeError(ErrorReason::kCallerNotAuthorized,
                   DeniedMessage(call.method, facts.caller, call.key, edek_call));
}

void KeyBrokerService::Audit(RpcMethod method, const CallFacts& facts, const absl::Status& status,
                             absl::Duration latency) const {
  // One line per RPC: written field by field (common/json_fields.h), the
  // same line log::Fields would give without building a JSON object.
  log::JsonFields fields;
  AppendCapped(fields, "caller", facts.caller);
  fields.String("peer", facts.peer);
  fields.String("method", RpcMethodName(method));
  AppendCapped(fields, "alias",
               facts.edek.alias.empty() ? facts.alias : absl::string_view(facts.edek.alias));
  fields.String("version", facts.version.empty() ? absl::string_view(facts.edek.version)
                                                 : facts.version);
  fields.String("outcome", absl::StatusCodeToString(status.code()));
  fields.String("reason", status.ok() ? absl::string_view() : kms::OutcomeOf(status));
  fields.String("cause", ErrorCauseName(CauseOf(status)));
  fields.Number("latency_ms", absl::ToDoubleMilliseconds(latency));
  if (facts.policy != nullptr) {
    fields.String("decision", facts.allowed ? "allow" : "deny");
    fields.Integer("policy_generation", facts.policy->generation());
  }
  // Our error messages name keys and causes, never key material.
  if (!status.ok()) AppendCapped(fields, "error", status.message());
  log::Info("audit", fields);
}

void KeyBrokerService::Finish(RpcMethod method, grpc::CallbackServerContext& context,
                              grpc::ServerUnaryReactor* reactor, const CallFacts& facts,
                              const absl::Status& status, absl::Time started) const {
  const absl::Time now = absl::Now();
  const absl::Duration latency = now - started;
  const absl::Status attributed = AttributeCancellation(context, status, now);
  if (options_.metrics != nullptr) options_.metrics->RpcFinished(method, attributed, latency);
  if (options_.audit) Audit(method, facts, attributed, latency);
  reactor->Finish(ToGrpcStatus(attributed));
}

template <typename Work>
grpc::ServerUnaryReactor* KeyBrokerService::Run(const Call& call,
                                                grpc::CallbackServerContext* context,
                                                grpc::ServerUnaryReactor* reactor, Work work) {
  const absl::Time started = absl::Now();
  const RpcMethod method = call.method;
  if (options_.metrics != nullptr) options_.metrics->RpcStarted(method);
  CallFacts facts;
  facts.alias = call.key;
  if (options_.authorizer != nullptr) facts.policy = options_.authorizer->Current();
  if (options_.audit || facts.policy != nullptr) {
    facts.peer = context->peer();
    facts.caller = CallerIdentity(context->auth_context().get(), facts.peer);
    if (call.edek != nullptr) facts.edek = core_->KeyOfEdek(*call.edek);
  }
  absl::Status admitted = Admit(call, facts);
  if (!admitted.ok()) {
    Finish(method, *context, reactor, facts, admitted, started);
    return reactor;
  }
  const bool may_block =
      call.edek != nullptr ? core_->MayBlockOnEdek(*call.edek) : core_->MayBlock(call.key);
  kms::CallOptions options = OptionsOf(context);
  if (!may_block || options_.executor == nullptr) {
    absl::Status status = work(&facts, options);
    Finish(method, *context, reactor, facts, status, started);
    return reactor;
  }
  if (MayBeLocal(method)) {
    // A remote KMS may still do this call with what it holds (an RSA wrap
    // with the cached public key): tried here first, as a local_only call
    // (kms.h), since a hand-off to the executor costs two thread switches
    // per call; only what would block goes there.
    options.local_only = true;
    absl::Status status = work(&facts, options);
    if (!kms::IsWouldBlock(status)) {
      Finish(method, *context, reactor, facts, status, started);
      return reactor;
    }
    options.local_only = false;
  }
  std::function<void()> task = [this, method, context, reactor, started, options,
                                facts = std::move(facts), work = std::move(work)]() mutable {
    absl::Status status = work(&facts, options);
    Finish(method, *context, reactor, facts, status, started);
  };
  if (!options_.executor->TrySubmit(task)) {
    // Every thread waits on a slow KMS and the queue is full: shed the call
    // now, with a hint, rather than let it wait past its deadline.
    absl::Status busy = MakeError(ErrorReason::kServerBusy,
                                  "too many calls are waiting for a key management service; "
                                  "retry later");
    SetRetryDelay(busy, kBusyRetryDelay);
    CallFacts refused;
    refused.alias = call.key;
    Finish(method, *context, reactor, refused, busy, started);
  }
  return reactor;
}

grpc::ServerUnaryReactor* KeyBrokerService::GenerateDek(grpc::CallbackServerContext* context,
                                                        const v1::GenerateDekRequest* request,
                                                        v1::GenerateDekResponse* response) {
  return Run({RpcMethod::kGenerateDek, request->key(), nullptr, &request->context()}, context,
             NewReactor(context),
             [this, request, response](CallFacts* facts, const kms::CallOptions& options) {
               absl::Status status = DoGenerateDek(*core_, options, *request, response);
               facts->version = response->key_version();
               return status;
             });
}

grpc::ServerUnaryReactor* KeyBrokerService::Wrap(grpc::CallbackServerContext* context,
                                                 const v1::WrapRequest* request,
                                                 v1::WrapResponse* response) {
  return Run({RpcMethod::kWrap, request->key(), nullptr, &request->context()}, context,
             NewReactor(context),
             [this, request, response](CallFacts* facts, const kms::CallOptions& options) {
               absl::Status status = DoWrap(*core_, options, *request, response);
               facts->version = response->key_version();
               return status;
             });
}

grpc::ServerUnaryReactor* KeyBrokerService::Unwrap(grpc::CallbackServerContext* context,
                                                   const v1::UnwrapRequest* request,
                                                   v1::UnwrapResponse* response) {
  return Run({RpcMethod::kUnwrap, "", &request->edek(), &request->context()}, context,
             NewReactor(context),
             [this, request, response](CallFacts* facts, const kms::CallOptions& options) {
               absl::Status status = DoUnwrap(*core_, options, *request, response);
               facts->version = response->key_version();
               return status;
             });
}

grpc::ServerUnaryReactor* KeyBrokerService::Rotate(grpc::CallbackServerContext* context,
                                                   const v1::RotateRequest* request,
                                                   v1::RotateResponse* response) {
  return Run({RpcMethod::kRotate, request->key()}, context, NewReactor(context),
             [this, request, response](CallFacts* facts,
                                       const kms::CallOptions& options) -> absl::Status {
               ASSIGN_OR_RETURN(std::string version,
                                core_->Rotate(request->key(), options));
               response->set_key_version(std::move(version));
               facts->version = response->key_version();
               return absl::OkStatus();
             });
}

grpc::ServerUnaryReactor* KeyBrokerService::Rewrap(grpc::CallbackServerContext* context,
                                                   const v1::RewrapRequest* request,
                                                   v1::RewrapResponse* response) {
  return Run({RpcMethod::kRewrap, "", &request->edek(), &request->context()}, context,
             NewReactor(context),
             [this, request, response](CallFacts* facts, const kms::CallOptions& options) {
               absl::Status status = DoRewrap(*core_, options, *request, response);
               facts->version = response->key_version();
               return status;
             });
}

grpc::ServerUnaryReactor* KeyBrokerService::DescribeKey(grpc::CallbackServerContext* context,
                                                        const v1::DescribeKeyRequest* request,
                                                        v1::DescribeKeyResponse* response) {
  return Run({RpcMethod::kDescribeKey, request->key()}, context, NewReactor(context),
             [this, request, response](CallFacts* facts, const kms::CallOptions& options) {
               absl::Status status = DoDescribeKey(*core_, options, *request, response);
               facts->version = response->key_version();
               return status;
             });
}

}  // namespace keybroker::server
