#include "kms_adapters/azure/unknown_version_cache.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/monotonic_time.h"

namespace keybroker::kms::azure {
namespace {

std::string NameOf(absl::string_view key, absl::string_view version) {
  return absl::StrCat(key, "/", version);
}

}  // namespace

std::optional<absl::Status> UnknownVersionCache::Find(absl::string_view key,
                                                      absl::string_view version) {
  absl::MutexLock lock(&mu_);
  if (entries_.empty()) return std::nullopt;
  auto it = entries_.find(NameOf(key, version));
  if (it == entries_.end() || it->second.expires <= MonotonicNow()) return std::nullopt;
  return it->second.error;
}

void UnknownVersionCache::Remember(absl::string_view key, absl::string_view version,
                                   absl::Status error) {
  if (ttl_ <= absl::ZeroDuration() || max_entries_ == 0) return;
  absl::Time now = MonotonicNow();
  std::string name = NameOf(key, version);
  absl::MutexLock lock(&mu_);
  TrimLocked(now, max_entries_ - 1);
  entries_[name] = Entry{std::move(error), now + ttl_};
  order_.push_back(Added{std::move(name), now + ttl_});
}

void UnknownVersionCache::TrimLocked(absl::Time now, size_t room) {
  while (!order_.empty() && (order_.front().expires <= now || order_.size() > room)) {
    auto it = entries_.find(order_.front().name);
    // An older record of an entry remembered again since: not its end.
    if (it != entries_.end() && it->second.expires == order_.front().expires) entries_.erase(it);
    order_.pop_front();
  }
}

}  // namespace keybroker::kms::azure
