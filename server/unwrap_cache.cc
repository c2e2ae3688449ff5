#include "server/unwrap_cache.h"

#include "absl/strings/str_cat.h"

namespace keybroker::server {

std::string UnwrapCache::KeyOf(absl::string_view edek, absl::string_view context) {
  // The EDEK's length first keeps (edek, context) pairs from colliding.
  return absl::StrCat(edek.size(), ":", edek, context);
}

std::optional<UnwrapCache::Entry> UnwrapCache::Get(absl::string_view edek,
                                                   absl::string_view context, absl::Time now) {
  std::string key = KeyOf(edek, context);
  absl::MutexLock lock(&mu_);
  EvictLocked(now);  // expired DEKs leave memory even without new traffic
  auto it = slots_.find(key);
  if (it == slots_.end() || it->second.expires <= now) return std::nullopt;
  return Entry{it->second.entry.dek.Clone(), it->second.entry.key_version};
}

void UnwrapCache::Put(absl::string_view edek, absl::string_view context, const Entry& entry,
                      absl::Time now, absl::string_view key_id) {
  if (max_entries_ == 0) return;
  std::string key = KeyOf(edek, context);
  absl::MutexLock lock(&mu_);
  EvictLocked(now);
  if (!key_id.empty()) {
    auto dropped = dropped_at_.find(key_id);
    if (dropped != dropped_at_.end() && now <= dropped->second) return;
  }
  auto [it, inserted] = slots_.try_emplace(key);
  it->second = Slot{Entry{entry.dek.Clone(), entry.key_version}, now + ttl_, std::string(key_id)};
  if (inserted) order_.push_back(std::move(key));
  while (slots_.size() > max_entries_ && !order_.empty()) {
    slots_.erase(order_.front());
    order_.pop_front();
  }
}

size_t UnwrapCache::DropKey(absl::string_view key_id, absl::Time now) {
  absl::MutexLock lock(&mu_);
  dropped_at_[key_id] = now;
  // Erased from the map only: EvictLocked skips keys of `order_` that are
  // gone. A scan, but only when a key changes state.
  return absl::erase_if(slots_, [key_id](const auto& slot) { return slot.second.key_id == key_id; });
}

void UnwrapCache::EvictLocked(absl::Time now) {
  // Entries are inserted with the same TTL, so the oldest expire first. A
  // re-Put entry keeps its first place in line, so until it expires it holds
  // back the purge of expired entries behind it (they still never serve).
  while (!order_.empty()) {
    auto it = slots_.find(order_.front());
    if (it != slots_.end() && it->second.expires > now) break;
    if (it != slots_.end()) slots_.erase(it);
    order_.pop_front();
  }
}

size_t UnwrapCache::size() const {
  absl::MutexLock lock(&mu_);
  return slots_.size();
}

}  // namespace keybroker::server
