#include "server/key_versions.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace keybroker::server {
namespace {

// Creation order; versions without a creation time last.
bool CreatedBefore(const std::optional<absl::Time>& a, const std::optional<absl::Time>& b) {
  return a.value_or(absl::InfiniteFuture()) < b.value_or(absl::InfiniteFuture());
}

bool VersionBefore(const std::string& a, const std::string& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

bool OlderFirst(const KeyVersionStatus& a, const KeyVersionStatus& b) {
  if (CreatedBefore(a.created, b.created)) return true;
  if (CreatedBefore(b.created, a.created)) return false;
  return VersionBefore(a.version, b.version);
}

}  // namespace

std::vector<KeyVersionStatus> JoinKeyVersions(
    std::optional<std::vector<kms::KeyVersionInfo>> listed,
    const std::vector<KeyVersionInventory::VersionUse>& used) {
  absl::flat_hash_map<std::string, absl::Time> last_used;
  for (const KeyVersionInventory::VersionUse& use : used) {
    last_used[use.version] = absl::FromUnixSeconds(use.last_used_seconds);
  }
  std::vector<KeyVersionStatus> versions;
  for (kms::KeyVersionInfo& info : listed.value_or(std::vector<kms::KeyVersionInfo>{})) {
    KeyVersionStatus status;
    status.version = std::move(info.version);
    status.created = info.created;
    status.enabled = info.enabled;
    status.listed = true;
    versions.push_back(std::move(status));
  }
  std::sort(versions.begin(), versions.end(), OlderFirst);
  // The newest listed ones, and every one in use.
  const size_t first_kept =
      versions.size() > kMaxListedVersions ? versions.size() - kMaxListedVersions : 0;
  std::vector<KeyVersionStatus> kept;
  kept.reserve(versions.size() - first_kept + last_used.size());
  for (size_t i = 0; i < versions.size(); ++i) {
    if (i < first_kept && !last_used.contains(versions[i].version)) continue;
    kept.push_back(std::move(versions[i]));
  }
  versions = std::move(kept);
  for (KeyVersionStatus& status : versions) {
    auto it = last_used.find(status.version);
    if (it == last_used.end()) continue;
    status.last_used = it->second;
    last_used.erase(it);
  }
  for (const auto& [version, time] : last_used) {
    KeyVersionStatus status;
    status.version = version;
    status.last_used = time;
    versions.push_back(std::move(status));
  }
  std::sort(versions.begin(), versions.end(), OlderFirst);
  return versions;
}

}  // namespace keybroker::server
