// CachedTokens: an identity's TokenCache seen as the TokenProvider the Key
// Vault client asks, so that the client does not depend on Entra ID.
#ifndef KEYBROKER_SERVER_AZURE_CACHED_TOKENS_H_
#define KEYBROKER_SERVER_AZURE_CACHED_TOKENS_H_

#include <memory>
#include <utility>

#include "kms_adapters/azure/entra/token_cache.h"
#include "kms_adapters/azure/key_vault_client.h"

namespace keybroker::server {

class CachedTokens : public kms::azure::TokenProvider {
 public:
  explicit CachedTokens(std::unique_ptr<kms::azure::TokenCache> cache) : cache_(std::move(cache)) {}
  absl::StatusOr<crypto::SecretBytes> Token(absl::string_view scope, absl::Time deadline) override {
    return cache_->Token(scope, deadline);
  }
  void Invalidate(absl::string_view scope) override { cache_->Invalidate(scope); }

 private:
  std::unique_ptr<kms::azure::TokenCache> cache_;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_AZURE_CACHED_TOKENS_H_
