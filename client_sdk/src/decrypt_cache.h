// DecryptCache: recent Unwrap results (EDEK -> DEK) on the decrypt side, so
// decrypting many ciphertexts under one DEK makes one broker call.
//
// Bounded in entries and time: an entry lives at most `ttl`, which adds to
// the revocation bound promised to customers (after access to a key is
// removed, a cached DEK keeps decrypting for at most `ttl` more). Entries go
// oldest first, on expiry or when the cache is full. DEKs are KeyedDeks
// shared with in-flight decryptions: an evicted DEK is wiped as soon as the
// last decryption using it returns. Safe for concurrent use; Get holds the
// lock only to copy a shared_ptr and allocates nothing. Each thread's last
// hit is kept in a slot of its own (WithRecent), so that decrypting many
// records under one DEK takes no lock at all; an eviction invalidates those
// slots and drops the idle ones at once.
//
// DropIf drops the entries of a key that became inaccessible (a WatchKeys
// event), recent entries included, so that revocation does not wait for the
// TTL; a DEK unwrapped while it ran is not cached after it (Put's
// `drops_seen`).
#ifndef KEYBROKER_CLIENT_SDK_SRC_DECRYPT_CACHE_H_
#define KEYBROKER_CLIENT_SDK_SRC_DECRYPT_CACHE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
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
  // A hit also becomes this thread's recent entry (WithRecent).
  std::shared_ptr<const KeyedDek> Get(absl::string_view edek, absl::Time now);

  // Returns what `use` returns, called with the DEK cached for `edek` if it
  // is this thread's recent entry, not expired at `now` and not evicted
  // since; nullopt otherwise (then Get). Takes no lock and writes no cache
  // line another thread writes: the warm path of Decrypt.
  std::optional<absl::Status> WithRecent(absl::string_view edek, absl::Time now,
                                         absl::FunctionRef<absl::Status(const KeyedDek&)> use);

  // Caches `dek` for `edek` from `now`, first dropping expired entries and
  // then, beyond max_entries, the oldest. Keeps an existing live entry.
  // `drops_seen` is drops() read before `dek` was unwrapped: if a DropIf ran
  // since, `dek` may be of a key just made inaccessible and is not cached.
  void Put(absl::string_view edek, std::shared_ptr<const KeyedDek> dek, absl::Time now,
           uint64_t drops_seen);

  // Drops every entry whose EDEK `drop` returns true for, and the threads'
  // recent entries of them (a thread using one at this moment finds it
  // stale next time). Returns the number of entries dropped. Runs `drop`
  // under the lock: Get waits meanwhile.
  size_t DropIf(absl::FunctionRef<bool(absl::string_view edek)> drop);

  // The number of DropIf calls so far (for Put).
  uint64_t drops() const { return drops_.load(std::memory_order_acquire); }

  size_t size() const;

 private:
  struct Slot {
    std::shared_ptr<const KeyedDek> dek;
    absl::Time expires;
  };
  // std::less<> finds by string_view without building a key string.
  using Slots = std::map<std::string, Slot, std::less<>>;

  // One thread's last hit (by thread index; two threads may share one, and
  // then one of them goes through Get). Written only by its holder.
  struct alignas(64) Recent {
    std::atomic<bool> held{false};
    uint64_t generation = 0;  // generation_ when it was taken from slots_
    std::string edek;
    std::shared_ptr<const KeyedDek> dek;
    absl::Time expires;
  };
  static constexpr size_t kRecent = 16;

  void EvictExpiredLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictOldestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes `slot` this thread's recent entry for `edek`, if its slot is free.
  void RememberLocked(absl::string_view edek, const Slot& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the recent entries of an older generation that no thread holds,
  // so that an evicted DEK is wiped now rather than when a thread comes by.
  void DropStaleRecentLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Set at construction.
  const size_t max_entries_;
  const absl::Duration ttl_;

  mutable absl::Mutex mu_;
  Slots slots_ ABSL_GUARDED_BY(mu_);
  // Every entry of slots_ once, oldest first; all entries share one TTL, so
  // the oldest expire first.
  std::deque<Slots::iterator> order_ ABSL_GUARDED_BY(mu_);
  // Bumped under mu_ whenever an entry leaves slots_: a recent entry of an
  // older generation may be an evicted DEK.
  std::atomic<uint64_t> generation_{1};
  // Bumped under mu_ by DropIf; read without it by drops().
  std::atomic<uint64_t> drops_{0};
  Recent recent_[kRecent];
};

}  // namespace keybroker::sdk::internal

#endif  // KEYBROKER_CLIENT_SDK_SRC_DECRYPT_CACHE_H_
