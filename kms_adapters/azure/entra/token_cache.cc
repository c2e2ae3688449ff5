#include "kms_adapters/azure/entra/token_cache.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/log.h"

namespace keybroker::kms::azure {
namespace {

// The least time a shared token fetch gets, whatever its caller's deadline.
constexpr absl::Duration kMinFetchTime = absl::Seconds(10);

}  // namespace

TokenCache::TokenCache(std::string identity, std::unique_ptr<Credential> credential,
                       const Clock* clock, Options options)
    : identity_(std::move(identity)),
      credential_(std::move(credential)),
      clock_(clock),
      options_(options) {}

absl::StatusOr<crypto::SecretBytes> TokenCache::Token(absl::string_view scope,
                                                      absl::Time deadline) {
  if (scope.empty()) return InvalidRequest("entra token requested for an empty scope");
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(scope);
  if (it == entries_.end()) it = entries_.emplace(std::string(scope), Entry()).first;
  Entry& entry = it->second;
  while (true) {
    absl::Time now = clock_->Now();
    bool usable = !entry.token.empty() && now < entry.usable_until;
    bool due = now >= entry.refresh_at && now >= entry.retry_at;
    if (usable && (!due || entry.refreshing)) {
      options_.observer->CacheLookup("token", /*hit=*/true);
      return entry.token.Clone();
    }
    if (!entry.refreshing) {
      options_.observer->CacheLookup("token", /*hit=*/false);
      return RefreshLocked(it->first, entry, deadline);
    }

    // Another caller is fetching and there is no usable token: wait for it.
    const uint64_t seen = entry.completed;
    auto finished = [&entry, seen]() { return entry.completed != seen; };
    if (!mu_.AwaitWithDeadline(absl::Condition(&finished), deadline)) {
      // The caller's deadline, not Entra's answer: the fetch waited for goes
      // on, and tells its own outcome.
      return CallerDeadlineExceeded(absl::StrCat("entra identity '", identity_, "' (scope ",
                                                 scope,
                                                 "): deadline passed while waiting for a token"));
    }
    // Share the failure of the fetch waited for rather than start another.
    if (!entry.last_error.ok() && (entry.token.empty() || clock_->Now() >= entry.usable_until)) {
      return entry.last_error;
    }
  }
}

void TokenCache::Invalidate(absl::string_view scope) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(scope);
  if (it == entries_.end()) return;
  it->second.token.Clear();
  it->second.retry_at = absl::InfinitePast();
}

absl::StatusOr<crypto::SecretBytes> TokenCache::RefreshLocked(const std::string& scope,
                                                              Entry& entry, absl::Time deadline) {
  entry.refreshing = true;
  const absl::Time started = clock_->Now();
  mu_.Unlock();
  // The fetch serves every waiter, not only this caller: a caller with a very
  // short deadline must not fail it for all of them.
  absl::StatusOr<AccessToken> fetched =
      credential_->Fetch(scope, std::max(deadline, clock_->Now() + kMinFetchTime));
  options_.observer->TokenRefreshDone(fetched.status());
  mu_.Lock();
  entry.refreshing = false;
  ++entry.completed;  // wakes the waiters (Await re-checks on unlock)
  if (fetched.ok()) {
    entry.last_error = absl::OkStatus();
    log::Debug("entra_token_fetched",
               {{"identity", identity_},
                {"scope", scope},
                {"lifetime_seconds", absl::ToInt64Seconds(fetched->expires_at - started)}});
    StoreLocked(entry, std::move(*fetched), started);
    if (entry.failing) {
      entry.failing = false;
      log::Info("entra_token_recovered", {{"identity", identity_}, {"scope", scope}});
    }
    return entry.token.Clone();
  }
  entry.last_error = Annotate(fetched.status(),
                              absl::StrCat("entra identity '", identity_, "' (scope ", scope, ")"));
  const absl::Time now = clock_->Now();
  if (entry.token.empty() || now >= entry.usable_until) {
    // Every call through this identity fails now: the broker's own
    // credential or Entra, never a customer's key. Once per episode.
    if (!entry.failing) {
      entry.failing = true;
      log::Error("entra_token_failed",
                 {{"identity", identity_},
                  {"scope", scope},
                  {"reason", std::string(kms::OutcomeOf(entry.last_error))},
                  {"cause", "service"},
                  {"error", std::string(entry.last_error.message())}});
    }
    return entry.last_error;
  }
  // The caller gets the old token, so the failure is only seen here.
  log::Warn("entra_token_refresh_failed", {{"identity", identity_},
                                           {"scope", scope},
                                           {"error", std::string(entry.last_error.message())}});
  entry.retry_at = now + options_.failed_refresh_backoff;
  return entry.token.Clone();
}

void TokenCache::StoreLocked(Entry& entry, AccessToken token, absl::Time fetch_started) {
  // Short-lived tokens (tests, some federated setups) would otherwise be
  // "due" from the moment they arrive.
  const absl::Duration lifetime = std::max(token.expires_at - fetch_started, absl::ZeroDuration());
  entry.refresh_at = token.expires_at - std::min(options_.refresh_margin, lifetime / 2);
  entry.usable_until = token.expires_at - std::min(options_.expiry_margin, lifetime / 10);
  entry.retry_at = absl::InfinitePast();
  entry.token = std::move(token.token);
}

}  // namespace keybroker::kms::azure
