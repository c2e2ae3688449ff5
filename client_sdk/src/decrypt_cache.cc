#include "client_sdk/src/decrypt_cache.h"

#include <algorithm>
#include <utility>

#include "common/thread_slots.h"

namespace keybroker::sdk::internal {

std::shared_ptr<const KeyedDek> DecryptCache::Get(absl::string_view edek, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = slots_.find(edek);
  if (it == slots_.end() || it->second.expires <= now) return nullptr;
  RememberLocked(edek, it->second);
  return it->second.dek;
}

std::optional<absl::Status> DecryptCache::WithRecent(
    absl::string_view edek, absl::Time now, absl::FunctionRef<absl::Status(const KeyedDek&)> use) {
  Recent& recent = recent_[ThisThreadIndex() % kRecent];
  if (!TryHoldSlot(recent.held)) return std::nullopt;
  std::optional<absl::Status> result;
  if (recent.dek != nullptr && recent.generation == generation_.load(std::memory_order_acquire) &&
      now < recent.expires && recent.edek == edek) {
    result = use(*recent.dek);
  }
  ReleaseSlot(recent.held);
  return result;
}

void DecryptCache::RememberLocked(absl::string_view edek, const Slot& slot) {
  Recent& recent = recent_[ThisThreadIndex() % kRecent];
  if (!TryHoldSlot(recent.held)) return;
  recent.generation = generation_.load(std::memory_order_relaxed);
  recent.edek.assign(edek.data(), edek.size());
  recent.dek = slot.dek;
  recent.expires = slot.expires;
  ReleaseSlot(recent.held);
}

void DecryptCache::DropStaleRecentLocked() {
  const uint64_t generation = generation_.load(std::memory_order_relaxed);
  for (Recent& recent : recent_) {
    if (!TryHoldSlot(recent.held)) continue;  // in use: its holder finds it stale next time
    if (recent.generation != generation) recent.dek.reset();
    ReleaseSlot(recent.held);
  }
}

void DecryptCache::Put(absl::string_view edek, std::shared_ptr<const KeyedDek> dek, absl::Time now,
                       uint64_t drops_seen) {
  if (max_entries_ == 0 || ttl_ <= absl::ZeroDuration()) return;
  absl::MutexLock lock(&mu_);
  if (drops_.load(std::memory_order_relaxed) != drops_seen) return;
  const uint64_t generation = generation_.load(std::memory_order_relaxed);
  EvictExpiredLocked(now);
  auto it = slots_.find(edek);
  if (it != slots_.end()) {
    // Two decryptions that missed together both Put: the first one stays.
    if (it->second.expires > now) return;
    // Expired but not at the queue's front (Puts racing with slightly
    // different `now`s): rare, so a linear search is fine.
    order_.erase(std::find(order_.begin(), order_.end(), it));
    slots_.erase(it);
    generation_.fetch_add(1, std::memory_order_release);
  }
  it = slots_.emplace(std::string(edek), Slot{std::move(dek), now + ttl_}).first;
  order_.push_back(it);
  while (slots_.size() > max_entries_) EvictOldestLocked();
  if (generation_.load(std::memory_order_relaxed) != generation) DropStaleRecentLocked();
}

size_t DecryptCache::DropIf(absl::FunctionRef<bool(absl::string_view edek)> drop) {
  absl::MutexLock lock(&mu_);
  drops_.fetch_add(1, std::memory_order_release);
  std::deque<Slots::iterator> kept;
  for (Slots::iterator it : order_) {
    if (drop(it->first)) {
      slots_.erase(it);
    } else {
      kept.push_back(it);
    }
  }
  const size_t dropped = order_.size() - kept.size();
  order_.swap(kept);
  if (dropped > 0) {
    generation_.fetch_add(1, std::memory_order_release);
    DropStaleRecentLocked();
  }
  return dropped;
}

size_t DecryptCache::size() const {
  absl::MutexLock lock(&mu_);
  return slots_.size();
}

void DecryptCache::EvictExpiredLocked(absl::Time now) {
  while (!order_.empty() && order_.front()->second.expires <= now) EvictOldestLocked();
}

void DecryptCache::EvictOldestLocked() {
  // Dropping the shared_ptr wipes the DEK unless a decryption still holds it;
  // then it is wiped when that decryption returns.
  slots_.erase(order_.front());
  order_.pop_front();
  generation_.fetch_add(1, std::memory_order_release);
}

}  // namespace keybroker::sdk::internal
