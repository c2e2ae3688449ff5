#include "kms_adapters/local/keyring_admin.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file_lock.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "kms_adapters/local/keyring_file.h"
#include "kms_adapters/local/local_kms.h"

namespace keybroker::kms {

absl::StatusOr<Keyring> InitKeyringFile(const std::string& path,
                                        const crypto::SecretBytes& master_key,
                                        const std::vector<std::string>& keys) {
  if (keys.empty()) return absl::FailedPreconditionError("a new keyring needs at least one key");
  Keyring keyring;
  for (const std::string& name : keys) RETURN_IF_ERROR(keyring.AddKey(name, absl::Now()));
  ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, FileLock::Acquire(KeyringLockPath(path)));
  // Checked under the lock: no other writer can create it meanwhile.
  if (FileExists(path)) {
    return absl::AlreadyExistsError(
        absl::StrCat("keyring file ", path, " already exists; init never overwrites a keyring"));
  }
  RETURN_IF_ERROR(WriteKeyringFile(path, master_key, keyring));
  return keyring;
}

absl::StatusOr<uint32_t> RotateKeyringFile(const std::string& path,
                                           const crypto::SecretBytes& master_key,
                                           absl::string_view key) {
  // Before taking the lock, which would create a lock file beside a keyring
  // that is not there (a mistyped path).
  if (!FileExists(path)) return absl::NotFoundError(absl::StrCat("no keyring file ", path));
  ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, FileLock::Acquire(KeyringLockPath(path)));
  ASSIGN_OR_RETURN(Keyring keyring, ReadKeyringFile(path, master_key));
  ASSIGN_OR_RETURN(const KeyVersion* added, keyring.AddVersion(key, absl::Now()));
  uint32_t number = added->number;
  RETURN_IF_ERROR(WriteKeyringFile(path, master_key, keyring));
  return number;
}

}  // namespace keybroker::kms
