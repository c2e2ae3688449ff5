#include "kms_adapters/azure/key_id.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kms_adapters/azure/url.h"

namespace keybroker::kms::azure {
namespace {

struct KnownCloud {
  absl::string_view vault_suffix;  // DNS suffix of vaults
  absl::string_view hsm_suffix;    // DNS suffix of Managed HSMs
  absl::string_view authority;     // Entra authority host (§1.3)
};

// keyvault-protocol.md §1.2 and §1.3.
constexpr KnownCloud kClouds[] = {
    {".vault.azure.net", ".managedhsm.azure.net", "https://login.microsoftonline.com"},
    {".vault.usgovcloudapi.net", ".managedhsm.usgovcloudapi.net",
     "https://login.microsoftonline.us"},
    {".vault.azure.cn", ".managedhsm.azure.cn", "https://login.chinacloudapi.cn"},
};

bool IsNameChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-'; }

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) || absl::ascii_isupper(c)) {
      return false;
    }
  }
  return true;
}

absl::Status Invalid(absl::string_view url, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("key identifier '", url, "' ", why));
}

}  // namespace

absl::StatusOr<KeyId> ParseKeyId(absl::string_view url) {
  KeyId id;
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "https://")) {
    id.scheme = "https";
  } else {
    return Invalid(url, "must start with https://");
  }
  std::vector<absl::string_view> parts = absl::StrSplit(rest, '/');
  if (!parts.empty() && parts.back().empty()) parts.pop_back();  // a trailing '/'
  if (parts.size() < 3 || parts.size() > 4 || parts[1] != "keys") {
    return Invalid(url, "must look like https://{vault-host}/keys/{name}[/{version}]");
  }
  // The host must be one the transport will connect to (url.h: a DNS name,
  // IPv4 or [IPv6] and a port 1-65535), or the key would pass start-up and
  // then fail every call.
  if (parts[0].empty() || parts[0].find_first_of("?#@") != absl::string_view::npos ||
      !ParseUrl(absl::StrCat("https://", parts[0])).ok()) {
    return Invalid(url, "has no usable host");
  }
  absl::string_view host = parts[0];
  absl::ConsumeSuffix(&host, ":443");  // the service's default port
  id.host = absl::AsciiStrToLower(host);
  if (parts[2].empty() || parts[2].size() > 127 ||
      !std::all_of(parts[2].begin(), parts[2].end(), IsNameChar)) {
    return Invalid(url, "has a key name that is not 1-127 of 0-9, a-z, A-Z, -");
  }
  id.name = absl::AsciiStrToLower(parts[2]);
  if (parts.size() == 4) {
    if (parts[3].size() != 32 || !IsLowerHex(absl::AsciiStrToLower(parts[3]))) {
      return Invalid(url, "has a version that is not 32 hex characters");
    }
    id.version = absl::AsciiStrToLower(parts[3]);
  }
  if (id.EdekName().size() > 255) return Invalid(url, "is too long for an EDEK");
  return id;
}

absl::StatusOr<CloudEndpoints> InferCloudEndpoints(absl::string_view host) {
  std::string bare(host.substr(0, host.find(':')));
  for (const KnownCloud& cloud : kClouds) {
    for (VaultKind kind : {VaultKind::kVault, VaultKind::kManagedHsm}) {
      absl::string_view suffix = kind == VaultKind::kVault ? cloud.vault_suffix : cloud.hsm_suffix;
      if (absl::EndsWith(bare, suffix) && bare.size() > suffix.size()) {
        // The scope is the resource (the suffix without its leading '.'):
        // https://vault.azure.net/.default, https://managedhsm.azure.net/.default.
        return CloudEndpoints{kind, std::string(cloud.authority),
                              absl::StrCat("https://", suffix.substr(1), "/.default")};
      }
    }
  }
  return absl::NotFoundError(absl::StrCat(
      "host ", host, " is not a known Key Vault or Managed HSM host (public, US Government or "
      "China cloud); set vault_kind, oauth_endpoint_url and scope in the configuration"));
}

absl::string_view VaultKindName(VaultKind kind) {
  return kind == VaultKind::kVault ? "vault" : "managed_hsm";
}

}  // namespace keybroker::kms::azure
