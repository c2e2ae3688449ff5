// KeyBrokerService::WatchKeys: which keys a stream may watch; the stream
// itself is server/key_watch.h.
#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/log.h"
#include "common/monotonic_time.h"
#include "common/status_macros.h"
#include "server/caller_identity.h"
#include "server/grpc_status.h"
#include "server/key_broker_service.h"

namespace keybroker::server {

absl::StatusOr<std::vector<WatchedKey>> KeyBrokerService::WatchedKeys(
    grpc::CallbackServerContext& context, const v1::WatchKeysRequest& request) const {
  if (static_cast<size_t>(request.keys_size()) > kMaxWatchedKeys) {
    return InvalidRequest(absl::StrCat("WatchKeys names ", request.keys_size(),
                                       " keys; at most ", kMaxWatchedKeys));
  }
  const KeyRegistry& registry = core_->registry();
  std::vector<std::string> aliases(request.keys().begin(), request.keys().end());
  const bool every_key = aliases.empty();
  if (every_key) aliases = registry.aliases();
  std::shared_ptr<const AuthorizationPolicy> policy =
      options_.authorizer != nullptr ? options_.authorizer->Current() : nullptr;
  std::string caller;
  if (policy != nullptr) caller = CallerIdentity(context.auth_context().get(), context.peer());
  auto no_context = [](const std::string&) -> const std::string* { return nullptr; };
  std::vector<WatchedKey> keys;
  for (const std::string& alias : aliases) {
    if (alias.size() > kMaxKeyBytes) {
      return InvalidRequest(absl::StrCat("key must be at most ", kMaxKeyBytes, " bytes"));
    }
    if (policy != nullptr) {
      // A key URI is decided on its canonical form, as Admit does.
      const std::string decided =
          KeyRegistry::IsKeyUri(alias) ? KeyRegistry::KeyUriName(alias) : alias;
      AccessDecision decision = policy->Decide(
          AccessRequest{caller, RpcMethod::kDescribeKey, decided}, no_context, MonotonicNow());
      if (decision.outcome != AccessDecision::Outcome::kAllow) {
        if (every_key) continue;  // watching all: the keys the caller may describe
        if (options_.metrics != nullptr) {
          options_.metrics->AuthorizationDenied(RpcMethod::kDescribeKey);
        }
        return MakeError(ErrorReason::kCallerNotAuthorized,
                         absl::StrCat("caller '", log::Capped(caller),
                                      "' is not authorized to watch key '", log::Capped(alias),
                                      "' (WatchKeys is authorized as DescribeKey)"));
      }
    }
    // An alias, or a key URI a key source covers (added as a runtime key).
    ASSIGN_OR_RETURN(const BoundKey bound, registry.Resolve(alias));
    WatchedKey key;
    key.alias = alias;
    key.key_id = bound.key_id;
    ASSIGN_OR_RETURN(key.edek_key_name, bound.kms->EdekKeyNameOf(bound.key_id));
    key.customer_managed = bound.kms->kind() != crypto::EdekKms::kLocal;
    keys.push_back(std::move(key));
  }
  return keys;
}

grpc::ServerWriteReactor<v1::KeyEvent>* KeyBrokerService::WatchKeys(
    grpc::CallbackServerContext* context, const v1::WatchKeysRequest* request) {
  absl::StatusOr<std::vector<WatchedKey>> keys;
  if (options_.watches == nullptr) {
    keys = absl::UnimplementedError("this broker does not serve WatchKeys");
  } else {
    keys = WatchedKeys(*context, *request);
  }
  if (!keys.ok()) {
    // A stream that fails at once: a reactor that only finishes.
    class Refused final : public grpc::ServerWriteReactor<v1::KeyEvent> {
     public:
      explicit Refused(const grpc::Status& status) { Finish(status); }
      void OnDone() override { delete this; }
    };
    return new Refused(ToGrpcStatus(keys.status()));
  }
  return options_.watches->Open(*std::move(keys));
}

}  // namespace keybroker::server
