// TokenCache: the access tokens of one Entra ID identity, one per scope
// (a vault and a Managed HSM need different ones), fetched through its
// Credential and reused until shortly before they expire.
//
// Refresh policy, for a token with lifetime L (issue to expiry):
//   - it is handed out until `refresh_margin` (capped at L/2) before expiry;
//   - from then on the first caller fetches a new one while the others keep
//     using the old one; a token is never handed out in the last
//     `expiry_margin` (capped at L/10) of its life;
//   - at most one fetch per scope is in flight: callers without a usable
//     token wait for it, each until its own deadline, and share its result
//     (an Entra outage costs one request at a time, not one per caller);
//   - if an early refresh fails, the old token stays in use and the next
//     attempt waits `failed_refresh_backoff`.
// When callers start failing for want of a token (Entra refuses the broker's
// credential, or does not answer), it logs `entra_token_failed` (error,
// cause service) once, and `entra_token_recovered` when a token comes again.
// Invalidate(scope) drops a token Key Vault refused (401), so the next call
// fetches a fresh one.
//
// Safe for concurrent use. Tokens are kept and returned as SecretBytes and
// never logged.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_TOKEN_CACHE_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_TOKEN_CACHE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crypto/secret_bytes.h"
#include "kms_adapters/kms_observer.h"
#include "kms_adapters/azure/credential.h"
#include "kms_adapters/azure/entra/clock.h"

namespace keybroker::kms::azure {

class TokenCache {
 public:
  struct Options {
    absl::Duration refresh_margin = absl::Minutes(5);
    absl::Duration expiry_margin = absl::Seconds(30);
    absl::Duration failed_refresh_backoff = absl::Seconds(5);
    // Hears of cache lookups ("token") and of every fetch; outlives the cache.
    KmsObserver* observer = NoKmsObserver();
  };

  // `identity` names the identity in errors ("fhir-prod"). `clock` must
  // outlive the cache.
  TokenCache(std::string identity, std::unique_ptr<Credential> credential, const Clock* clock,
             Options options);
  TokenCache(std::string identity, std::unique_ptr<Credential> credential, const Clock* clock)
      : TokenCache(std::move(identity), std::move(credential), clock, Options()) {}

  TokenCache(const TokenCache&) = delete;
  TokenCache& operator=(const TokenCache&) = delete;

  // Returns a bearer token for `scope`, fetching one if none is usable.
  // Errors: the credential's (KMS_UNAVAILABLE, KMS_THROTTLED), prefixed with
  // the identity and scope; DEADLINE_EXCEEDED when `deadline` passes while
  // waiting for another caller's fetch (that fetch reports the credential's
  // own outcome); INVALID_REQUEST for an empty scope.
  absl::StatusOr<crypto::SecretBytes> Token(absl::string_view scope, absl::Time deadline);

  // Drops the token cached for `scope` (Key Vault answered 401 with it); the
  // next Token() fetches. A fetch already in flight is not cancelled.
  void Invalidate(absl::string_view scope);

 private:
  struct Entry {
    crypto::SecretBytes token;  // empty: none
    absl::Time refresh_at;      // from here on, one caller refreshes
    absl::Time usable_until;    // expiry less the expiry margin
    absl::Time retry_at;        // after a failed refresh: no attempt before
    bool refreshing = false;
    uint64_t completed = 0;   // finished fetches, for waiters to notice
    absl::Status last_error;  // of the last finished fetch
    bool failing = false;     // callers are failing for want of a token (logged once)
  };

  // Fetches for `scope` with mu_ released during the call; stores and returns
  // the result (the old token if the fetch failed and it is still usable).
  absl::StatusOr<crypto::SecretBytes> RefreshLocked(const std::string& scope, Entry& entry,
                                                    absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StoreLocked(Entry& entry, AccessToken token, absl::Time fetch_started)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Set at construction.
  const std::string identity_;
  const std::unique_ptr<Credential> credential_;
  const Clock* const clock_;
  const Options options_;

  absl::Mutex mu_;
  // One entry per scope ever asked for (a handful), never erased: a fetch
  // keeps a reference to its entry while mu_ is released.
  std::map<std::string, Entry, std::less<>> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_TOKEN_CACHE_H_
