// AzureKms: customer keys in Azure Key Vault (RSA / RSA-HSM, RSA-OAEP-256) and
// Managed HSM (oct-HSM AES-256, A256GCM) behind the Kms interface.
//
// Key ids are the configured key identifier URLs. EDEKs name a key as
// "{vault host}/{key name}" plus Key Vault's own version id: never a URL, and
// an EDEK naming a key that is not configured is rejected without a request.
//
// RSA keys: the current version's public key is cached (metadata TTL), and
// GenerateDek/Wrap encrypt locally with RSA-OAEP-256 over
//   DEK || SHA-256(EDEK authenticated header || canonical context),
// so only Unwrap calls Key Vault, and a changed context or header fails the
// hash check after unwrapping. Managed HSM AES keys: Wrap calls encrypt with
// A256GCM and the header and context as AAD; the IV and tag go in the EDEK.
//
// Key metadata (current version, key type, public key, attributes) is cached
// for `metadata_ttl`; Rotate refreshes it at once. After the customer removes
// access, wraps fail once the cached metadata expires and a refresh is
// refused: the revocation bound is the metadata TTL (and, for unwraps, the
// broker's unwrap cache TTL).
//
// An EDEK naming a version the vault refused as unknown (404, KEY_NOT_FOUND)
// is answered the same error without a request for `unknown_version_ttl`
// (unknown_version_cache.h), so that crafted EDEKs cannot each cost a Key
// Vault request.
//
// Keys named at run time: with a key source resolver, a key URI (or an EDEK
// naming "{host}/{name}") whose host a source covers is added on first use,
// with the source's options. Their number is bounded (least recently used
// dropped first, with their cached metadata; configured keys never are).
// A call holds its key by shared_ptr, so dropping one never pulls it from
// under a call. Lookups take a reader lock only.
//
// Safe for concurrent use; AddKey only before the first call.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_AZURE_KMS_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_AZURE_KMS_H_

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "crypto/rsa_oaep.h"
#include "kms_adapters/azure/key_id.h"
#include "kms_adapters/azure/key_vault_client.h"
#include "kms_adapters/azure/unknown_version_cache.h"
#include "kms_adapters/kms.h"
#include "kms_adapters/kms_observer.h"

namespace keybroker::kms::azure {

struct AzureKeyOptions {
  std::string key_url;        // the configured identifier (the Kms key_id)
  VaultKind kind = VaultKind::kVault;
  std::string scope;          // token scope of the vault
  TokenProvider* tokens = nullptr;  // outlives the AzureKms
  bool hsm_random = false;    // draw DEKs from the Managed HSM's RNG
};

// The options of a key on `id`'s host named at run time (key_url is set by
// the caller), or nullopt when no key source covers the host. Thread-safe,
// and makes no remote call.
using KeySourceResolver = std::function<std::optional<AzureKeyOptions>(const KeyId& id)>;

struct AzureKmsOptions {
  // How long the current version's metadata is used before it is fetched
  // again: the revocation bound for wraps (cache.metadata_ttl_seconds).
  absl::Duration metadata_ttl = absl::Seconds(30);
  // How long a version the vault refused as unknown is refused without asking
  // again (cache.unknown_version_ttl_seconds); zero turns that off.
  absl::Duration unknown_version_ttl = absl::Seconds(60);
  // How many such versions are remembered at most (the oldest go first).
  size_t unknown_version_max_entries = 10000;
  // Keys named at run time (kms.azure.key_sources); empty: none.
  KeySourceResolver key_sources = nullptr;
  // How many such keys are kept at most (kms.azure.max_runtime_keys).
  size_t max_runtime_keys = 1000;
};

class AzureKms : public Kms {
 public:
  // `client` and `observer` must outlive the AzureKms; the observer hears of
  // lookups in the key metadata and unknown version caches.
  AzureKms(KeyVaultClient* client, const AzureKmsOptions& options,
           KmsObserver* observer = NoKmsObserver())
      : client_(client),
        metadata_ttl_(options.metadata_ttl),
        observer_(observer),
        key_sources_(options.key_sources),
        max_runtime_keys_(std::max<size_t>(1, options.max_runtime_keys)),
        unknown_versions_(options.unknown_version_ttl, options.unknown_version_max_entries) {}
  // The defaults but for the metadata TTL.
  AzureKms(KeyVaultClient* client, absl::Duration metadata_ttl,
           KmsObserver* observer = NoKmsObserver())
      : AzureKms(client, WithMetadataTtl(metadata_ttl), observer) {}

  // Registers a key before any call (the same URL again is another alias of
  // it). INVALID_ARGUMENT for a malformed URL, or two URLs for one key.
  absl::Status AddKey(AzureKeyOptions options);

  crypto::EdekKms kind() const override { return crypto::EdekKms::kAzure; }
  bool calls_remote_service() const override { return true; }
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
  // Also for an EDEK naming a key that a key source covers (not added yet).
  absl::StatusOr<std::string> KeyIdOf(const crypto::Edek& edek) override;
  absl::StatusOr<std::string> KeyIdForUri(absl::string_view uri) const override;
  // Rotates in Key Vault (or, without the rotate permission, picks up the
  // latest version the customer made). KEY_VERSION_PINNED for a key whose
  // configured URL names a version: its current version is the configuration's.
  absl::StatusOr<std::string> Rotate(absl::string_view key_id,
                                     const CallOptions& options) override;
  absl::StatusOr<std::string> EdekKeyNameOf(absl::string_view key_id) const override;
  std::vector<std::string> KeysUsedWithin(absl::Duration window) const override;
  // A GET of the key's current version (or its pinned one), refreshing the
  // cached metadata: a refusal drops it.
  absl::Status Probe(absl::string_view key_id, const CallOptions& options) override;
  // The versions the vault lists (keys/list), at most kMaxVersionPages pages
  // of 25; a version is enabled when the vault would use it now (enabled,
  // within nbf and exp).
  absl::StatusOr<std::vector<KeyVersionInfo>> ListVersions(absl::string_view key_id,
                                                           const CallOptions& options) override;

  // Pages of version listing read at most (Managed HSM keeps at most 100
  // versions of a key, §8); a longer list is cut there.
  static constexpr int kMaxVersionPages = 8;

 private:
  static AzureKmsOptions WithMetadataTtl(absl::Duration metadata_ttl) {
    AzureKmsOptions options;
    options.metadata_ttl = metadata_ttl;
    return options;
  }
  // A validated snapshot of the key's current version.
  struct Metadata {
    KeyBundle bundle;
    std::shared_ptr<const crypto::RsaOaepPublicKey> public_key;  // RSA keys
    absl::Time fetched;  // MonotonicNow(), for the TTL
  };
  // The metadata fetch of a key: at most one in flight.
  struct Refresh {
    bool in_flight = false;
    uint64_t generation = 0;  // fetches finished
    absl::Status last_error;  // of the last finished fetch
  };
  // A key and what is cached of it. The cache lives in the binding, under
  // its own lock, so that dropping a runtime key drops its state with it
  // and keys never wait on each other.
  struct Binding {
    AzureKeyOptions options;
    VaultKey vault_key;
    std::string pinned_version;  // from a versioned URL; empty: follow the latest
    bool runtime = false;        // named at run time: may be dropped
    uint64_t added = 0;          // order of addition (ties of last use)
    // When a call last used the key: seconds of the coarse monotonic clock,
    // written only when the second changes (no shared write per call).
    mutable std::atomic<int64_t> last_used_seconds{0};
    mutable absl::Mutex mu;
    mutable std::shared_ptr<const Metadata> metadata ABSL_GUARDED_BY(mu);
    mutable Refresh refresh ABSL_GUARDED_BY(mu);
    // When a refusal last dropped the metadata (MonotonicNow()).
    mutable std::optional<absl::Time> dropped_at ABSL_GUARDED_BY(mu);
  };
  using BindingPtr = std::shared_ptr<const Binding>;

  // The binding of `key_id`, marked used (Touch); a runtime key a source
  // covers is added (again, after being dropped) on the way.
  absl::StatusOr<BindingPtr> Find(absl::string_view key_id);
  // The binding if it is there now; adds nothing.
  absl::StatusOr<BindingPtr> FindUntouched(absl::string_view key_id) const;
  // Adds the runtime key of `id` (canonical URL `url`), dropping the least
  // recently used beyond the bound; the existing binding if there is one.
  absl::StatusOr<BindingPtr> AddRuntimeKey(const KeyId& id, const std::string& url);
  void EvictOneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(keys_mu_);
  // The options for `id` from the key sources, if one covers its host.
  std::optional<AzureKeyOptions> SourceFor(const KeyId& id) const;
  static void Touch(const Binding& binding);
  // The key_id of the key `edek` names: configured, added, or one a source
  // covers. EDEK_INVALID otherwise.
  absl::StatusOr<std::string> KnownKeyOf(const crypto::Edek& edek) const;
  // The current version's metadata, fetched again when older than the TTL or
  // when `refresh` (one fetch per key at a time; others wait for it). Any
  // failed fetch drops the cached copy, so nothing stale outlives a refusal.
  absl::StatusOr<std::shared_ptr<const Metadata>> Current(const Binding& binding,
                                                          const CallOptions& options,
                                                          bool refresh);
  // For a local_only call (kms.h): the cached metadata if it is fresh, of an
  // RSA key (whose wraps are local) and not being fetched again (a call
  // would wait for that fetch); null otherwise. Counts a cache hit when it
  // returns some, nothing when not (the call is then made again without
  // local_only, and counted then).
  std::shared_ptr<const Metadata> FreshRsaMetadata(const Binding& binding);
  absl::StatusOr<std::shared_ptr<const Metadata>> Fetch(const Binding& binding,
                                                        const CallOptions& options);
  // Validates a fetched bundle (RSA public key of 2048 bits or more).
  absl::StatusOr<std::shared_ptr<const Metadata>> MetadataFor(const Binding& binding,
                                                              KeyBundle bundle, absl::Time fetched);
  void Store(const Binding& binding, std::shared_ptr<const Metadata> metadata);
  static void StoreLocked(const Binding& binding, std::shared_ptr<const Metadata> metadata)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(binding.mu);

  absl::StatusOr<WrappedKey> WrapRsa(const Binding& binding, const Metadata& metadata,
                                     crypto::Edek edek, const crypto::SecretBytes& dek,
                                     const crypto::EncryptionContext& context);
  absl::StatusOr<WrappedKey> WrapGcm(const Binding& binding, const Metadata& metadata,
                                     crypto::Edek edek, const crypto::SecretBytes& dek,
                                     const crypto::EncryptionContext& context,
                                     const CallOptions& options);
  // Unwraps at the vault (unwrapkey or decrypt), checking an RSA EDEK's
  // binding to its header and context.
  absl::StatusOr<crypto::SecretBytes> UnwrapAtVault(const Binding& binding,
                                                    const crypto::Edek& edek,
                                                    const crypto::EncryptionContext& context,
                                                    const CallOptions& options);

  // Set at construction.
  KeyVaultClient* const client_;
  const absl::Duration metadata_ttl_;
  KmsObserver* const observer_;
  const KeySourceResolver key_sources_;
  const size_t max_runtime_keys_;

  UnknownVersionCache unknown_versions_;

  mutable absl::Mutex keys_mu_;
  absl::flat_hash_map<std::string, BindingPtr> by_url_ ABSL_GUARDED_BY(keys_mu_);
  // Configured keys and unversioned runtime keys (a runtime URL naming a
  // version is reached by that URL only; EDEKs go through the unversioned).
  absl::flat_hash_map<std::string, BindingPtr> by_edek_name_ ABSL_GUARDED_BY(keys_mu_);
  size_t runtime_keys_ ABSL_GUARDED_BY(keys_mu_) = 0;
  uint64_t added_ ABSL_GUARDED_BY(keys_mu_) = 0;
};

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_AZURE_KMS_H_
