#include "server/registry_factory.h"

#include "server/azure_kms_factory.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/file_lock.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "kms_adapters/local/local_kms.h"
#include "kms_adapters/local/master_key.h"

namespace keybroker::server {
namespace {

// A floor above a key's current version would refuse the EDEKs the broker
// is about to make: refused at start, naming the field.
absl::Status CheckFloorsReached(const Config& config, kms::LocalKms& local) {
  for (size_t i = 0; i < config.keys.size(); ++i) {
    const KeyBinding& binding = config.keys[i];
    if (binding.local_key.empty() || binding.min_decryption_version == 0) continue;
    ASSIGN_OR_RETURN(kms::KeyDescription key, local.Describe(binding.local_key, {}));
    int64_t current = 0;
    if (!absl::SimpleAtoi(key.key_version, &current) ||
        current < binding.min_decryption_version) {
      return absl::InvalidArgumentError(absl::StrCat(
          "keys[", i, "].min_decryption_version ", binding.min_decryption_version,
          " is above the current version ", key.key_version, " of local key '",
          binding.local_key, "': new EDEKs would not unwrap; rotate the key first"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<kms::Kms>> OpenLocalKms(const Config& config,
                                                       kms::KmsObserver* observer) {
  const LocalKmsConfig& local = *config.local;
  kms::LocalKmsOptions options;
  if (!local.read_only) {
    RETURN_IF_ERROR(MakeDirectories(DirectoryOf(local.keyring_file), 0700));
    // Taken before the master key is read or generated, so that two brokers
    // starting on one directory cannot both create a master key.
    absl::StatusOr<std::unique_ptr<FileLock>> lock =
        FileLock::Acquire(kms::KeyringLockPath(local.keyring_file));
    if (!lock.ok()) return Annotate(lock.status(), "kms.local");
    options.lock = *std::move(lock);
  }
  absl::StatusOr<crypto::SecretBytes> master_key =
      local.generate_master_key
          ? kms::LoadOrCreateDevelopmentMasterKey(local.master_key_file, local.keyring_file)
          : kms::LoadMasterKey(local.master_key_file);
  if (!master_key.ok()) return Annotate(master_key.status(), "kms.local");
  options.keyring_file = local.keyring_file;
  options.read_only = local.read_only;
  options.reload_interval = absl::Seconds(local.reload_interval_seconds);
  options.observer = observer;
  for (const KeyBinding& binding : config.keys) {
    if (binding.local_key.empty()) continue;
    options.required_keys.push_back(binding.local_key);
    if (binding.min_decryption_version > 0) {
      options.min_decryption_versions[binding.local_key] =
          static_cast<uint32_t>(binding.min_decryption_version);
    }
  }
  if (config.edek_authentication.has_value()) {
    options.required_keys.push_back(config.edek_authentication->local_key);
  }
  absl::StatusOr<std::unique_ptr<kms::LocalKms>> kms =
      kms::LocalKms::Create(std::move(options), *std::move(master_key));
  if (!kms.ok()) return Annotate(kms.status(), "kms.local");
  RETURN_IF_ERROR(CheckFloorsReached(config, **kms));
  return std::unique_ptr<kms::Kms>(*std::move(kms));
}

}  // namespace

absl::StatusOr<std::unique_ptr<KeyRegistry>> BuildKeyRegistry(const Config& config,
                                                               kms::KmsObserver* observer) {
  auto registry = std::make_unique<KeyRegistry>();
  if (config.local.has_value()) {
    ASSIGN_OR_RETURN(std::unique_ptr<kms::Kms> local, OpenLocalKms(config, observer));
    RETURN_IF_ERROR(registry->AddKms(std::move(local)));
  }
  for (const KeyBinding& binding : config.keys) {
    if (binding.local_key.empty()) continue;
    RETURN_IF_ERROR(registry->Bind(binding.alias, crypto::EdekKms::kLocal, binding.local_key));
  }
  if (config.azure.has_value()) RETURN_IF_ERROR(AddAzureKms(config, registry.get(), observer));
  return registry;
}

}  // namespace keybroker::server
