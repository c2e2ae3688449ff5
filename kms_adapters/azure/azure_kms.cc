#include "kms_adapters/azure/azure_kms.h"

#include <openssl/crypto.h>
#include <time.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/error_reason.h"
#include "common/monotonic_time.h"
#include "common/status_macros.h"
#include "crypto/bytes.h"
#include "crypto/hmac.h"
#include "crypto/random.h"

namespace keybroker::kms::azure {
namespace {

constexpr absl::string_view kRsaAlgorithm = "RSA-OAEP-256";
constexpr absl::string_view kGcmAlgorithm = "AES-256-GCM";
constexpr size_t kContextHashSize = 32;
constexpr size_t kMinRsaBits = 2048;

bool IsKeyVaultVersion(absl::string_view version) {
  return version.size() == 32 && std::all_of(version.begin(), version.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Whole seconds of the coarse monotonic clock: key use is tracked to the
// second, for the access probe's idle window.
int64_t CoarseMonotonicSeconds() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return now.tv_sec;
}

bool IsRsa(const KeyBundle& bundle) { return bundle.kty == "RSA" || bundle.kty == "RSA-HSM"; }
bool IsAes(const KeyBundle& bundle) { return bundle.kty == "oct-HSM" || bundle.kty == "oct"; }

absl::Status Disabled(const VaultKey& key, absl::string_view why) {
  return MakeError(ErrorReason::kKeyDisabled,
                   absl::StrCat("key ", key.id.EdekName(), " cannot be used: ", why));
}

// Checks that the current version may wrap now (§3.2, §7.2).
absl::Status CheckUsable(const VaultKey& key, const KeyBundle& bundle, VaultKind kind,
                         absl::Time now) {
  if (std::optional<absl::string_view> why =
          UnusableBecause(bundle.enabled, bundle.not_before, bundle.expires, now)) {
    return Disabled(key, absl::StrCat("it ", *why));
  }
  if (IsRsa(bundle)) {
    if (!bundle.HasOp("wrapKey") || !bundle.HasOp("unwrapKey")) {
      return Disabled(key, "its key_ops lack wrapKey or unwrapKey");
    }
    return absl::OkStatus();
  }
  if (IsAes(bundle) && kind == VaultKind::kManagedHsm) {
    if (!bundle.HasOp("encrypt") || !bundle.HasOp("decrypt")) {
      return Disabled(key, "its key_ops lack encrypt or decrypt");
    }
    return absl::OkStatus();
  }
  return Disabled(key, absl::StrCat("key type ", bundle.kty, " is not supported (RSA, RSA-HSM, "
                                    "or oct-HSM on a Managed HSM)"));
}

// Authenticated EDEK header || canonical context: what an EDEK is bound to
// (the AAD of Managed HSM AES keys; hashed inside RSA ciphertexts).
absl::StatusOr<std::string> GcmAad(const crypto::Edek& edek,
                                   const crypto::EncryptionContext& context) {
  ASSIGN_OR_RETURN(std::string aad, crypto::EdekAuthenticatedHeader(edek));
  aad.append(context.canonical());
  return aad;
}

// SHA-256 of the above: binds an RSA EDEK to its header and context, inside
// the RSA ciphertext.
absl::StatusOr<crypto::Sha256Digest> ContextBinding(const crypto::Edek& edek,
                                                    const crypto::EncryptionContext& context) {
  ASSIGN_OR_RETURN(std::string bound, GcmAad(edek, context));
  return crypto::Sha256(crypto::AsBytes(bound));
}

crypto::Edek NewEdek(const VaultKey& key, const KeyBundle& bundle) {
  crypto::Edek edek;
  edek.kms = crypto::EdekKms::kAzure;
  edek.algorithm =
      IsRsa(bundle) ? crypto::EdekAlgorithm::kRsaOaep256 : crypto::EdekAlgorithm::kAes256Gcm;
  edek.key_name = key.id.EdekName();
  edek.key_version = bundle.version;
  return edek;
}

}  // namespace

absl::Status AzureKms::AddKey(AzureKeyOptions options) {
  ASSIGN_OR_RETURN(KeyId id, ParseKeyId(options.key_url));
  absl::MutexLock lock(&keys_mu_);
  if (by_url_.contains(options.key_url)) return absl::OkStatus();  // another alias, same key
  if (by_edek_name_.contains(id.EdekName())) {
    return absl::InvalidArgumentError(absl::StrCat("azure key ", options.key_url,
                                                   " is configured twice"));
  }
  auto binding = std::make_shared<Binding>();
  binding->pinned_version = id.version;
  binding->vault_key = VaultKey{id, options.scope, options.tokens, options.key_url,
                                options.kind == VaultKind::kManagedHsm ? "azure_managed_hsm"
                                                                        : "azure_key_vault"};
  binding->options = std::move(options);
  binding->added = ++added_;
  by_edek_name_[id.EdekName()] = binding;
  by_url_[binding->options.key_url] = std::move(binding);
  return absl::OkStatus();
}

namespace {

// The URL a runtime key is kept under: host and name lower-cased, so that
// one key written two ways is one key.
std::string CanonicalUrl(const KeyId& id) {
  std::string url = absl::StrCat(id.VaultUrl(), "/keys/", id.name);
  if (!id.version.empty()) absl::StrAppend(&url, "/", id.version);
  return url;
}

}  // namespace

std::optional<AzureKeyOptions> AzureKms::SourceFor(const KeyId& id) const {
  if (!key_sources_) return std::nullopt;
  std::optional<AzureKeyOptions> options = key_sources_(id);
  if (options.has_value()) options->key_url = CanonicalUrl(id);
  return options;
}

absl::StatusOr<std::string> AzureKms::KeyIdForUri(absl::string_view uri) const {
  absl::StatusOr<KeyId> id = ParseKeyId(uri);
  if (!id.ok()) return InvalidRequest(id.status().message());
  {
    absl::ReaderMutexLock lock(&keys_mu_);
    if (by_url_.contains(uri)) return std::string(uri);
    std::string url = CanonicalUrl(*id);
    if (by_url_.contains(url)) return url;
    // An unversioned URI of a key known under another form (configured,
    // say): that key.
    auto named = by_edek_name_.find(id->EdekName());
    if (id->version.empty() && named != by_edek_name_.end()) {
      return named->second->options.key_url;
    }
  }
  // The host decides before anything is sent: no source, no request.
  if (!SourceFor(*id).has_value()) {
    return KeyNotFound(absl::StrCat("no key source covers the vault host ", id->host));
  }
  return CanonicalUrl(*id);
}

absl::StatusOr<AzureKms::BindingPtr> AzureKms::AddRuntimeKey(const KeyId& id,
                                                             const std::string& url) {
  std::optional<AzureKeyOptions> options = SourceFor(id);
  if (!options.has_value()) return KeyNotFound(absl::StrCat("no azure key ", url));
  BindingPtr added;
  {
    absl::MutexLock lock(&keys_mu_);
    auto it = by_url_.find(url);
    if (it != by_url_.end()) return it->second;  // another call added it first
    auto named = by_edek_name_.find(id.EdekName());
    if (id.version.empty() && named != by_edek_name_.end()) return named->second;
    if (runtime_keys_ >= max_runtime_keys_) EvictOneLocked();
    auto binding = std::make_shared<Binding>();
    binding->pinned_version = id.version;
    binding->vault_key = VaultKey{id, options->scope, options->tokens, url,
                                  options->kind == VaultKind::kManagedHsm ? "azure_managed_hsm"
                                                                           : "azure_key_vault"};
    binding->options = *std::move(options);
    binding->runtime = true;
    binding->added = ++added_;
    Touch(*binding);  // the newest: not the next one dropped
    if (id.version.empty()) by_edek_name_[id.EdekName()] = binding;
    by_url_[url] = binding;
    ++runtime_keys_;
    // Told under the lock, so that its removal cannot be told first.
    observer_->KeyAdded(url, id.EdekName());
    added = std::move(binding);
  }
  return added;
}

void AzureKms::EvictOneLocked() {
  const Binding* oldest = nullptr;
  for (const auto& [url, binding] : by_url_) {
    if (!binding->runtime) continue;
    if (oldest == nullptr ||
        std::make_pair(binding->last_used_seconds.load(std::memory_order_relaxed),
                       binding->added) <
            std::make_pair(oldest->last_used_seconds.load(std::memory_order_relaxed),
                           oldest->added)) {
      oldest = binding.get();
    }
  }
  if (oldest == nullptr) return;
  // Calls that hold it finish with it; its cached metadata goes with the
  // last of them.
  std::string url = oldest->options.key_url;
  auto named = by_edek_name_.find(oldest->vault_key.id.EdekName());
  if (named != by_edek_name_.end() && named->second.get() == oldest) by_edek_name_.erase(named);
  by_url_.erase(url);
  --runtime_keys_;
  observer_->KeyRemoved(url);
}

absl::StatusOr<AzureKms::BindingPtr> AzureKms::Find(absl::string_view key_id) {
  absl::StatusOr<BindingPtr> binding = FindUntouched(key_id);
  if (!binding.ok() && key_sources_) {
    // A runtime key (first use, or dropped since): added again when a
    // source still covers it.
    absl::StatusOr<KeyId> id = ParseKeyId(key_id);
    if (id.ok()) binding = AddRuntimeKey(*id, CanonicalUrl(*id));
  }
  if (binding.ok()) Touch(**binding);
  return binding;
}

absl::StatusOr<AzureKms::BindingPtr> AzureKms::FindUntouched(absl::string_view key_id) const {
  absl::ReaderMutexLock lock(&keys_mu_);
  auto it = by_url_.find(key_id);
  if (it == by_url_.end()) return KeyNotFound(absl::StrCat("no azure key ", key_id));
  return it->second;
}

void AzureKms::Touch(const Binding& binding) {
  const int64_t now = CoarseMonotonicSeconds();
  if (binding.last_used_seconds.load(std::memory_order_relaxed) != now) {
    binding.last_used_seconds.store(now, std::memory_order_relaxed);
  }
}

absl::StatusOr<std::string> AzureKms::EdekKeyNameOf(absl::string_view key_id) const {
  ASSIGN_OR_RETURN(BindingPtr binding, FindUntouched(key_id));
  return binding->vault_key.id.EdekName();
}

std::vector<std::string> AzureKms::KeysUsedWithin(absl::Duration window) const {
  const int64_t since =
      CoarseMonotonicSeconds() - absl::ToInt64Seconds(absl::Ceil(window, absl::Seconds(1)));
  std::vector<std::string> used;
  absl::ReaderMutexLock lock(&keys_mu_);
  for (const auto& [url, binding] : by_url_) {
    const int64_t last = binding->last_used_seconds.load(std::memory_order_relaxed);
    if (last != 0 && last >= since) used.push_back(url);
  }
  return used;
}

absl::Status AzureKms::Probe(absl::string_view key_id, const CallOptions& options) {
  ASSIGN_OR_RETURN(BindingPtr binding, FindUntouched(key_id));
  return Current(*binding, options, /*refresh=*/true).status();
}

absl::StatusOr<std::shared_ptr<const AzureKms::Metadata>> AzureKms::Fetch(
    const Binding& binding, const CallOptions& options) {
  // Stamped before the request: the TTL (the revocation bound) counts from
  // the moment the answer might already have been true.
  absl::Time started = MonotonicNow();
  ASSIGN_OR_RETURN(KeyBundle bundle,
                   client_->GetKey(binding.vault_key, binding.pinned_version, options.deadline,
                                   options.cancelled));
  return MetadataFor(binding, std::move(bundle), started);
}

absl::StatusOr<std::shared_ptr<const AzureKms::Metadata>> AzureKms::MetadataFor(
    const Binding& binding, KeyBundle bundle, absl::Time fetched) {
  auto metadata = std::make_shared<Metadata>();
  if (IsRsa(bundle)) {
    absl::StatusOr<crypto::RsaOaepPublicKey> key = crypto::RsaOaepPublicKey::FromJwk(bundle.n,
                                                                                    bundle.e);
    if (!key.ok() || key->modulus_bits() < kMinRsaBits) {
      return Disabled(binding.vault_key, "its RSA public key is not a usable key of 2048 bits "
                                         "or more");
    }
    metadata->public_key = std::make_shared<const crypto::RsaOaepPublicKey>(*std::move(key));
  }
  metadata->bundle = std::move(bundle);
  metadata->fetched = fetched;
  return metadata;
}

void AzureKms::Store(const Binding& binding, std::shared_ptr<const Metadata> metadata) {
  absl::MutexLock lock(&binding.mu);
  StoreLocked(binding, std::move(metadata));
}

void AzureKms::StoreLocked(const Binding& binding, std::shared_ptr<const Metadata> metadata) {
  if (metadata == nullptr) {
    binding.metadata = nullptr;
    binding.dropped_at = MonotonicNow();
    return;
  }
  // A slow fetch that began before a refusal dropped the key must not bring
  // the key back.
  if (binding.dropped_at.has_value() && metadata->fetched <= *binding.dropped_at) return;
  binding.metadata = std::move(metadata);
}

absl::StatusOr<std::shared_ptr<const AzureKms::Metadata>> AzureKms::Current(
    const Binding& binding, const CallOptions& options, bool refresh) {
  absl::MutexLock lock(&binding.mu);
  Refresh& state = binding.refresh;
  while (!refresh || state.in_flight) {
    // One fetch per key at a time: when the TTL runs out under load, the
    // others wait for it (each until its own deadline or cancellation)
    // instead of all asking.
    uint64_t generation = state.generation;
    auto settled = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(binding.mu) {
      return !state.in_flight || state.generation != generation;
    };
    if (!AwaitUnlessCancelled(&binding.mu, absl::Condition(&settled), options.deadline,
                              options.cancelled)) {
      if (IsCancelled(options.cancelled)) return CallerCancelled();
      // The caller's deadline: the fetch waited for reports its own outcome.
      return CallerDeadlineExceeded(
          "deadline passed while another call fetched the key's metadata");
    }
    if (binding.metadata != nullptr && MonotonicNow() - binding.metadata->fetched < metadata_ttl_) {
      if (!refresh) observer_->CacheLookup("key_metadata", /*hit=*/true);
      return binding.metadata;
    }
    if (state.generation != generation && !state.last_error.ok()) return state.last_error;
    // Nothing fresh and no fetch in flight (none was, or its caller cancelled
    // it): fetch here; else another call took over: wait for that one.
    if (!state.in_flight) break;
  }
  if (!refresh) observer_->CacheLookup("key_metadata", /*hit=*/false);
  state.in_flight = true;
  binding.mu.Unlock();
  absl::StatusOr<std::shared_ptr<const Metadata>> fetched = Fetch(binding, options);
  binding.mu.Lock();
  state.in_flight = false;
  ++state.generation;
  if (absl::IsCancelled(fetched.status()) ||
      ReasonOf(fetched.status()) == ErrorReason::kDeadlineExceeded) {
    // Our caller gave up or ran out of time, which says nothing about the
    // key: the cache stays as it is, and a waiting call (whose deadline may
    // be later) fetches for itself rather than inherit ours.
    state.last_error = absl::OkStatus();
    return fetched;
  }
  state.last_error = fetched.status();
  if (fetched.ok()) {
    StoreLocked(binding, *fetched);
  } else {
    // The copy has expired (or a refresh was asked for): a key the customer
    // revoked, disabled or deleted must not come back from it.
    StoreLocked(binding, nullptr);
  }
  return fetched;
}

std::shared_ptr<const AzureKms::Metadata> AzureKms::FreshRsaMetadata(const Binding& binding) {
  std::shared_ptr<const Metadata> metadata;
  {
    absl::MutexLock lock(&binding.mu);
    if (binding.refresh.in_flight) return nullptr;
    if (binding.metadata == nullptr ||
        MonotonicNow() - binding.metadata->fetched >= metadata_ttl_ ||
        !IsRsa(binding.metadata->bundle)) {
      return nullptr;
    }
    metadata = binding.metadata;
  }
  observer_->CacheLookup("key_metadata", /*hit=*/true);
  return metadata;
}

absl::StatusOr<KeyDescription> AzureKms::Describe(absl::string_view key_id,
                                                  const CallOptions& options) {
  if (options.local_only) return WouldBlock();  // always asks the vault
  ASSIGN_OR_RETURN(BindingPtr binding, Find(key_id));
  ASSIGN_OR_RETURN(std::shared_ptr<const Metadata> metadata,
                   Current(*binding, options, /*refresh=*/true));
  RETURN_IF_ERROR(
      CheckUsable(binding->vault_key, metadata->bundle, binding->options.kind, absl::Now()));
  KeyDescription description;
  description.key_version = metadata->bundle.version;
  description.algorithm = std::string(IsRsa(metadata->bundle) ? kRsaAlgorithm : kGcmAlgorithm);
  description.kms = binding->options.kind == VaultKind::kVault ? "azure_key_vault"
                                                               : "azure_managed_hsm";
  description.quantum_resistant = !IsRsa(metadata->bundle);
  description.customer_managed = true;
  return description;
}

absl::StatusOr<crypto::SecretBytes> AzureKms::GenerateDekMaterial(absl::string_view key_id,
                                                                 size_t size,
                                                                 const CallOptions& options) {
  ASSIGN_OR_RETURN(BindingPtr binding, Find(key_id));
  if (binding->options.hsm_random && binding->options.kind == VaultKind::kManagedHsm) {
    if (options.local_only) return WouldBlock();
    return client_->RandomBytes(binding->vault_key, static_cast<int>(size), options.deadline,
                                options.cancelled);
  }
  return crypto::RandomSecret(size);
}

absl::StatusOr<WrappedKey> AzureKms::Wrap(absl::string_view key_id,
                                          const crypto::SecretBytes& dek,
                                          const crypto::EncryptionContext& context,
                                          const CallOptions& options) {
  ASSIGN_OR_RETURN(BindingPtr binding, Find(key_id));
  std::shared_ptr<const Metadata> metadata;
  if (options.local_only) {
    // Only an RSA wrap with the cached public key is local.
    metadata = FreshRsaMetadata(*binding);
    if (metadata == nullptr) return WouldBlock();
  } else {
    ASSIGN_OR_RETURN(metadata, Current(*binding, options, /*refresh=*/false));
  }
  RETURN_IF_ERROR(
      CheckUsable(binding->vault_key, metadata->bundle, binding->options.kind, absl::Now()));
  crypto::Edek edek = NewEdek(binding->vault_key, metadata->bundle);
  if (IsRsa(metadata->bundle)) {
    return WrapRsa(*binding, *metadata, std::move(edek), dek, context);
  }
  return WrapGcm(*binding, *metadata, std::move(edek), dek, context, options);
}

absl::StatusOr<WrappedKey> AzureKms::WrapRsa(const Binding& binding, const Metadata& metadata,
                                             crypto::Edek edek, const crypto::SecretBytes& dek,
                                             const crypto::EncryptionContext& context) {
  ASSIGN_OR_RETURN(crypto::Sha256Digest bound, ContextBinding(edek, context));
  crypto::SecretBytes inner(dek.size() + kContextHashSize);
  std::copy(dek.Reveal().begin(), dek.Reveal().end(), inner.RevealMutable().begin());
  std::copy(bound.begin(), bound.end(), inner.RevealMutable().begin() + dek.size());
  ASSIGN_OR_RETURN(edek.wrapped, metadata.public_key->Encrypt(inner.Reveal()));
  ASSIGN_OR_RETURN(std::string encoded, crypto::EncodeEdek(edek));
  return WrappedKey{std::move(encoded), std::move(edek.key_version)};
}

absl::StatusOr<WrappedKey> AzureKms::WrapGcm(const Binding& binding, const Metadata& metadata,
                                             crypto::Edek edek, const crypto::SecretBytes& dek,
                                             const crypto::EncryptionContext& context,
                                             const CallOptions& options) {
  ASSIGN_OR_RETURN(std::string aad, GcmAad(edek, context));
  ASSIGN_OR_RETURN(GcmCiphertext sealed, client_->EncryptGcm(binding.vault_key, edek.key_version,
                                                             dek, aad, options.deadline,
                                                             options.cancelled));
  edek.wrapped = std::move(sealed.value);
  edek.iv = std::move(sealed.iv);
  edek.tag = std::move(sealed.tag);
  ASSIGN_OR_RETURN(std::string encoded, crypto::EncodeEdek(edek));
  return WrappedKey{std::move(encoded), std::move(edek.key_version)};
}

absl::StatusOr<std::string> AzureKms::KeyIdOf(const crypto::Edek& edek) {
  absl::StatusOr<std::string> key_url = KnownKeyOf(edek);
  if (!key_url.ok()) return key_url.status();
  // The version goes into the request path: only Key Vault's own form (32
  // lowercase hex, which the EDEK codec stores raw) may reach it.
  if (!IsKeyVaultVersion(edek.key_version)) {
    return EdekInvalid("edek's azure key version is not a Key Vault version id");
  }
  return key_url;
}

absl::StatusOr<std::string> AzureKms::KnownKeyOf(const crypto::Edek& edek) const {
  absl::Status unknown = EdekInvalid("edek names an azure key this broker is not configured with");
  if (edek.kms != crypto::EdekKms::kAzure) return unknown;
  {
    absl::ReaderMutexLock lock(&keys_mu_);
    auto it = by_edek_name_.find(edek.key_name);
    if (it != by_edek_name_.end()) return it->second->options.key_url;
  }
  // A key no alias binds: one a key source covers, named the way this
  // broker names keys ({host}/{name}, lower-cased), else nothing is sent.
  size_t slash = edek.key_name.find('/');
  if (slash == std::string::npos) return unknown;
  absl::StatusOr<KeyId> id = ParseKeyId(absl::StrCat(
      "https://", edek.key_name.substr(0, slash), "/keys/", edek.key_name.substr(slash + 1)));
  if (!id.ok() || id->EdekName() != edek.key_name || !SourceFor(*id).has_value()) return unknown;
  return CanonicalUrl(*id);
}

absl::StatusOr<crypto::SecretBytes> AzureKms::Unwrap(const crypto::Edek& edek,
                                                     const crypto::EncryptionContext& context,
                                                     const CallOptions& options) {
  if (options.local_only) return WouldBlock();  // every unwrap asks the vault
  // Only configured keys and keys a source covers: a crafted EDEK never
  // makes the broker send anything elsewhere.
  ASSIGN_OR_RETURN(std::string key_url, KeyIdOf(edek));
  ASSIGN_OR_RETURN(BindingPtr binding, Find(key_url));
  // AES-GCM EDEKs come only from Managed HSM keys (CheckUsable): one naming
  // a Key Vault key is forged, and is refused without costing a request
  // (RSA EDEKs have edek_authentication for that).
  if (edek.algorithm == crypto::EdekAlgorithm::kAes256Gcm &&
      binding->options.kind != VaultKind::kManagedHsm) {
    return EdekInvalid(absl::StrCat("the EDEK is AES-GCM, but key ", edek.key_name,
                                    " is in a Key Vault, whose keys wrap with RSA only"));
  }
  // Nor, more than once a TTL, a made-up version of a known key.
  std::optional<absl::Status> unknown = unknown_versions_.Find(edek.key_name, edek.key_version);
  observer_->CacheLookup("unknown_version", /*hit=*/unknown.has_value());
  if (unknown.has_value()) return *std::move(unknown);
  absl::StatusOr<crypto::SecretBytes> dek = UnwrapAtVault(*binding, edek, context, options);
  if (ReasonOf(dek.status()) == ErrorReason::kKeyNotFound) {
    unknown_versions_.Remember(edek.key_name, edek.key_version, dek.status());
  }
  return dek;
}

absl::StatusOr<crypto::SecretBytes> AzureKms::UnwrapAtVault(
    const Binding& binding, const crypto::Edek& edek, const crypto::EncryptionContext& context,
    const CallOptions& options) {
  if (edek.algorithm == crypto::EdekAlgorithm::kAes256Gcm) {
    ASSIGN_OR_RETURN(std::string aad, GcmAad(edek, context));
    return client_->DecryptGcm(binding.vault_key, edek.key_version,
                               GcmCiphertext{edek.wrapped, edek.iv, edek.tag}, aad,
                               options.deadline, options.cancelled);
  }
  ASSIGN_OR_RETURN(crypto::Sha256Digest bound, ContextBinding(edek, context));
  ASSIGN_OR_RETURN(crypto::SecretBytes inner,
                   client_->UnwrapKey(binding.vault_key, edek.key_version, kRsaAlgorithm,
                                      edek.wrapped, options.deadline, options.cancelled));
  if (inner.size() <= kContextHashSize ||
      CRYPTO_memcmp(inner.Reveal().data() + inner.size() - kContextHashSize, bound.data(),
                    kContextHashSize) != 0) {
    return EdekInvalid(absl::StrCat("edek under azure key ", binding.vault_key.id.EdekName(),
                                    " does not match its header or encryption context"));
  }
  return crypto::SecretBytes::CopyFrom(inner.Reveal().subspan(0, inner.size() - kContextHashSize));
}

absl::StatusOr<std::string> AzureKms::Rotate(absl::string_view key_id,
                                             const CallOptions& options) {
  if (options.local_only) return WouldBlock();  // always asks the vault
  ASSIGN_OR_RETURN(BindingPtr binding, Find(key_id));
  if (!binding->pinned_version.empty()) {
    // The caller asked for what this configuration does not allow, as with a
    // read-only keyring: FAILED_PRECONDITION with its own reason, never a
    // reasonless error the edge would report as INTERNAL.
    return MakeError(ErrorReason::kKeyVersionPinned,
                     absl::StrCat("azure key ", key_id, " is pinned to version ",
                                  binding->pinned_version,
                                  " by the configuration; rotate by configuring a new version "
                                  "(or the key URL without a version, to follow the latest)"));
  }
  absl::StatusOr<KeyBundle> rotated = client_->RotateKey(binding->vault_key, options.deadline,
                                                         options.cancelled);
  if (rotated.ok()) {
    // Use what rotate returned: a GET right after could still see the old
    // version, and failing here would make the caller rotate again.
    absl::StatusOr<std::shared_ptr<const Metadata>> metadata =
        MetadataFor(*binding, *std::move(rotated), MonotonicNow());
    if (metadata.ok()) {
      Store(*binding, *metadata);
      return (*metadata)->bundle.version;
    }
  } else if (ReasonOf(rotated.status()) != ErrorReason::kKeyNotAccessible) {
    return rotated.status();
  }
  // Without the rotate permission the customer rotates in Key Vault; pick
  // the latest version up at once.
  ASSIGN_OR_RETURN(std::shared_ptr<const Metadata> metadata,
                   Current(*binding, options, /*refresh=*/true));
  return metadata->bundle.version;
}

absl::StatusOr<std::vector<KeyVersionInfo>> AzureKms::ListVersions(absl::string_view key_id,
                                                                   const CallOptions& options) {
  if (options.local_only) return WouldBlock();  // always asks the vault
  ASSIGN_OR_RETURN(BindingPtr binding, Find(key_id));
  ASSIGN_OR_RETURN(std::vector<KeyVersionItem> items,
                   client_->ListKeyVersions(binding->vault_key, kMaxVersionPages,
                                            options.deadline, options.cancelled));
  const absl::Time now = absl::Now();
  std::vector<KeyVersionInfo> versions;
  versions.reserve(items.size());
  for (KeyVersionItem& item : items) {
    KeyVersionInfo info;
    info.version = std::move(item.version);
    info.created = item.created;
    // As CheckUsable judges the current version: what the vault would refuse.
    info.enabled = !UnusableBecause(item.enabled, item.not_before, item.expires, now).has_value();
    versions.push_back(std::move(info));
  }
  return versions;
}

}  // namespace keybroker::kms::azure
