// KeyVersionInventory: for each key, the versions that EDEKs made by this
// broker (GenerateDek, Wrap, Rewrap) and presented to it (Unwrap, Rewrap)
// were made under, and when each was last used (unix seconds). It tells an
// operator when an old version stops protecting data, so that it can be
// disabled safely; DescribeKey and the
// keybroker_key_version_last_used_timestamp_seconds gauge show it.
//
// Keys: those bound in the registry at start (Track), and customer keys
// named at run time by URI (kms.azure.key_sources), known by the name their
// EDEKs carry ({host}/{name}). Runtime keys are in DescribeKey on their URI
// but left out of Snapshot, and so out of the gauge: metric labels never
// carry a URI, and one folded label would mix every runtime key's versions.
//
// Bounded: a key keeps at most kSlotsPerKey versions; a version not held yet
// takes the slot of the least recently used one. At most `max_runtime_keys`
// runtime keys are kept (kms.azure.max_runtime_keys): a key goes when the
// KMS drops it (KeyRemoved, once no binding of the KMS names it) or, past
// the bound, the least recently used goes first. A key dropped comes back,
// empty, on its next use. Only successful uses are recorded, so an EDEK or
// URI that does not unwrap or wrap cannot take a slot or a key.
//
// Cheap on the request path: recording a version already held of a
// configured key takes no lock and allocates nothing (a scan of a fixed array
// of atomics for a 64-bit hash of the version, and a store only when the
// second changed). For a runtime key the same follows a lookup by EDEK name
// in a map under a reader lock (as AzureKms's own lookup of the key). A
// version not held yet takes its key's own lock; a runtime key not held yet
// takes the map's lock.
//
// Safe for concurrent use once Track has run.
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
#include "kms_adapters/kms_observer.h"
#include "server/key_registry.h"

namespace keybroker::server {

class KeyVersionInventory final : public kms::KmsObserver {
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

  // Tracks no configured key until Track, and at most `max_runtime_keys`
  // keys named at run time (0: none).
  explicit KeyVersionInventory(size_t max_runtime_keys = 0) : max_runtime_keys_(max_runtime_keys) {}
  // Tracks every key bound in `registry` at once.
  explicit KeyVersionInventory(const KeyRegistry& registry, size_t max_runtime_keys = 0)
      : KeyVersionInventory(max_runtime_keys) {
    Track(registry);
  }

  // Tracks every key bound in `registry`; a key bound by several aliases is
  // one key, named by the first of them. Once, before any Record or UsesOf
  // (the inventory may hear of runtime keys before: it is built before the
  // registry's KMSs, which report to it). Keeps nothing of `registry`.
  void Track(const KeyRegistry& registry);

  // Records a use of `version` of the key behind `alias` (a configured alias,
  // or a key URI: KeyRegistry::Resolve), at `now_seconds` (unix seconds).
  // Nothing for an alias the registry does not bind that is not a URI.
  void RecordForAlias(absl::string_view alias, absl::string_view version, int64_t now_seconds);
  // The same for the key KeyRegistry::Resolve returned: a key named by URI
  // is found by its edek_key_name, without parsing the URI again.
  void RecordForKey(const BoundKey& key, absl::string_view version, int64_t now_seconds);
  // Records a use of `version` of the key that EDEKs of `kms` name
  // `edek_key_name` (crypto::Edek::key_name): a configured key, else (Azure
  // EDEKs) a runtime key. Nothing for an unbound key of another KMS.
  void RecordForEdek(crypto::EdekKms kms, absl::string_view edek_key_name,
                     absl::string_view version, int64_t now_seconds);

  // The versions held for the key behind `alias` (as RecordForAlias takes
  // it), most recently used first; empty for an unknown alias or key.
  std::vector<VersionUse> UsesOf(absl::string_view alias) const;
  // Every configured key's, in the order the registry binds them. Runtime
  // keys are not in it.
  std::vector<KeyUses> Snapshot() const;

  // How many runtime keys are held now.
  size_t runtime_keys() const;

  // kms::KmsObserver: the KMS's runtime keys. A key is dropped here once
  // every binding the KMS held for its EDEK name is removed (a URI pinning a
  // version is a binding of its own).
  void KeyAdded(absl::string_view key_id, absl::string_view edek_key_name) override;
  void KeyRemoved(absl::string_view key_id) override;

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
    std::string alias;       // configured keys'; empty for runtime keys
    uint64_t added = 0;      // runtime keys: order of addition (ties of last use)
    mutable absl::Mutex mu;  // held to claim a slot and to read versions
    std::array<Slot, kSlotsPerKey> slots;
  };

  static void Record(Key* key, absl::string_view version, int64_t now_seconds);
  // Takes a slot for `version` (or finds that another call just did).
  static void Claim(Key* key, uint64_t tag, absl::string_view version, int64_t now_seconds);
  static std::vector<VersionUse> UsesOfKey(const Key& key);
  // The configured key EDEKs of `kind` name `edek_key_name`, or null.
  Key* ConfiguredByEdekName(crypto::EdekKms kind, absl::string_view edek_key_name) const;
  void RecordRuntime(absl::string_view edek_key_name, absl::string_view version,
                     int64_t now_seconds);
  // Drops the least recently used runtime key.
  void EvictOneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(runtime_mu_);

  const size_t max_runtime_keys_;

  // Set by Track, then read without a lock.
  std::vector<std::unique_ptr<Key>> keys_;
  absl::flat_hash_map<std::string, Key*> by_alias_;
  // Indexed by crypto::EdekKms's value, then by EDEK key name.
  std::array<absl::flat_hash_map<std::string, Key*>, 3> by_edek_name_;

  // Runtime keys (Azure), by EDEK key name. A Key is only destroyed under
  // the writer lock, so one found under the reader lock stays while held.
  mutable absl::Mutex runtime_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Key>> runtime_ ABSL_GUARDED_BY(runtime_mu_);
  uint64_t runtime_added_ ABSL_GUARDED_BY(runtime_mu_) = 0;
  // The KMS's runtime key ids (KeyAdded, not removed yet) and their EDEK
  // names, and how many of them name each: bounded by the KMS's bound.
  absl::flat_hash_map<std::string, std::string> held_ ABSL_GUARDED_BY(runtime_mu_);
  absl::flat_hash_map<std::string, int> holders_ ABSL_GUARDED_BY(runtime_mu_);
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_KEY_VERSION_INVENTORY_H_
