// AuthorizationPolicy: deny by default. A call is allowed when a rule of the
// configuration's `authorization` section covers its caller identity, its
// RPC, its key alias and, when the rule names context pairs, its encryption
// context; everything else is refused (PERMISSION_DENIED,
// CALLER_NOT_AUTHORIZED).
//
// - `operations: ["*"]` means every RPC but Rotate: changing which version
//   protects new data is an administrator's act and must be named (AWS KMS
//   separates key administration from use the same way).
// - Unwrap and Rewrap are decided on the alias bound to the key the EDEK
//   names; the caller (server/key_broker_service.cc) resolves it without any
//   KMS call.
// - A rule with `rate_per_second` limits each caller identity it allows to
//   that rate (a token bucket holding one second's worth); over the limit the
//   call is refused with RESOURCE_EXHAUSTED (RATE_LIMITED) and a retry delay.
//   The first rule that allows a call is the one whose limit applies.
//
// A policy is immutable but for its rate buckets; a reload builds a new one
// (server/authorizer.h). Safe for concurrent use.
#ifndef KEYBROKER_SERVER_AUTHORIZATION_POLICY_H_
#define KEYBROKER_SERVER_AUTHORIZATION_POLICY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/authorization_config.h"
#include "server/rpc_method.h"

namespace keybroker::server {

// The request context's value for a name, or null when the request has none.
using ContextLookup = absl::FunctionRef<const std::string*(const std::string& name)>;

struct AccessRequest {
  absl::string_view caller;  // the caller identity (server/caller_identity.h)
  RpcMethod method;
  absl::string_view key;     // the alias the call is decided on
};

struct AccessDecision {
  enum class Outcome { kAllow, kDeny, kRateLimited };
  Outcome outcome = Outcome::kDeny;
  int rule = -1;                    // the rule that allowed (or rate-limited) the call
  absl::Duration retry_after;       // kRateLimited: when a token will be there
};

class AuthorizationPolicy {
 public:
  // INVALID_ARGUMENT naming the field (authorization.rules[i].operations...)
  // for an empty list, an unknown operation or a negative rate.
  // `generation` numbers the policies a broker has loaded (1 for the first).
  static absl::StatusOr<std::unique_ptr<AuthorizationPolicy>> Create(
      const AuthorizationConfig& config, int64_t generation);

  // Decides `request`; `context` looks up the request's encryption context.
  // `now` is monotonic time, for the rate buckets.
  AccessDecision Decide(const AccessRequest& request, ContextLookup context,
                        absl::Time now) const;

  // Whether a rule allows `request`, without taking a rate token. For
  // WatchKeys, decided key by key when a stream opens: a token per key would
  // spend the caller's rate on its watch, and leave keys past the rate out
  // of it.
  bool Allows(const AccessRequest& request, ContextLookup context) const;

  int64_t generation() const { return generation_; }
  size_t rule_count() const { return rules_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time refilled;
  };
  struct Rule {
    std::vector<std::string> callers;
    uint32_t operations = 0;  // bit per RpcMethod
    std::vector<std::string> keys;
    std::vector<std::pair<std::string, std::string>> context;
    double rate_per_second = 0;
    // Per caller identity; cleared when it outgrows kMaxBuckets (identities
    // come from certificates the broker's CA signed, so the set is small).
    mutable absl::Mutex mu;
    mutable absl::flat_hash_map<std::string, Bucket> buckets ABSL_GUARDED_BY(mu);
  };
  static constexpr size_t kMaxBuckets = 10000;

  explicit AuthorizationPolicy(int64_t generation) : generation_(generation) {}
  static bool Covers(const Rule& rule, const AccessRequest& request, ContextLookup context);
  // Takes a token from `caller`'s bucket; how long until one is there if none is.
  static std::optional<absl::Duration> TakeToken(const Rule& rule, absl::string_view caller,
                                                 absl::Time now);

  const int64_t generation_;
  std::vector<std::unique_ptr<Rule>> rules_;
};

// The bit of `method` in a rule's operation mask; "*" sets every bit but
// Rotate's. Exposed for tests.
uint32_t OperationBit(RpcMethod method);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_AUTHORIZATION_POLICY_H_
