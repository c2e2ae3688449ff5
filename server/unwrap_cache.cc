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
  if (!key_id.empty() && DroppedSinceLocked(key_id, now)) return;
  auto [it, inserted] = slots_.try_emplace(key);
  it->second = Slot{Entry{entry.dek.Clone(), entry.key_version}, now + ttl_, std::string(key_id)};
  if (inserted) order_.push_back(std::move(key));
  while (slots_.size() > max_entries_ && !order_.empty()) {
    slots_.erase(order_.front());
    order_.pop_front();
  }
}

bool UnwrapCache::DroppedSinceLocked(absl::string_view key_id, absl::Time started) const {
  if (started <= forgotten_drops_) return true;
  auto dropped = dropped_at_.find(key_id);
  return dropped != dropped_at_.end() && started <= dropped->second;
}

size_t UnwrapCache::DropKey(absl::string_view key_id, absl::Time now) {
  absl::MutexLock lock(&mu_);
  EvictLocked(now);
  auto [it, inserted] = dropped_at_.try_emplace(key_id, now);
  // Never earlier than a drop already remembered (a caller's clock is its
  // own); a record only when the time moved, so that a record is stale
  // exactly when its time is not its key's.
  if (inserted || now > it->second) {
    it->second = now;
    drops_.emplace_back(std::string(key_id), now);
    while (drops_.size() > max_dropped_keys_) ForgetOldestDropLocked();
  }
  // Erased from the map only: EvictLocked skips keys of `order_` that are
  // gone. A scan, but only when a key changes state.
  return absl::erase_if(slots_, [key_id](const auto& slot) { return slot.second.key_id == key_id; });
}

void UnwrapCache::ForgetOldestDropLocked() {
  auto& [key_id, dropped] = drops_.front();
  auto it = dropped_at_.find(key_id);
  if (it != dropped_at_.end() && it->second == dropped) {
    forgotten_drops_ = std::max(forgotten_drops_, dropped);
    dropped_at_.erase(it);
  }
  drops_.pop_front();
}

void UnwrapCache::EvictLocked(absl::Time now) {
  // Drops older than drop_memory_ go into the watermark. Records are made
  // in order, so the oldest are first (unless a caller's clock went back:
  // those wait for the bound).
  while (!drops_.empty() && drops_.front().second < now - drop_memory_) ForgetOldestDropLocked();

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

size_t UnwrapCache::dropped_keys() const {
  absl::MutexLock lock(&mu_);
  return dropped_at_.size();
}

}  // namespace keybroker::server
