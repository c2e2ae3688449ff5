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

void KeyVersionInventory::Track(const KeyRegistry& registry) {
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
  if (it != by_alias_.end()) {
    Record(it->second, version, now_seconds);
    return;
  }
  // A key URI (only Azure keys are named by URI): its key by EDEK name,
  // configured (another spelling of a configured key's URI) or not.
  if (!KeyRegistry::IsKeyUri(alias)) return;
  std::string name = KeyRegistry::KeyUriEdekName(alias);
  if (!name.empty()) RecordForEdek(crypto::EdekKms::kAzure, name, version, now_seconds);
}

void KeyVersionInventory::RecordForKey(const BoundKey& key, absl::string_view version,
                                       int64_t now_seconds) {
  if (!key.edek_key_name.empty()) {
    // Named by URI: only Azure keys are (KeyRegistry::Resolve).
    RecordForEdek(crypto::EdekKms::kAzure, key.edek_key_name, version, now_seconds);
    return;
  }
  auto it = by_alias_.find(key.alias);
  if (it != by_alias_.end()) Record(it->second, version, now_seconds);
}

void KeyVersionInventory::RecordForEdek(crypto::EdekKms kms, absl::string_view edek_key_name,
                                        absl::string_view version, int64_t now_seconds) {
  if (Key* key = ConfiguredByEdekName(kms, edek_key_name); key != nullptr) {
    Record(key, version, now_seconds);
    return;
  }
  if (kms == crypto::EdekKms::kAzure) RecordRuntime(edek_key_name, version, now_seconds);
}

KeyVersionInventory::Key* KeyVersionInventory::ConfiguredByEdekName(
    crypto::EdekKms kind, absl::string_view edek_key_name) const {
  const size_t index = static_cast<size_t>(kind);
  if (index >= by_edek_name_.size()) return nullptr;
  auto it = by_edek_name_[index].find(edek_key_name);
  return it == by_edek_name_[index].end() ? nullptr : it->second;
}

void KeyVersionInventory::RecordRuntime(absl::string_view edek_key_name, absl::string_view version,
                                        int64_t now_seconds) {
  if (max_runtime_keys_ == 0 || edek_key_name.empty()) return;
  {
    absl::ReaderMutexLock lock(&runtime_mu_);
    auto it = runtime_.find(edek_key_name);
    if (it != runtime_.end()) {
      Record(it->second.get(), version, now_seconds);
      return;
    }
  }
  absl::MutexLock lock(&runtime_mu_);
  auto it = runtime_.find(edek_key_name);
  if (it == runtime_.end()) {
    if (runtime_.size() >= max_runtime_keys_) EvictOneLocked();
    auto key = std::make_unique<Key>();
    key->added = ++runtime_added_;
    it = runtime_.emplace(std::string(edek_key_name), std::move(key)).first;
  }
  Record(it->second.get(), version, now_seconds);
}

void KeyVersionInventory::EvictOneLocked() {
  // A scan, but only when a key not held yet is used past the bound (its
  // use has just cost a KMS call).
  auto oldest = runtime_.end();
  std::pair<int64_t, uint64_t> oldest_use;
  for (auto it = runtime_.begin(); it != runtime_.end(); ++it) {
    int64_t last = 0;
    for (const Slot& slot : it->second->slots) {
      last = std::max(last, slot.last_used.load(std::memory_order_relaxed));
    }
    std::pair<int64_t, uint64_t> use{last, it->second->added};
    if (oldest == runtime_.end() || use < oldest_use) {
      oldest = it;
      oldest_use = use;
    }
  }
  if (oldest != runtime_.end()) runtime_.erase(oldest);
}

size_t KeyVersionInventory::runtime_keys() const {
  absl::ReaderMutexLock lock(&runtime_mu_);
  return runtime_.size();
}

void KeyVersionInventory::KeyAdded(absl::string_view key_id, absl::string_view edek_key_name) {
  if (max_runtime_keys_ == 0) return;
  absl::MutexLock lock(&runtime_mu_);
  if (held_.try_emplace(key_id, edek_key_name).second) ++holders_[edek_key_name];
}

void KeyVersionInventory::KeyRemoved(absl::string_view key_id) {
  absl::MutexLock lock(&runtime_mu_);
  auto held = held_.find(key_id);
  if (held == held_.end()) return;
  auto holders = holders_.find(held->second);
  held_.erase(held);
  if (holders == holders_.end() || --holders->second > 0) return;
  runtime_.erase(holders->first);
  holders_.erase(holders);
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
  if (it != by_alias_.end()) return UsesOfKey(*it->second);
  if (!KeyRegistry::IsKeyUri(alias)) return {};
  std::string name = KeyRegistry::KeyUriEdekName(alias);
  if (name.empty()) return {};
  if (const Key* key = ConfiguredByEdekName(crypto::EdekKms::kAzure, name); key != nullptr) {
    return UsesOfKey(*key);
  }
  absl::ReaderMutexLock lock(&runtime_mu_);
  auto runtime = runtime_.find(name);
  if (runtime == runtime_.end()) return {};
  return UsesOfKey(*runtime->second);
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
