#include "client_sdk/src/decrypt_cache.h"

#include <algorithm>
#include <utility>

namespace keybroker::sdk::internal {

std::shared_ptr<const KeyedDek> DecryptCache::Get(absl::string_view edek,
                                                             absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = slots_.find(edek);
  if (it == slots_.end() || it->second.expires <= now) return nullptr;
  return it->second.dek;
}

void DecryptCache::Put(absl::string_view edek, std::shared_ptr<const KeyedDek> dek,
                       absl::Time now) {
  if (max_entries_ == 0 || ttl_ <= absl::ZeroDuration()) return;
  absl::MutexLock lock(&mu_);
  EvictExpiredLocked(now);
  auto it = slots_.find(edek);
  if (it != slots_.end()) {
    // Two decryptions that missed together both Put: the first one stays.
    if (it->second.expires > now) return;
    // Expired but not at the queue's front (Puts racing with slightly
    // different `now`s): rare, so a linear search is fine.
    order_.erase(std::find(order_.begin(), order_.end(), it));
    slots_.erase(it);
  }
  it = slots_.emplace(std::string(edek), Slot{std::move(dek), now + ttl_}).first;
  order_.push_back(it);
  while (slots_.size() > max_entries_) EvictOldestLocked();
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
}

}  // namespace keybroker::sdk::internal
