#include "server/authorization_policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/glob.h"

namespace keybroker::server {
namespace {

// The methods rules name. Not WatchKeys: it is decided as DescribeKey for
// each key watched (server/key_broker_service_watch.cc).
constexpr RpcMethod kAllMethods[] = {RpcMethod::kGenerateDek, RpcMethod::kWrap,
                                     RpcMethod::kUnwrap,      RpcMethod::kRotate,
                                     RpcMethod::kRewrap,      RpcMethod::kDescribeKey};

absl::Status Invalid(absl::string_view path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, " ", what));
}

bool AnyMatches(const std::vector<std::string>& patterns, absl::string_view text) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [text](const std::string& pattern) { return GlobMatch(pattern, text); });
}

absl::StatusOr<uint32_t> OperationMask(const std::vector<std::string>& names,
                                       const std::string& path) {
  if (names.empty()) return Invalid(path, "must name at least one RPC (or \"*\")");
  uint32_t mask = 0;
  for (const std::string& name : names) {
    if (name == "*") {
      for (RpcMethod method : kAllMethods) {
        if (method != RpcMethod::kRotate) mask |= OperationBit(method);
      }
      continue;
    }
    const RpcMethod* found =
        std::find_if(std::begin(kAllMethods), std::end(kAllMethods),
                     [&name](RpcMethod method) { return RpcMethodName(method) == name; });
    if (found == std::end(kAllMethods)) {
      return Invalid(path, absl::StrCat("names an unknown RPC '", name,
                                        "' (GenerateDek, Wrap, Unwrap, Rotate, Rewrap, "
                                        "DescribeKey or \"*\")"));
    }
    mask |= OperationBit(*found);
  }
  return mask;
}

}  // namespace

uint32_t OperationBit(RpcMethod method) { return 1u << static_cast<int>(method); }

absl::StatusOr<std::unique_ptr<AuthorizationPolicy>> AuthorizationPolicy::Create(
    const AuthorizationConfig& config, int64_t generation) {
  std::unique_ptr<AuthorizationPolicy> policy(new AuthorizationPolicy(generation));
  for (size_t i = 0; i < config.rules.size(); ++i) {
    const AuthorizationRuleConfig& source = config.rules[i];
    const std::string path = absl::StrCat("authorization.rules[", i, "]");
    auto rule = std::make_unique<Rule>();
    if (source.callers.empty()) return Invalid(path + ".callers", "must name at least one caller");
    if (source.keys.empty()) return Invalid(path + ".keys", "must name at least one key");
    auto mask = OperationMask(source.operations, path + ".operations");
    if (!mask.ok()) return mask.status();
    if (!(source.rate_per_second >= 0)) {
      return Invalid(path + ".rate_per_second", "must be 0 (no limit) or positive");
    }
    rule->callers = source.callers;
    rule->operations = *mask;
    rule->keys = source.keys;
    rule->context = source.context;
    rule->rate_per_second = source.rate_per_second;
    policy->rules_.push_back(std::move(rule));
  }
  return policy;
}

bool AuthorizationPolicy::Covers(const Rule& rule, const AccessRequest& request,
                                 ContextLookup context) {
  if ((rule.operations & OperationBit(request.method)) == 0) return false;
  if (!AnyMatches(rule.callers, request.caller)) return false;
  if (!AnyMatches(rule.keys, request.key)) return false;
  for (const auto& [name, pattern] : rule.context) {
    const std::string* value = context(name);
    if (value == nullptr || !GlobMatch(pattern, *value)) return false;
  }
  return true;
}

std::optional<absl::Duration> AuthorizationPolicy::TakeToken(const Rule& rule,
                                                             absl::string_view caller,
                                                             absl::Time now) {
  const double capacity = std::max(1.0, rule.rate_per_second);
  absl::MutexLock lock(&rule.mu);
  auto it = rule.buckets.find(caller);
  if (it == rule.buckets.end()) {
    if (rule.buckets.size() >= kMaxBuckets) rule.buckets.clear();
    it = rule.buckets.emplace(std::string(caller), Bucket{capacity, now}).first;
  }
  Bucket& bucket = it->second;
  double elapsed = absl::ToDoubleSeconds(now - bucket.refilled);
  if (elapsed > 0) {
    bucket.tokens = std::min(capacity, bucket.tokens + elapsed * rule.rate_per_second);
    bucket.refilled = now;
  }
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return std::nullopt;
  }
  return absl::Seconds((1 - bucket.tokens) / rule.rate_per_second);
}

AccessDecision AuthorizationPolicy::Decide(const AccessRequest& request, ContextLookup context,
                                           absl::Time now) const {
  for (size_t i = 0; i < rules_.size(); ++i) {
    const Rule& rule = *rules_[i];
    if (!Covers(rule, request, context)) continue;
    AccessDecision decision;
    decision.rule = static_cast<int>(i);
    if (rule.rate_per_second > 0) {
      std::optional<absl::Duration> wait = TakeToken(rule, request.caller, now);
      if (wait.has_value()) {
        decision.outcome = AccessDecision::Outcome::kRateLimited;
        decision.retry_after = *wait;
        return decision;
      }
    }
    decision.outcome = AccessDecision::Outcome::kAllow;
    return decision;
  }
  return AccessDecision{};
}

bool AuthorizationPolicy::Allows(const AccessRequest& request, ContextLookup context) const {
  for (const std::unique_ptr<Rule>& rule : rules_) {
    if (Covers(*rule, request, context)) return true;
  }
  return false;
}

}  // namespace keybroker::server
