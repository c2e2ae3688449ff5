// The keyring file: a Keyring encrypted under the master key.
//
// Layout:
//   offset  size  field
//   0       4     magic "KBKR"
//   4       1     file format version, 1
//   5       8     master key check: HKDF-SHA-256(master key, no salt,
//                 "keybroker keyring master key check v1"), 8 bytes
//   13      12    AES-GCM nonce, fresh for every write
//   25      n     AES-256-GCM ciphertext of Keyring::Serialize(), under the
//                 file key HKDF-SHA-256(master key, no salt,
//                 "keybroker keyring file key v1"), 32 bytes
//   25+n    16    GCM tag
// Bytes 0..24 are the GCM associated data. The check value lets start-up tell
// "wrong master key" from "corrupted file" without weakening anything: it is a
// one-way derivation, independent of the file key.
//
// Writes replace the file atomically (common/file_util.h): a crash leaves the
// old or the new keyring, never a mix, so no version is ever lost.
#ifndef KEYBROKER_KMS_ADAPTERS_LOCAL_KEYRING_FILE_H_
#define KEYBROKER_KMS_ADAPTERS_LOCAL_KEYRING_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/secret_bytes.h"
#include "kms_adapters/local/keyring.h"

namespace keybroker::kms {

// Reads and decrypts `path`. NOT_FOUND if it does not exist;
// FAILED_PRECONDITION with a message that says which of "truncated", "not a
// keyring file", "wrong master key" or "corrupted" applies.
absl::StatusOr<Keyring> ReadKeyringFile(const std::string& path,
                                        const crypto::SecretBytes& master_key);

// The two halves of ReadKeyringFile, for a reader that looks at the bytes
// before decrypting them (the read-only reloader tells a changed file by a
// digest of its contents). ReadKeyringFileBytes reads `path` whole into
// `file` (NOT_FOUND if absent, FAILED_PRECONDITION if unreadable or too
// large); DecodeKeyringFile decrypts what it read, naming `path` in errors.
absl::Status ReadKeyringFileBytes(const std::string& path, std::string* file);
absl::StatusOr<Keyring> DecodeKeyringFile(const std::string& path, absl::string_view file,
                                          const crypto::SecretBytes& master_key);

// Encrypts `keyring` and atomically replaces `path` with it (mode 0600).
absl::Status WriteKeyringFile(const std::string& path, const crypto::SecretBytes& master_key,
                              const Keyring& keyring);

}  // namespace keybroker::kms

#endif  // KEYBROKER_KMS_ADAPTERS_LOCAL_KEYRING_FILE_H_
