#include "server/key_version_inventory.h"

#include <algorithm>
#include <utility>

namespace keybroker::server {
namespace {

// FNV-1a, 64 bits: versions are short (a decimal number, or 32 hex
// characters), and a collision among a key's few real versions (only
// versions that unwrapped are recorded) has odds of about 2^-64 per pair.
// 0 means an empty slot.
uint64_t TagOf(absl::string_view version) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : version) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash == 0 ? 1 : hash;
}

}  // namespace

KeyVersionInventory::KeyVersionInventory(const KeyRegistry& registry) {
  // One Key per (KMS, key id): aliases of the same key share its versions.
  absl::flat_hash_map<std::pair<const kms::Kms*, std::string>, Key*> seen;
  for (const BoundKey& bound : registry.bindings()) {
    Key*& key = seen[{bound.kms, bound.key_id}];
    if (key == nullptr) {
      keys_.push_back(std::make_unique<Key>());
      key = keys_.back().get();
      key->alias = bound.alias;
      absl::StatusOr<std::string> name = bound.kms->EdekKeyNameOf(bound.key_id);
      const size_t kind = static_cast<size_t>(bound.kms->kind());
      if (name.ok() && kind < by_edek_name_.size()) by_edek_name_[kind][*name] = key;
    }
    by_alias_[bound.alias] = key;
  }
}

void KeyVersionInventory::RecordForAlias(absl::string_view alias, absl::string_view version,
                                         int64_t now_seconds) {
  auto it = by_alias_.find(alias);
  if (it != by_alias_.end()) Record(it->second, version, now_seconds);
}

void KeyVersionInventory::RecordForEdek(crypto::EdekKms kms, absl::string_view edek_key_name,
                                        absl::string_view version, int64_t now_seconds) {
  const size_t kind = static_cast<size_t>(kms);
  if (kind >= by_edek_name_.size()) return;
  auto it = by_edek_name_[kind].find(edek_key_name);
  if (it != by_edek_name_[kind].end()) Record(it->second, version, now_seconds);
}

void KeyVersionInventory::Record(Key* key, absl::string_view version, int64_t now_seconds) {
  const uint64_t tag = TagOf(version);
  for (Slot& slot : key->slots) {
    if (slot.tag.load(std::memory_order_acquire) != tag) continue;
    // Only forward, and only once a second: most calls only read. (A slot
    // reclaimed between the tag check and this store gets this second for
    // its new version: it was just claimed, at about this second anyway.)
    int64_t last = slot.last_used.load(std::memory_order_relaxed);
    while (now_seconds > last &&
           !slot.last_used.compare_exchange_weak(last, now_seconds, std::memory_order_relaxed)) {
    }
    return;
  }
  Claim(key, tag, version, now_seconds);
}

void KeyVersionInventory::Claim(Key* key, uint64_t tag, absl::string_view version,
                                int64_t now_seconds) {
  absl::MutexLock lock(&key->mu);
  Slot* target = nullptr;
  for (Slot& slot : key->slots) {
    const uint64_t held = slot.tag.load(std::memory_order_relaxed);
    if (held == tag) {  // another call claimed it meanwhile
      if (slot.last_used.load(std::memory_order_relaxed) < now_seconds) {
        slot.last_used.store(now_seconds, std::memory_order_relaxed);
      }
      return;
    }
    // An empty slot, else the least recently used one.
    if (target != nullptr && target->tag.load(std::memory_order_relaxed) == 0) continue;
    if (held == 0 || target == nullptr ||
        slot.last_used.load(std::memory_order_relaxed) <
            target->last_used.load(std::memory_order_relaxed)) {
      target = &slot;
    }
  }
  // Emptied first, so that the request path never matches the old version's
  // tag while the slot changes hands.
  target->tag.store(0, std::memory_order_release);
  target->version.assign(version.data(), version.size());
  target->last_used.store(now_seconds, std::memory_order_relaxed);
  target->tag.store(tag, std::memory_order_release);
}

std::vector<KeyVersionInventory::VersionUse> KeyVersionInventory::UsesOfKey(const Key& key) {
  std::vector<VersionUse> uses;
  {
    absl::MutexLock lock(&key.mu);
    for (const Slot& slot : key.slots) {
      if (slot.tag.load(std::memory_order_acquire) == 0) continue;
      VersionUse use;
      use.version = slot.version;
      use.last_used_seconds = slot.last_used.load(std::memory_order_relaxed);
      uses.push_back(std::move(use));
    }
  }
  std::sort(uses.begin(), uses.end(), [](const VersionUse& a, const VersionUse& b) {
    return a.last_used_seconds != b.last_used_seconds ? a.last_used_seconds > b.last_used_seconds
                                                      : a.version < b.version;
  });
  return uses;
}

std::vector<KeyVersionInventory::VersionUse> KeyVersionInventory::UsesOf(
    absl::string_view alias) const {
  auto it = by_alias_.find(alias);
  if (it == by_alias_.end()) return {};
  return UsesOfKey(*it->second);
}

std::vector<KeyVersionInventory::KeyUses> KeyVersionInventory::Snapshot() const {
  std::vector<KeyUses> snapshot;
  snapshot.reserve(keys_.size());
  for (const auto& key : keys_) {
    KeyUses uses;
    uses.alias = key->alias;
    uses.versions = UsesOfKey(*key);
    snapshot.push_back(std::move(uses));
  }
  return snapshot;
}

}  // namespace keybroker::server
