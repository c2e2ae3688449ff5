// UnwrapCache: recent Unwrap results (EDEK + context -> DEK) for KMSs that
// cost a remote call, so a warm Unwrap makes none.
//
// Bounded in entries and time: an entry lives at most `ttl` (which is part of
// the revocation bound promised to customers: after access is removed, a
// cached DEK is served for at most `ttl` more). DEKs are SecretBytes, wiped
// when evicted or expired. Safe for concurrent use; lookups hold the lock
// only to copy the DEK out.
#ifndef KEYBROKER_SERVER_UNWRAP_CACHE_H_
#define KEYBROKER_SERVER_UNWRAP_CACHE_H_

#include <deque>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crypto/secret_bytes.h"

namespace keybroker::server {

class UnwrapCache {
 public:
  struct Entry {
    crypto::SecretBytes dek;
    std::string key_version;
  };

  UnwrapCache(size_t max_entries, absl::Duration ttl) : max_entries_(max_entries), ttl_(ttl) {}

  // A copy of the cached result for (edek, canonical context), or nullopt.
  // `now` is monotonic (common/monotonic_time.h), as in Put.
  std::optional<Entry> Get(absl::string_view edek, absl::string_view context, absl::Time now);

  // Caches a result, evicting the oldest entries beyond max_entries.
  // `key_id` (the KMS key the EDEK is under) is what DropKey matches.
  void Put(absl::string_view edek, absl::string_view context, const Entry& entry, absl::Time now,
           absl::string_view key_id = "");

  // Drops (and wipes) every entry of `key_id` at once: the key was found
  // inaccessible at `now`, and nothing cached may outlive that. A Put of an
  // unwrap that started before (its `now` earlier) is then ignored: the
  // vault's yes may predate the revocation. Returns how many were dropped.
  size_t DropKey(absl::string_view key_id, absl::Time now);

  size_t size() const;

 private:
  struct Slot {
    Entry entry;
    absl::Time expires;
    std::string key_id;
  };
  static std::string KeyOf(absl::string_view edek, absl::string_view context);
  void EvictLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_entries_;
  const absl::Duration ttl_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Slot> slots_ ABSL_GUARDED_BY(mu_);
  // When DropKey last dropped each key (one entry per key ever dropped:
  // bounded by the keys the broker may use).
  absl::flat_hash_map<std::string, absl::Time> dropped_at_ ABSL_GUARDED_BY(mu_);
  // Keys in insertion order: expiry and eviction both go oldest first.
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_UNWRAP_CACHE_H_
