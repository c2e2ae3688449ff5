// Where the local keyring's master key comes from.
//
// A master key is 32 random bytes written as 64 hex characters (surrounding
// whitespace ignored), in a file or in the KEYBROKER_MASTER_KEY environment
// variable. Messages name the file or variable, never the key.
#ifndef KEYBROKER_KMS_ADAPTERS_LOCAL_MASTER_KEY_H_
#define KEYBROKER_KMS_ADAPTERS_LOCAL_MASTER_KEY_H_

#include <string>

#include "absl/status/statusor.h"
#include "crypto/secret_bytes.h"

namespace keybroker::kms {

inline constexpr char kMasterKeyEnv[] = "KEYBROKER_MASTER_KEY";

// Reads the master key from `file` when it is not empty (warning, as
// secret_file_permissions.h says, when others may read it), else from
// KEYBROKER_MASTER_KEY, which is then removed from the environment (and its
// start-up copy wiped, crypto/secret_env.h): a second call finds no key there.
// FAILED_PRECONDITION / INVALID_ARGUMENT naming the source when it is missing
// or malformed. Call at start-up, before other threads read the environment.
absl::StatusOr<crypto::SecretBytes> LoadMasterKey(const std::string& file);

// Generates a master key and writes it to `file` (64 hex characters and a
// newline, mode 0600). Never replaces a file: ALREADY_EXISTS if `file`
// exists, since the keyring under the old key would be lost with it.
absl::StatusOr<crypto::SecretBytes> CreateMasterKeyFile(const std::string& file);

// For the embedded default (`--data-dir`): KEYBROKER_MASTER_KEY if set (then
// removed, as above), else `file`, generating it (mode 0600) on first start
// with a warning that a master key stored beside the keyring is for
// development only. Refuses to generate one when `keyring_file` already
// exists: a new key could never open it. Call with the keyring's lock held.
absl::StatusOr<crypto::SecretBytes> LoadOrCreateDevelopmentMasterKey(
    const std::string& file, const std::string& keyring_file);

}  // namespace keybroker::kms

#endif  // KEYBROKER_KMS_ADAPTERS_LOCAL_MASTER_KEY_H_
