// LocalKms: the embedded, service-managed keyring (no cloud needed).
//
// Key ids are local key names. Each key has AES-256 versions 1, 2, ...; wraps
// use the current version: a per-EDEK key HKDF-SHA-256(version key, 32-byte
// random salt, "keybroker local wrap v1"), AES-256-GCM with a zero nonce
// (each derived key seals once), and as associated data the EDEK's
// authenticated header followed by the canonical encryption context, so
// neither the header nor the context can change without Unwrap failing.
//
// The keyring lives in an encrypted file (keyring_file.h). A rotation writes
// the new keyring to disk before it becomes visible, so no EDEK is ever made
// under a version that is not durable.
//
// Thread-safe: readers take an immutable snapshot under a brief lock; writers
// (Rotate) are serialized and swap in a new snapshot.
#ifndef KEYBROKER_KMS_ADAPTERS_LOCAL_LOCAL_KMS_H_
#define KEYBROKER_KMS_ADAPTERS_LOCAL_LOCAL_KMS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/file_lock.h"
#include "kms_adapters/kms.h"
#include "kms_adapters/local/keyring.h"

namespace keybroker::kms {

struct LocalKmsOptions {
  std::string keyring_file;
  // The keyring is mounted read-only (several replicas): it is never written,
  // a missing file or key is an error, and Rotate answers KEYRING_READ_ONLY.
  bool read_only = false;
  // Keys the configuration refers to. Missing ones are created (and the file
  // written) unless read_only.
  std::vector<std::string> required_keys;
  // The writer's lock on the keyring (keyring_file + ".lock"), when the caller
  // took it already; otherwise Create takes it (unless read_only).
  std::shared_ptr<FileLock> lock;
};

// The lock file that guards `keyring_file` against a second writer.
std::string KeyringLockPath(const std::string& keyring_file);

class LocalKms : public Kms {
 public:
  // Opens (or, unless read_only, creates) the keyring file. Fails, without
  // touching the file, when it is unreadable, truncated, corrupted or under
  // another master key, or (unless read_only) when another process holds the
  // keyring's lock.
  static absl::StatusOr<std::unique_ptr<LocalKms>> Create(LocalKmsOptions options,
                                                          crypto::SecretBytes master_key);

  crypto::EdekKms kind() const override { return crypto::EdekKms::kLocal; }
  absl::StatusOr<KeyDescription> Describe(absl::string_view key_id,
                                          const CallOptions& options) override;
  absl::StatusOr<crypto::SecretBytes> GenerateDekMaterial(absl::string_view key_id, size_t size,
                                                         const CallOptions& options) override;
  absl::StatusOr<WrappedKey> Wrap(absl::string_view key_id, const crypto::SecretBytes& dek,
                                  const crypto::EncryptionContext& context,
                                  const CallOptions& options) override;
  absl::StatusOr<crypto::SecretBytes> Unwrap(const crypto::Edek& edek,
                                             const crypto::EncryptionContext& context,
                                             const CallOptions& options) override;
  absl::StatusOr<std::string> KeyIdOf(const crypto::Edek& edek) override;
  absl::StatusOr<std::string> Rotate(absl::string_view key_id,
                                     const CallOptions& options) override;

 private:
  LocalKms(LocalKmsOptions options, crypto::SecretBytes master_key, Keyring keyring);

  std::shared_ptr<const Keyring> Snapshot() const;
  // The key version an EDEK names, or EDEK_INVALID.
  absl::StatusOr<const KeyVersion*> VersionOf(const Keyring& keyring,
                                              const crypto::Edek& edek) const;

  // Set at construction.
  const LocalKmsOptions options_;
  const crypto::SecretBytes master_key_;

  // Serializes writers so that each rotation starts from the latest keyring.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::shared_ptr<const Keyring> keyring_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::kms

#endif  // KEYBROKER_KMS_ADAPTERS_LOCAL_LOCAL_KMS_H_
