// What DescribeKey says of a key's versions: the versions its KMS lists,
// joined with the versions this broker saw in use (KeyVersionInventory).
//
// Pure functions, safe for concurrent use.
#ifndef KEYBROKER_SERVER_KEY_VERSIONS_H_
#define KEYBROKER_SERVER_KEY_VERSIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "kms_adapters/kms.h"
#include "server/key_version_inventory.h"

namespace keybroker::server {

// One version as DescribeKey reports it (keybroker.v1.KeyVersionInfo).
struct KeyVersionStatus {
  std::string version;
  std::optional<absl::Time> created;    // nullopt: the KMS did not say
  bool enabled = false;                 // as listed; false when not listed
  std::optional<absl::Time> last_used;  // nullopt: not used here (or forgotten)
  bool listed = false;                  // the KMS listed it
};

// The newest listed versions kept at most: a local key may have thousands,
// and a DescribeKey answer must stay small. Versions in use are always kept.
inline constexpr size_t kMaxListedVersions = 100;

// Joins `listed` (nullopt when the KMS could not list) and `used`, oldest
// first: by creation time (versions with none after the others), then by
// version (shorter first, so that local "9" comes before "10").
std::vector<KeyVersionStatus> JoinKeyVersions(
    std::optional<std::vector<kms::KeyVersionInfo>> listed,
    const std::vector<KeyVersionInventory::VersionUse>& used);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_KEY_VERSIONS_H_
