// KeyBrokerService::WatchKeys: which keys a stream may watch, and its audit
// lines and metrics; the stream itself is server/key_watch.h.
#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/error_reason.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "server/caller_identity.h"
#include "server/error_cause.h"
#include "server/grpc_status.h"
#include "server/key_broker_service.h"

namespace keybroker::server {
namespace {

// An audit line names at most this many of the keys watched (key_count says
// how many there are); each is cut as log::Capped cuts it.
constexpr size_t kAuditedKeys = 32;

absl::Status ToAbslStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// What a stream's end is audited and counted as: what its client was told,
// and a deadline as the other RPCs record theirs (AttributeCancellation), the
// caller's DEADLINE_EXCEEDED with its reason.
absl::Status StatusOfEnd(const WatchSummary& ended) {
  if (ended.end == WatchEnd::kDeadlineExceeded) {
    return CallerDeadlineExceeded(ended.status.error_message());
  }
  return ToAbslStatus(ended.status);
}

// Who caused a stream's end. Not CauseOf(status): no end of a watch is the
// service's fault, and none but a shutdown's has a code CauseOf gives the
// client. A client that cancels, goes away, runs out of its deadline or reads
// too slowly ended it; a broker shutting down ends every stream (the client
// reconnects, to another replica), which is a failure of nobody's.
ErrorCause CauseOfEnd(WatchEnd end) {
  switch (end) {
    case WatchEnd::kCancelled:
    case WatchEnd::kDeadlineExceeded:
    case WatchEnd::kSlowClient:
      return ErrorCause::kClient;
    case WatchEnd::kShutdown:
      return ErrorCause::kNone;
  }
  return ErrorCause::kClient;
}

// How long a client refused for want of room is asked to wait: streams end
// when their clients go (a pod replaced, an Encryptor destroyed), not soon.
constexpr absl::Duration kWatchRetryDelay = absl::Seconds(30);

absl::Status WatchStreamsFull(size_t limit) {
  absl::Status status = MakeError(
      ErrorReason::kServerBusy,
      absl::StrCat("this broker already has ", limit,
                   " WatchKeys streams open (max_watch_streams); revocation reaches this "
                   "client through its DEK and cache TTLs until it watches again"));
  SetRetryDelay(status, kWatchRetryDelay);
  return status;
}

}  // namespace

absl::StatusOr<std::vector<WatchedKey>> KeyBrokerService::WatchedKeys(
    const v1::WatchKeysRequest& request, WatchFacts& facts) const {
  facts.keys.assign(request.keys().begin(), request.keys().end());
  facts.every_key = facts.keys.empty();
  if (static_cast<size_t>(request.keys_size()) > kMaxWatchedKeys) {
    return InvalidRequest(absl::StrCat("WatchKeys names ", request.keys_size(),
                                       " keys; at most ", kMaxWatchedKeys));
  }
  const KeyRegistry& registry = core_->registry();
  const std::vector<std::string> aliases = facts.every_key ? registry.aliases() : facts.keys;
  const AuthorizationPolicy* policy = facts.policy.get();
  auto no_context = [](const std::string&) -> const std::string* { return nullptr; };
  std::vector<WatchedKey> keys;
  absl::flat_hash_set<absl::string_view> named;
  for (const std::string& alias : aliases) {
    if (alias.size() > kMaxKeyBytes) {
      return InvalidRequest(absl::StrCat("key must be at most ", kMaxKeyBytes, " bytes"));
    }
    // A key named twice is watched once: its events would be the same.
    if (!named.insert(alias).second) continue;
    if (policy != nullptr) {
      const std::string decided = DecidedKeyOf(alias);  // as Admit decides it
      if (!policy->Allows(AccessRequest{facts.caller, RpcMethod::kDescribeKey, decided},
                          no_context)) {
        if (facts.every_key) continue;  // watching all: the keys the caller may describe
        facts.allowed = false;
        if (options_.metrics != nullptr) {
          options_.metrics->AuthorizationDenied(RpcMethod::kWatchKeys);
        }
        return MakeError(ErrorReason::kCallerNotAuthorized,
                         absl::StrCat("caller '", log::Capped(facts.caller),
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
  if (facts.every_key) {
    facts.keys.clear();
    for (const WatchedKey& key : keys) facts.keys.push_back(key.alias);
  }
  return keys;
}

void KeyBrokerService::AuditWatch(const WatchFacts& facts, const absl::Status& status,
                                  const WatchSummary* ended, absl::Duration duration) const {
  log::Fields fields = log::Fields::object();
  fields["caller"] = log::Capped(facts.caller);
  fields["peer"] = facts.peer;
  fields["method"] = std::string(RpcMethodName(RpcMethod::kWatchKeys));
  fields["stream"] = ended == nullptr ? "open" : "end";
  fields["watch_id"] = facts.id;
  log::Fields keys = log::Fields::array();
  for (size_t i = 0; i < std::min(facts.keys.size(), kAuditedKeys); ++i) {
    keys.push_back(log::Capped(facts.keys[i]));
  }
  fields["keys"] = std::move(keys);
  fields["key_count"] = facts.keys.size();
  fields["every_key"] = facts.every_key;
  if (ended != nullptr) {
    fields["duration_ms"] = absl::ToInt64Milliseconds(duration);
    fields["events_sent"] = ended->events_sent;
    fields["ended"] = std::string(WatchEndName(ended->end));
  }
  fields["outcome"] = absl::StatusCodeToString(status.code());
  std::optional<ErrorReason> reason = ReasonOf(status);
  fields["reason"] = reason.has_value() ? std::string(ErrorReasonName(*reason)) : "";
  fields["cause"] =
      std::string(ErrorCauseName(ended == nullptr ? CauseOf(status) : CauseOfEnd(ended->end)));
  if (ended == nullptr && facts.policy != nullptr) {
    fields["decision"] = facts.allowed ? "allow" : "deny";
    fields["policy_generation"] = facts.policy->generation();
  }
  // Our error messages name keys and causes, never key material.
  if (!status.ok() && !status.message().empty()) fields["error"] = log::Capped(status.message());
  log::Info("audit", std::move(fields));
}

grpc::ServerWriteReactor<v1::KeyEvent>* KeyBrokerService::WatchKeys(
    grpc::CallbackServerContext* context, const v1::WatchKeysRequest* request) {
  const absl::Time started = absl::Now();
  if (options_.metrics != nullptr) options_.metrics->RpcStarted(RpcMethod::kWatchKeys);
  WatchFacts facts;
  facts.id = watches_opened_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (options_.authorizer != nullptr) facts.policy = options_.authorizer->Current();
  if (options_.audit || facts.policy != nullptr) {
    facts.peer = context->peer();
    facts.caller = CallerIdentity(context->auth_context().get(), facts.peer);
  }
  absl::StatusOr<std::vector<WatchedKey>> keys;
  if (options_.watches == nullptr) {
    keys = absl::UnimplementedError("this broker does not serve WatchKeys");
  } else {
    keys = WatchedKeys(*request, facts);
    // After the caller's authorization: one not allowed to watch hears that.
    if (keys.ok() && options_.watches->open_streams() >= options_.max_watch_streams) {
      keys = WatchStreamsFull(options_.max_watch_streams);
    }
  }
  if (options_.audit) {
    AuditWatch(facts, keys.status(), /*ended=*/nullptr, absl::ZeroDuration());
  }
  if (!keys.ok()) {
    if (options_.metrics != nullptr) {
      options_.metrics->StreamFinished(RpcMethod::kWatchKeys, keys.status(),
                                       CauseOf(keys.status()));
    }
    // A stream that fails at once: a reactor that only finishes.
    class Refused final : public grpc::ServerWriteReactor<v1::KeyEvent> {
     public:
      explicit Refused(const grpc::Status& status) { Finish(status); }
      void OnDone() override { delete this; }
    };
    return new Refused(ToGrpcStatus(keys.status()));
  }
  // A watch of every key also carries the keys named at run time (by URI)
  // that the caller may describe, as they come.
  RuntimeKeyFilter runtime_keys;
  if (facts.every_key) {
    runtime_keys = [policy = facts.policy, caller = facts.caller](const std::string& uri_name) {
      if (policy == nullptr) return true;
      auto no_context = [](const std::string&) -> const std::string* { return nullptr; };
      return policy->Allows(AccessRequest{caller, RpcMethod::kDescribeKey, uri_name}, no_context);
    };
  }
  // Called when gRPC is done with the stream: the service outlives it (the
  // server stops, waiting for its streams, before the service goes).
  WatchEndCallback on_end = [this, facts = std::move(facts), started](const WatchSummary& ended) {
    const absl::Status status = StatusOfEnd(ended);
    if (options_.metrics != nullptr) {
      options_.metrics->StreamFinished(RpcMethod::kWatchKeys, status, CauseOfEnd(ended.end));
    }
    if (options_.audit) AuditWatch(facts, status, &ended, absl::Now() - started);
  };
  return options_.watches->Open(*std::move(keys), std::move(runtime_keys), context->deadline(),
                                std::move(on_end));
}

}  // namespace keybroker::server
