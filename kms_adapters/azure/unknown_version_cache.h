// UnknownVersionCache: versions of configured Azure keys that the vault
// refused as unknown (404, KEY_NOT_FOUND), remembered for a short time.
//
// An EDEK names its key version, and a caller can make up versions: without
// this, each crafted EDEK naming a configured key would cost one Key Vault
// request (billed, and counted against the vault's throttling limits, which
// every tenant of that vault shares). With it, a made-up version costs one
// request per TTL. Key Vault makes version ids itself, at random, so a version
// it does not know now will not appear later; only a deleted key recovered
// within the TTL is refused for up to the TTL longer.
//
// Bounded: at most `max_entries` entries, the oldest dropped first when full
// (entries are kept in the order added, which with one TTL is also the order
// they expire in). TTLs run on MonotonicNow(). Safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_UNKNOWN_VERSION_CACHE_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_UNKNOWN_VERSION_CACHE_H_

#include <cstddef>
#include <deque>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace keybroker::kms::azure {

class UnknownVersionCache {
 public:
  // `ttl` <= 0 or `max_entries` 0 remembers nothing.
  UnknownVersionCache(absl::Duration ttl, size_t max_entries)
      : ttl_(ttl), max_entries_(max_entries) {}

  // Returns the error the vault gave for `version` of `key` (the key's EDEK
  // name), while it is remembered.
  std::optional<absl::Status> Find(absl::string_view key, absl::string_view version);

  // Remembers `error` for `version` of `key` for the TTL.
  void Remember(absl::string_view key, absl::string_view version, absl::Status error);

 private:
  struct Entry {
    absl::Status error;
    absl::Time expires;
  };
  struct Added {
    std::string name;  // key and version
    absl::Time expires;
  };

  // Drops expired entries, then the oldest while more than `room` are kept.
  void TrimLocked(absl::Time now, size_t room) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration ttl_;
  const size_t max_entries_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Every Remember, oldest first; an entry remembered again is here twice,
  // and only its last record decides when it goes.
  std::deque<Added> order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_UNKNOWN_VERSION_CACHE_H_
