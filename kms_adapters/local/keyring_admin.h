// Out-of-band changes to a keyring file, with no broker running on it: what
// `keybrokerctl keyring` does. With several replicas the keyring is mounted
// read-only into each of them; an operator creates and rotates it here, and
// the replicas reload it (LocalKms, read_only).
//
// Both operations hold the keyring's writer lock (KeyringLockPath) while
// they read and write, as a writable broker does for its whole life, so
// they never race one another or such a broker, and write through
// WriteKeyringFile (atomic replacement: a crash loses no version).
#ifndef KEYBROKER_KMS_ADAPTERS_LOCAL_KEYRING_ADMIN_H_
#define KEYBROKER_KMS_ADAPTERS_LOCAL_KEYRING_ADMIN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/secret_bytes.h"
#include "kms_adapters/local/keyring.h"

namespace keybroker::kms {

// Creates keyring file `path` holding `keys`, each at version 1, and returns
// the keyring. ALREADY_EXISTS if `path` exists (a keyring is never
// overwritten: EDEKs under it would be lost); FAILED_PRECONDITION for no
// keys, a bad or repeated name, or a lock held by another process.
absl::StatusOr<Keyring> InitKeyringFile(const std::string& path,
                                        const crypto::SecretBytes& master_key,
                                        const std::vector<std::string>& keys);

// Adds a version to `key` in keyring file `path` and returns its number.
// NOT_FOUND if there is no such file, KEY_NOT_FOUND if no such key; the
// errors of ReadKeyringFile (wrong master key, corrupted file) otherwise.
absl::StatusOr<uint32_t> RotateKeyringFile(const std::string& path,
                                           const crypto::SecretBytes& master_key,
                                           absl::string_view key);

}  // namespace keybroker::kms

#endif  // KEYBROKER_KMS_ADAPTERS_LOCAL_KEYRING_ADMIN_H_
