// UnwrapCache: recent Unwrap results (EDEK + context -> DEK) for KMSs that
// cost a remote call, so a warm Unwrap makes none.
//
// Bounded in entries and time: an entry lives at most `ttl` (which is part of
// the revocation bound promised to customers: after access is removed, a
// cached DEK is served for at most `ttl` more). DEKs are SecretBytes, wiped
// when evicted or expired. Safe for concurrent use; lookups hold the lock
// only to copy the DEK out.
//
// DropKey's memory is bounded too. A drop (K, D) guards against one thing:
// a Put of an unwrap of K that started at or before D. It may be forgotten
// only once no such unwrap can still Put, and nothing bounds how long an
// unwrap runs (a caller may give no deadline; nor does the KMS dropping K
// from its keys end the unwraps that hold it). So a drop is kept for
// `drop_memory` (far longer than unwraps take in practice), in at most
// `max_dropped_keys` records (a key dropped again is recorded again; the
// oldest go first), and a drop forgotten is folded into one watermark: a
// Put of an unwrap that started at or before the latest drop forgotten is
// ignored, whatever its key. The guarantee holds for every drop ever made;
// forgetting costs only that a slower unwrap's result (or, when the bound
// forces a recent drop out, one in flight across it) is not cached.
#ifndef KEYBROKER_SERVER_UNWRAP_CACHE_H_
#define KEYBROKER_SERVER_UNWRAP_CACHE_H_

#include <algorithm>
#include <deque>
#include <optional>
#include <string>
#include <utility>

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

  // Defaults of DropKey's memory (above).
  static constexpr absl::Duration kDropMemory = absl::Minutes(10);
  static constexpr size_t kMaxDroppedKeys = 10000;

  UnwrapCache(size_t max_entries, absl::Duration ttl, absl::Duration drop_memory = kDropMemory,
              size_t max_dropped_keys = kMaxDroppedKeys)
      : max_entries_(max_entries),
        ttl_(ttl),
        drop_memory_(drop_memory),
        max_dropped_keys_(std::max<size_t>(1, max_dropped_keys)) {}

  // A copy of the cached result for (edek, canonical context), or nullopt.
  // `now` is monotonic (common/monotonic_time.h), as in Put.
  std::optional<Entry> Get(absl::string_view edek, absl::string_view context, absl::Time now);

  // Caches a result, evicting the oldest entries beyond max_entries.
  // `key_id` (the KMS key the EDEK is under) is what DropKey matches.
  void Put(absl::string_view edek, absl::string_view context, const Entry& entry, absl::Time now,
           absl::string_view key_id = "");

  // Drops (and wipes) every entry of `key_id` at once: the key was found
  // inaccessible at `now`, and nothing cached may outlive that. A Put of an
  // unwrap that started before (its `now` earlier or equal) is then ignored:
  // the vault's yes may predate the revocation. Returns how many were
  // dropped.
  size_t DropKey(absl::string_view key_id, absl::Time now);

  size_t size() const;
  // The drops remembered by key now: at most max_dropped_keys.
  size_t dropped_keys() const;

 private:
  struct Slot {
    Entry entry;
    absl::Time expires;
    std::string key_id;
  };
  static std::string KeyOf(absl::string_view edek, absl::string_view context);
  void EvictLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets the oldest drop record, into the watermark if it is its key's
  // latest.
  void ForgetOldestDropLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a Put of an unwrap of `key_id` that started at `started` is
  // ignored for a drop.
  bool DroppedSinceLocked(absl::string_view key_id, absl::Time started) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_entries_;
  const absl::Duration ttl_;
  const absl::Duration drop_memory_;
  const size_t max_dropped_keys_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Slot> slots_ ABSL_GUARDED_BY(mu_);
  // When DropKey last dropped each key it remembers, and its records in the
  // order made (a record is stale once its key was dropped again). Every
  // key of dropped_at_ has a record, so both hold at most max_dropped_keys_.
  absl::flat_hash_map<std::string, absl::Time> dropped_at_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<std::string, absl::Time>> drops_ ABSL_GUARDED_BY(mu_);
  // The latest drop forgotten: a Put of an unwrap started at or before it is
  // ignored, whatever its key.
  absl::Time forgotten_drops_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Keys in insertion order: expiry and eviction both go oldest first.
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_UNWRAP_CACHE_H_
