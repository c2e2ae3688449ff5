#include "server/azure_key_sources.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/glob.h"

namespace keybroker::server {
namespace {

namespace az = kms::azure;

// One source, ready to match: globs lower-cased (hosts are, by ParseKeyId).
struct Source {
  std::vector<std::string> globs;
  AzureIdentityConfig identity;  // a copy: the resolver owns what it reads
  az::TokenProvider* tokens = nullptr;
};

az::VaultKind KindOf(absl::string_view host) {
  absl::StatusOr<az::CloudEndpoints> cloud = az::InferCloudEndpoints(host);
  if (cloud.ok()) return cloud->kind;
  return absl::StrContains(host, ".managedhsm.") ? az::VaultKind::kManagedHsm
                                                 : az::VaultKind::kVault;
}

}  // namespace

std::string AzureScopeFor(const AzureIdentityConfig& identity, az::VaultKind kind,
                          absl::string_view host) {
  if (!identity.scope.empty()) return identity.scope;
  absl::StatusOr<az::CloudEndpoints> cloud = az::InferCloudEndpoints(host);
  if (cloud.ok()) return cloud->scope;
  return kind == az::VaultKind::kVault ? "https://vault.azure.net/.default"
                                       : "https://managedhsm.azure.net/.default";
}

az::KeySourceResolver NewKeySourceResolver(
    const AzureConfig& azure, const std::map<std::string, az::TokenProvider*>& tokens) {
  auto sources = std::make_shared<std::vector<Source>>();
  for (const AzureKeySourceConfig& config : azure.key_sources) {
    auto tokens_of = tokens.find(config.identity);
    if (tokens_of == tokens.end()) continue;  // the configuration checked it names one
    Source source;
    for (const std::string& glob : config.vaults) {
      source.globs.push_back(absl::AsciiStrToLower(glob));
    }
    for (const AzureIdentityConfig& identity : azure.identities) {
      if (identity.name == config.identity) source.identity = identity;
    }
    source.tokens = tokens_of->second;
    sources->push_back(std::move(source));
  }
  if (sources->empty()) return nullptr;
  return [sources](const az::KeyId& id) -> std::optional<az::AzureKeyOptions> {
    for (const Source& source : *sources) {
      for (const std::string& glob : source.globs) {
        if (!GlobMatch(glob, id.host)) continue;
        az::AzureKeyOptions options;
        options.kind = KindOf(id.host);
        options.scope = AzureScopeFor(source.identity, options.kind, id.host);
        options.tokens = source.tokens;
        return options;
      }
    }
    return std::nullopt;
  };
}

}  // namespace keybroker::server
