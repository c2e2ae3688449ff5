// Key Vault key identifiers and what the vault's host tells about it.
//
// A key identifier is https://{vault}.{suffix}/keys/{name}[/{version}] (Key
// Vault) or https://{hsm}.managedhsm.{suffix}/keys/{name}[/{version}] (Managed
// HSM). Identifiers compare case-insensitively (keyvault-protocol.md §1.1), so
// host and name are kept lower-cased; versions are 32 lowercase hex in
// practice and kept as given.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_KEY_ID_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_KEY_ID_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keybroker::kms::azure {

enum class VaultKind { kVault, kManagedHsm };

struct KeyId {
  std::string scheme;    // always "https"
  std::string host;      // lower-cased, with ":port" when one was given
  std::string name;      // lower-cased
  std::string version;   // empty: follow the latest version

  // "https://host" — where requests go.
  std::string VaultUrl() const { return scheme + "://" + host; }
  // "host/name" — how an EDEK names the key (never a URL).
  std::string EdekName() const { return host + "/" + name; }
};

// Parses a key identifier. INVALID_ARGUMENT naming what is wrong, also for
// a host or port the transport would not connect to (ParseUrl's rules).
absl::StatusOr<KeyId> ParseKeyId(absl::string_view url);

// Where tokens for a vault come from and for what audience.
struct CloudEndpoints {
  VaultKind kind = VaultKind::kVault;
  std::string authority;  // e.g. https://login.microsoftonline.com
  std::string scope;      // e.g. https://vault.azure.net/.default
};

// Infers the vault kind, Entra authority and token scope from a vault host
// (public cloud, US Government, China; vault or managedhsm). NOT_FOUND when
// the host is none of the known suffixes (then configuration must say).
absl::StatusOr<CloudEndpoints> InferCloudEndpoints(absl::string_view host);

absl::string_view VaultKindName(VaultKind kind);  // "vault" | "managed_hsm"

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_KEY_ID_H_
