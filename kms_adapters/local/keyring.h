// Keyring: the local KMS's key encryption keys, in memory.
//
// A keyring holds named keys; each key has versions 1, 2, ... of 32-byte
// AES-256 key material. The highest version is current. Versions are never
// removed, so every EDEK ever made stays unwrappable.
//
// A Keyring is a value: LocalKms shares immutable snapshots between threads
// and makes a new one (Clone, then modify) for each change. Not synchronized.
#ifndef KEYBROKER_KMS_ADAPTERS_LOCAL_KEYRING_H_
#define KEYBROKER_KMS_ADAPTERS_LOCAL_KEYRING_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/secret_bytes.h"

namespace keybroker::kms {

struct KeyVersion {
  uint32_t number = 0;
  absl::Time created;
  crypto::SecretBytes material;  // 32 bytes
};

class Keyring {
 public:
  static constexpr size_t kMaxKeys = 4096;
  static constexpr size_t kMaxVersionsPerKey = 100000;

  Keyring() = default;
  Keyring(Keyring&&) = default;
  Keyring& operator=(Keyring&&) = default;

  // Returns a deep copy (key material included).
  Keyring Clone() const;

  bool HasKey(absl::string_view name) const;
  std::vector<std::string> KeyNames() const;

  // Adds key `name` with a fresh version 1. FAILED_PRECONDITION if it exists
  // or the name is not 1..255 bytes.
  absl::Status AddKey(absl::string_view name, absl::Time now);

  // Adds a fresh version to `name`, makes it current, and returns it.
  // KEY_NOT_FOUND if there is no such key.
  absl::StatusOr<const KeyVersion*> AddVersion(absl::string_view name, absl::Time now);

  // The current version of `name`, or nullptr.
  const KeyVersion* Current(absl::string_view name) const;
  // Version `number` of `name`, or nullptr.
  const KeyVersion* Find(absl::string_view name, uint32_t number) const;
  // Every version of `name`, oldest first (number i + 1 at index i), or
  // nullptr. Valid as long as this keyring is not modified.
  const std::vector<KeyVersion>* Versions(absl::string_view name) const;

  // OK when this keyring may take the place of `older`: it holds every key
  // and every version of `older`, with the same material (it may add keys
  // and versions). A keyring reloaded from disk must pass this, or EDEKs
  // made under a dropped or replaced version would stop unwrapping.
  // FAILED_PRECONDITION naming the first key or version that is missing or
  // differs (never the material).
  absl::Status CheckSupersedes(const Keyring& older) const;

  // Serialized form (the plaintext inside the keyring file):
  //   u32 key count; per key: u8 name length, name, u32 version count;
  //   per version: u32 number, i64 created (unix seconds), 32 bytes material.
  // All integers big-endian; keys sorted by name; versions ascending.
  crypto::SecretBytes Serialize() const;
  // Parses Serialize()'s output, and nothing else: keys out of order are
  // refused, so that Serialize(Parse(bytes)) == bytes. FAILED_PRECONDITION
  // with what is wrong.
  static absl::StatusOr<Keyring> Parse(const crypto::SecretBytes& bytes);

 private:
  std::map<std::string, std::vector<KeyVersion>, std::less<>> keys_;
};

}  // namespace keybroker::kms

#endif  // KEYBROKER_KMS_ADAPTERS_LOCAL_KEYRING_H_
