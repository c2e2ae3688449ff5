// DecryptCache: recent Unwrap results (EDEK -> DEK) on the decrypt side, so
// decrypting many ciphertexts under one DEK makes one broker call.
//
// Bounded in entries and time: an entry lives at most `ttl`, which adds to
// the revocation bound promised to customers (after access to a key is
// removed, a cached DEK keeps decrypting for at most `ttl` more). Entries go
// oldest first, on expiry or when the cache is full. DEKs are KeyedDeks
// shared with in-flight decryptions: an evicted DEK is wiped as soon as the
// last decryption using it returns. Safe for concurrent use; Get holds the
// lock only to copy a shared_ptr and allocates nothing.
#ifndef KEYBROKER_CLIENT_SDK_SRC_DECRYPT_CACHE_H_
#define KEYBROKER_CLIENT_SDK_SRC_DECRYPT_CACHE_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client_sdk/src/keyed_dek.h"

namespace keybroker::sdk::internal {

class DecryptCache {
 public:
  // Caches nothing when max_entries is 0 or ttl is not positive.
  DecryptCache(size_t max_entries, absl::Duration ttl) : max_entries_(max_entries), ttl_(ttl) {}

  // Returns the DEK cached for `edek` and not expired at `now`, or nullptr.
  std::shared_ptr<const KeyedDek> Get(absl::string_view edek, absl::Time now);

  // Caches `dek` for `edek` from `now`, first dropping expired entries and
  // then, beyond max_entries, the oldest. Keeps an existing live entry.
  void Put(absl::string_view edek, std::shared_ptr<const KeyedDek> dek, absl::Time now);

  size_t size() const;

 private:
  struct Slot {
    std::shared_ptr<const KeyedDek> dek;
    absl::Time expires;
  };
  // std::less<> finds by string_view without building a key string.
  using Slots = std::map<std::string, Slot, std::less<>>;

  void EvictExpiredLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictOldestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Set at construction.
  const size_t max_entries_;
  const absl::Duration ttl_;

  mutable absl::Mutex mu_;
  Slots slots_ ABSL_GUARDED_BY(mu_);
  // Every entry of slots_ once, oldest first; all entries share one TTL, so
  // the oldest expire first.
  std::deque<Slots::iterator> order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::sdk::internal

#endif  // KEYBROKER_CLIENT_SDK_SRC_DECRYPT_CACHE_H_
