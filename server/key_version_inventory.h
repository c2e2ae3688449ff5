// KeyVersionInventory: for each configured key, the versions that EDEKs made
// by this broker (GenerateDek, Wrap, Rewrap) and presented to it (Unwrap,
// Rewrap) were made under, and when each was last used (unix seconds). It
// tells an operator when an old version stops protecting data, so that it
// can be disabled safely; DescribeKey and the
// keybroker_key_version_last_used_timestamp_seconds gauge show it.
//
// Bounded: a key keeps at most kSlotsPerKey versions; a version not held yet
// takes the slot of the least recently used one. Only successful uses are
// recorded, so an EDEK that does not unwrap cannot take a slot.
//
// Cheap on the request path: recording a version already held takes no lock
// and allocates nothing (a scan of a fixed array of atomics for a 64-bit
// hash of the version, and a store only when the second changed). Only a
// version not held yet takes a lock, its key's own.
//
// Safe for concurrent use. The registry it is built from must outlive it.
#ifndef KEYBROKER_SERVER_KEY_VERSION_INVENTORY_H_
#define KEYBROKER_SERVER_KEY_VERSION_INVENTORY_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "crypto/edek.h"
#include "server/key_registry.h"

namespace keybroker::server {

class KeyVersionInventory {
 public:
  static constexpr int kSlotsPerKey = 32;

  struct VersionUse {
    std::string version;
    int64_t last_used_seconds = 0;  // unix seconds
  };
  struct KeyUses {
    std::string alias;  // the first alias bound to the key
    std::vector<VersionUse> versions;
  };

  // Tracks every key bound in `registry`; a key bound by several aliases is
  // one key, named by the first of them.
  explicit KeyVersionInventory(const KeyRegistry& registry);

  // Records a use of `version` of the key behind `alias`, at `now_seconds`
  // (unix seconds). Nothing for an alias the registry does not bind.
  void RecordForAlias(absl::string_view alias, absl::string_view version, int64_t now_seconds);
  // Records a use of `version` of the key that EDEKs of `kms` name
  // `edek_key_name` (crypto::Edek::key_name). Nothing for a key not bound.
  void RecordForEdek(crypto::EdekKms kms, absl::string_view edek_key_name,
                     absl::string_view version, int64_t now_seconds);

  // The versions held for the key behind `alias`, most recently used first;
  // empty for an unknown alias.
  std::vector<VersionUse> UsesOf(absl::string_view alias) const;
  // Every key's, in the order the registry binds them.
  std::vector<KeyUses> Snapshot() const;

 private:
  // One version's slot. `tag` (a hash of the version, 0 when empty) is what
  // the request path compares; `version` is written and read only under the
  // key's mutex.
  struct Slot {
    std::atomic<uint64_t> tag{0};
    std::atomic<int64_t> last_used{0};
    std::string version;
  };
  struct Key {
    std::string alias;
    mutable absl::Mutex mu;  // held to claim a slot and to read versions
    std::array<Slot, kSlotsPerKey> slots;
  };

  static void Record(Key* key, absl::string_view version, int64_t now_seconds);
  // Takes a slot for `version` (or finds that another call just did).
  static void Claim(Key* key, uint64_t tag, absl::string_view version, int64_t now_seconds);
  static std::vector<VersionUse> UsesOfKey(const Key& key);

  // Set at construction.
  std::vector<std::unique_ptr<Key>> keys_;
  absl::flat_hash_map<std::string, Key*> by_alias_;
  // Indexed by crypto::EdekKms's value, then by EDEK key name.
  std::array<absl::flat_hash_map<std::string, Key*>, 3> by_edek_name_;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_KEY_VERSION_INVENTORY_H_
