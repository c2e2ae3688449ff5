#include "kms_adapters/local/master_key.h"

#include <cstdlib>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/secret_file_permissions.h"
#include "common/status_macros.h"
#include "crypto/random.h"
#include "crypto/secret_env.h"
#include "crypto/secret_file.h"

namespace keybroker::kms {
namespace {

// Taken out of the environment once read: it stays in neither
// /proc/<pid>/environ nor the environment of child processes.
absl::StatusOr<crypto::SecretBytes> FromEnvironment() {
  std::optional<crypto::SecretBytes> text = crypto::TakeSecretFromEnvironment(kMasterKeyEnv);
  if (!text.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no master key: set kms.local.master_key_file or ", kMasterKeyEnv));
  }
  return crypto::ParseHexKey32(*text, absl::StrCat("environment variable ", kMasterKeyEnv));
}

absl::StatusOr<crypto::SecretBytes> FromFile(const std::string& file) {
  WarnIfSecretFileExposed(file, "master key");
  absl::StatusOr<crypto::SecretBytes> text = crypto::ReadSecretFile(file, 4096);
  if (!text.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read master key file: ", text.status().message()));
  }
  return crypto::ParseHexKey32(*text, absl::StrCat("master key file ", file));
}

}  // namespace

absl::StatusOr<crypto::SecretBytes> LoadMasterKey(const std::string& file) {
  if (!file.empty()) return FromFile(file);
  return FromEnvironment();
}

absl::StatusOr<crypto::SecretBytes> CreateMasterKeyFile(const std::string& file) {
  ASSIGN_OR_RETURN(crypto::SecretBytes key, crypto::RandomSecret(32));
  // Hex-encode straight into a secret buffer: no unwiped temporaries.
  static constexpr char kDigits[] = "0123456789abcdef";
  crypto::SecretBytes hex(2 * key.size() + 1);
  for (size_t i = 0; i < key.size(); ++i) {
    hex.RevealMutable()[2 * i] = kDigits[key.Reveal()[i] >> 4];
    hex.RevealMutable()[2 * i + 1] = kDigits[key.Reveal()[i] & 0xf];
  }
  hex.RevealMutable()[2 * key.size()] = '\n';
  absl::Status written = CreateFileAtomically(file, hex.RevealAsStringView(), 0600);
  if (absl::IsAlreadyExists(written)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "master key file ", file, " already exists; it is never replaced (the keyrings under it "
        "would be lost with it)"));
  }
  RETURN_IF_ERROR(written);
  return key;
}

absl::StatusOr<crypto::SecretBytes> LoadOrCreateDevelopmentMasterKey(
    const std::string& file, const std::string& keyring_file) {
  if (std::getenv(kMasterKeyEnv) != nullptr) return FromEnvironment();
  if (FileExists(file)) return FromFile(file);
  if (FileExists(keyring_file)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "keyring ", keyring_file, " exists but its master key file ", file,
        " is missing: restore it (or set ", kMasterKeyEnv, "); a new master key cannot open it"));
  }
  ASSIGN_OR_RETURN(crypto::SecretBytes key, CreateMasterKeyFile(file));
  log::Warn("development_master_key_created",
            {{"path", file},
             {"message",
              "generated a master key stored beside the keyring; this is for development only. "
              "In production give kms.local.master_key_file (from a secret store) or " +
                  std::string(kMasterKeyEnv)}});
  return key;
}

}  // namespace keybroker::kms
