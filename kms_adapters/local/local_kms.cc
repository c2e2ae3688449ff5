#include "kms_adapters/local/local_kms.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/error_reason.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/monotonic_time.h"
#include "common/status_macros.h"
#include "crypto/aes_gcm.h"
#include "crypto/bytes.h"
#include "crypto/hkdf.h"
#include "crypto/random.h"
#include "kms_adapters/local/keyring_file.h"

namespace keybroker::kms {
namespace {

using crypto::AsBytes;
using crypto::AsMutableBytes;

constexpr absl::string_view kAlgorithm = "AES-256-GCM";
constexpr size_t kMaxDekSize = 64;

// Each EDEK gets its own AES-GCM key, derived from the KEK version with a
// fresh 256-bit random salt (kept in the EDEK's IV field). A key is then used
// once, so the all-zero nonce is safe, and the 2^32-wraps limit of random
// 96-bit GCM nonces under one key does not apply to a long-lived KEK.
constexpr size_t kSaltSize = 32;
constexpr absl::string_view kWrapKeyInfo = "keybroker local wrap v1";
constexpr uint8_t kZeroNonce[crypto::AesGcm::kNonceSize] = {};

// What a caller told KEY_VERSION_NOT_YET_LOADED is asked to wait (RetryInfo):
// about when this replica may look at the file again.
constexpr absl::Duration kNotYetLoadedRetryDelay = absl::Seconds(1);

absl::StatusOr<crypto::SecretBytes> WrapKeyFor(const KeyVersion& version,
                                               const crypto::Edek& edek) {
  return crypto::HkdfSha256(version.material, AsBytes(edek.iv), kWrapKeyInfo,
                            crypto::AesGcm::kKeySize);
}

// EDEK_INVALID unless `edek` is a local AES-256-GCM EDEK.
absl::Status CheckShape(const crypto::Edek& edek) {
  if (edek.kms != crypto::EdekKms::kLocal ||
      edek.algorithm != crypto::EdekAlgorithm::kAes256Gcm) {
    return EdekInvalid("edek is not a local AES-256-GCM edek");
  }
  return absl::OkStatus();
}

// The GCM associated data: authenticated EDEK header, then the context.
absl::StatusOr<std::string> AssociatedData(const crypto::Edek& edek,
                                           const crypto::EncryptionContext& context) {
  ASSIGN_OR_RETURN(std::string aad, crypto::EdekAuthenticatedHeader(edek));
  aad.append(context.canonical());
  return aad;
}

// Opens the keyring file, or makes a new keyring when there is none yet.
// `digest` gets the SHA-256 of the file read: the reloader's starting point.
absl::StatusOr<Keyring> OpenOrCreate(const LocalKmsOptions& options,
                                     const crypto::SecretBytes& master_key, bool* dirty,
                                     crypto::Sha256Digest* digest) {
  std::string file;
  absl::Status read = ReadKeyringFileBytes(options.keyring_file, &file);
  if (read.ok()) {
    *digest = crypto::Sha256(AsBytes(file));
    return DecodeKeyringFile(options.keyring_file, file, master_key);
  }
  if (!absl::IsNotFound(read)) return read;
  if (options.read_only) {
    return absl::FailedPreconditionError(absl::StrCat(
        "keyring file ", options.keyring_file, " does not exist and kms.local.read_only is set"));
  }
  *dirty = true;
  log::Info("keyring_created", {{"path", options.keyring_file}});
  return Keyring();
}

// A read-only keyring cannot gain keys: each required one must be there.
absl::Status RequireKeys(const Keyring& keyring, const LocalKmsOptions& options) {
  for (const std::string& name : options.required_keys) {
    if (!keyring.HasKey(name)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "local key ", name, " is not in the read-only keyring ", options.keyring_file));
    }
  }
  return absl::OkStatus();
}

// Each key's current version, for the log (names and numbers, no material).
log::Fields CurrentVersions(const Keyring& keyring) {
  log::Fields versions = log::Fields::object();
  for (const std::string& name : keyring.KeyNames()) {
    versions[name] = absl::StrCat(keyring.Current(name)->number);
  }
  return versions;
}

void LogReloadFailed(const std::string& keyring_file, absl::string_view error) {
  log::Error("keyring_reload_failed", {{"keyring_file", keyring_file},
                                       {"error", std::string(error)},
                                       {"message", "still serving the keyring loaded before"}});
}

}  // namespace

std::string KeyringLockPath(const std::string& keyring_file) { return keyring_file + ".lock"; }

absl::StatusOr<std::unique_ptr<LocalKms>> LocalKms::Create(LocalKmsOptions options,
                                                           crypto::SecretBytes master_key) {
  if (master_key.size() != crypto::AesGcm::kKeySize) {
    return absl::InvalidArgumentError("the master key must be 32 bytes");
  }
  if (options.read_only && options.reload_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the keyring reload interval must be positive");
  }
  if (options.observer == nullptr) options.observer = NoKmsObserver();
  if (!options.read_only && options.lock == nullptr) {
    ASSIGN_OR_RETURN(options.lock, FileLock::Acquire(KeyringLockPath(options.keyring_file)));
  }
  bool dirty = false;
  crypto::Sha256Digest digest = {};
  ASSIGN_OR_RETURN(Keyring keyring, OpenOrCreate(options, master_key, &dirty, &digest));
  if (options.read_only) {
    RETURN_IF_ERROR(RequireKeys(keyring, options));
  } else {
    for (const std::string& name : options.required_keys) {
      if (keyring.HasKey(name)) continue;
      RETURN_IF_ERROR(keyring.AddKey(name, absl::Now()));
      log::Info("local_key_created", {{"key", name}, {"version", "1"}});
      dirty = true;
    }
  }
  if (dirty) RETURN_IF_ERROR(WriteKeyringFile(options.keyring_file, master_key, keyring));
  std::unique_ptr<LocalKms> kms(
      new LocalKms(std::move(options), std::move(master_key), std::move(keyring), digest));
  if (kms->options_.read_only) kms->reloader_ = std::thread(&LocalKms::PollKeyring, kms.get());
  return kms;
}

LocalKms::LocalKms(LocalKmsOptions options, crypto::SecretBytes master_key, Keyring keyring,
                   const crypto::Sha256Digest& file_digest)
    : options_(std::move(options)),
      master_key_(std::move(master_key)),
      keyring_(std::make_shared<const Keyring>(std::move(keyring))),
      served_digest_(file_digest),
      seen_digest_(file_digest) {}

LocalKms::~LocalKms() {
  stop_.Notify();
  if (reloader_.joinable()) reloader_.join();
}

void LocalKms::PollKeyring() {
  while (!stop_.WaitForNotificationWithTimeout(options_.reload_interval)) ReloadIfChanged();
}

void LocalKms::ReloadIfChanged() { Reload(ReloadTrigger::kPoll); }

bool LocalKms::ReloadOnDemand() {
  if (!options_.read_only) return false;
  {
    absl::MutexLock lock(&demand_mu_);
    const absl::Time now = MonotonicNow();
    if (now < next_on_demand_reload_) return false;
    next_on_demand_reload_ = now + options_.on_demand_reload_spacing;
  }
  Reload(ReloadTrigger::kEdek);
  return true;
}

void LocalKms::Reload(ReloadTrigger trigger) {
  if (!options_.read_only) return;  // a writable keyring changes only through Rotate
  absl::MutexLock write_lock(&write_mu_);
  std::string file;
  absl::Status read = ReadKeyringFileBytes(options_.keyring_file, &file);
  // An unreadable file is told apart by its error, so that a lasting error
  // is logged once, like lasting bad contents.
  if (!read.ok()) file = absl::StrCat("unreadable: ", read.message());
  crypto::Sha256Digest digest = crypto::Sha256(AsBytes(file));
  absl::Time start = absl::Now();
  if (digest == seen_digest_) {
    if (!unserved_error_.ok()) Report("reload", unserved_error_, start);
    return;
  }
  seen_digest_ = digest;
  unserved_error_ = absl::OkStatus();
  // Back to the file being served (say, a bad file was put right): no news.
  if (digest == served_digest_) return;
  absl::Status reloaded = read;
  if (read.ok()) {
    reloaded = TakeKeyring(file, digest, trigger);
  } else {
    LogReloadFailed(options_.keyring_file, read.message());
  }
  unserved_error_ = reloaded;
  Report("reload", reloaded, start);
}

absl::Status LocalKms::TakeKeyring(absl::string_view file, const crypto::Sha256Digest& digest,
                                   ReloadTrigger trigger) {
  absl::StatusOr<Keyring> next = DecodeKeyringFile(options_.keyring_file, file, master_key_);
  if (!next.ok()) {
    LogReloadFailed(options_.keyring_file, next.status().message());
    return next.status();
  }
  absl::Status fits = next->CheckSupersedes(*Snapshot());
  if (fits.ok()) fits = RequireKeys(*next, options_);
  if (!fits.ok()) {
    log::Error("keyring_reload_refused",
               {{"keyring_file", options_.keyring_file},
                {"error", std::string(fits.message())},
                {"message",
                 "a new keyring must keep every key and version of the one being served; "
                 "still serving the keyring loaded before"}});
    return fits;
  }
  log::Fields versions = CurrentVersions(*next);
  {
    absl::MutexLock lock(&mu_);
    keyring_ = std::make_shared<const Keyring>(*std::move(next));
  }
  served_digest_ = digest;
  log::Info("keyring_reloaded",
            {{"keyring_file", options_.keyring_file},
             {"keys", std::move(versions)},
             {"trigger", trigger == ReloadTrigger::kEdek ? "edek" : "poll"}});
  return absl::OkStatus();
}

std::shared_ptr<const Keyring> LocalKms::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return keyring_;
}

absl::StatusOr<KeyDescription> LocalKms::Describe(absl::string_view key_id,
                                                  const CallOptions& options) {
  std::shared_ptr<const Keyring> keyring = Snapshot();
  const KeyVersion* current = keyring->Current(key_id);
  if (current == nullptr) return KeyNotFound(absl::StrCat("no local key named ", key_id));
  KeyDescription description;
  description.key_version = absl::StrCat(current->number);
  description.algorithm = std::string(kAlgorithm);
  description.kms = "local";
  description.quantum_resistant = true;  // AES-256 keeps ~128-bit strength against Grover.
  description.customer_managed = false;
  return description;
}

absl::StatusOr<crypto::SecretBytes> LocalKms::GenerateDekMaterial(absl::string_view key_id,
                                                                 size_t size,
                                                                 const CallOptions& options) {
  return crypto::RandomSecret(size);
}

absl::StatusOr<WrappedKey> LocalKms::Wrap(absl::string_view key_id,
                                          const crypto::SecretBytes& dek,
                                          const crypto::EncryptionContext& context,
                                          const CallOptions& options) {
  absl::Time start = absl::Now();
  absl::StatusOr<WrappedKey> wrapped = WrapUnderCurrent(key_id, dek, context);
  Report("wrap", wrapped.status(), start);
  return wrapped;
}

absl::StatusOr<WrappedKey> LocalKms::WrapUnderCurrent(absl::string_view key_id,
                                                      const crypto::SecretBytes& dek,
                                                      const crypto::EncryptionContext& context) {
  if (dek.empty() || dek.size() > kMaxDekSize) {
    return InvalidRequest(absl::StrCat("key material must be 1 to ", kMaxDekSize, " bytes"));
  }
  std::shared_ptr<const Keyring> keyring = Snapshot();
  const KeyVersion* current = keyring->Current(key_id);
  if (current == nullptr) return KeyNotFound(absl::StrCat("no local key named ", key_id));

  crypto::Edek edek;
  edek.kms = crypto::EdekKms::kLocal;
  edek.algorithm = crypto::EdekAlgorithm::kAes256Gcm;
  edek.key_name = std::string(key_id);
  edek.key_version = absl::StrCat(current->number);
  edek.iv.resize(kSaltSize);
  edek.tag.resize(crypto::AesGcm::kTagSize);
  edek.wrapped.resize(dek.size());
  RETURN_IF_ERROR(crypto::FillRandom(AsMutableBytes(edek.iv)));
  ASSIGN_OR_RETURN(crypto::SecretBytes wrap_key, WrapKeyFor(*current, edek));
  ASSIGN_OR_RETURN(std::string aad, AssociatedData(edek, context));
  RETURN_IF_ERROR(crypto::AesGcm::Seal(wrap_key, kZeroNonce, dek.Reveal(),
                                       AsBytes(aad), AsMutableBytes(edek.wrapped),
                                       AsMutableBytes(edek.tag)));
  ASSIGN_OR_RETURN(std::string encoded, crypto::EncodeEdek(edek));
  return WrappedKey{std::move(encoded), std::move(edek.key_version)};
}

absl::StatusOr<crypto::SecretBytes> LocalKms::DerivePurposeKey(absl::string_view key_id,
                                                               absl::string_view version,
                                                               absl::string_view purpose,
                                                               std::string* used_version) {
  const KeyVersion* found = nullptr;
  std::shared_ptr<const Keyring> keyring = Snapshot();
  if (version.empty()) {
    found = keyring->Current(key_id);
  } else if (absl::StatusOr<uint32_t> number = ParseVersion(key_id, version); number.ok()) {
    absl::StatusOr<std::shared_ptr<const Keyring>> holding = KeyringHolding(key_id, *number);
    if (ReasonOf(holding.status()) == ErrorReason::kKeyVersionNotYetLoaded) {
      return holding.status();
    }
    if (holding.ok()) found = (*holding)->Find(key_id, *number);
  }
  if (found == nullptr) {
    return KeyNotFound(absl::StrCat("local key '", absl::CHexEscape(key_id), "' has no version '",
                                    absl::CHexEscape(version), "'"));
  }
  *used_version = absl::StrCat(found->number);
  return crypto::HkdfSha256(found->material, {}, purpose, 32);
}

absl::StatusOr<uint32_t> LocalKms::ParseVersion(absl::string_view key,
                                                absl::string_view version) {
  uint32_t number = 0;
  if (!absl::SimpleAtoi(version, &number) || version != absl::StrCat(number) || number == 0) {
    // Untrusted bytes: escaped for the message.
    return EdekInvalid(absl::StrCat("edek names local key '", absl::CHexEscape(key),
                                    "' with version '", absl::CHexEscape(version),
                                    "', which is not a version number"));
  }
  return number;
}

absl::StatusOr<std::shared_ptr<const Keyring>> LocalKms::KeyringHolding(absl::string_view key,
                                                                        uint32_t number) {
  std::shared_ptr<const Keyring> keyring = Snapshot();
  const KeyVersion* current = keyring->Current(key);
  if (current == nullptr) {
    return EdekInvalid(absl::StrCat("edek names local key '", absl::CHexEscape(key),
                                    "', which this keyring does not hold"));
  }
  // Versions are never removed: only one above the current can be missing.
  if (number <= current->number) return keyring;
  if (ReloadOnDemand()) {
    keyring = Snapshot();
    current = keyring->Current(key);
    if (number <= current->number) return keyring;
  }
  const uint32_t ahead = number - current->number;
  if (!options_.read_only || ahead > options_.max_versions_ahead) {
    // No rollout brings a writable keyring a version, nor skips that many:
    // this EDEK was not made by this keyring, and retrying will not help.
    return EdekInvalid(absl::StrCat("edek names local key '", absl::CHexEscape(key),
                                    "' version ", number,
                                    ", which this keyring does not hold (its current version is ",
                                    current->number, ")"));
  }
  absl::Status status = MakeError(
      ErrorReason::kKeyVersionNotYetLoaded,
      absl::StrCat("local key '", absl::CHexEscape(key), "' version ", number,
                   " is not loaded on this replica yet (its current version is ", current->number,
                   ", and its keyring file does not have a newer one yet): retry, on another "
                   "replica if there is one"));
  SetRetryDelay(status, kNotYetLoadedRetryDelay);
  return status;
}

absl::StatusOr<crypto::SecretBytes> LocalKms::Unwrap(const crypto::Edek& edek,
                                                     const crypto::EncryptionContext& context,
                                                     const CallOptions& options) {
  absl::Time start = absl::Now();
  absl::StatusOr<crypto::SecretBytes> dek = UnwrapEdek(edek, context);
  Report("unwrap", dek.status(), start);
  return dek;
}

absl::StatusOr<crypto::SecretBytes> LocalKms::UnwrapEdek(const crypto::Edek& edek,
                                                         const crypto::EncryptionContext& context) {
  RETURN_IF_ERROR(CheckShape(edek));
  if (edek.iv.size() != kSaltSize || edek.tag.size() != crypto::AesGcm::kTagSize ||
      edek.wrapped.size() > kMaxDekSize) {
    return EdekInvalid("edek salt, tag or wrapped key has the wrong size for a local edek");
  }
  ASSIGN_OR_RETURN(uint32_t number, ParseVersion(edek.key_name, edek.key_version));
  if (const uint32_t floor = FloorOf(edek.key_name); number < floor) {
    // Retired by the operator: refused before any key is derived, like a
    // disabled Key Vault version (the customer-caused reason, not an alert).
    return MakeError(ErrorReason::kKeyDisabled,
                     absl::StrCat("edek is under version ", number, " of local key '",
                                  absl::CHexEscape(edek.key_name),
                                  "', below the key's min_decryption_version ", floor,
                                  ": versions below it no longer unwrap; rewrap data under a "
                                  "newer version before raising the floor"));
  }
  // May look at the keyring file (rate-limited) for a version above ours.
  ASSIGN_OR_RETURN(std::shared_ptr<const Keyring> keyring, KeyringHolding(edek.key_name, number));
  const KeyVersion* version = keyring->Find(edek.key_name, number);
  ASSIGN_OR_RETURN(crypto::SecretBytes wrap_key, WrapKeyFor(*version, edek));
  ASSIGN_OR_RETURN(std::string aad, AssociatedData(edek, context));
  crypto::SecretBytes dek(edek.wrapped.size());
  absl::Status opened =
      crypto::AesGcm::Open(wrap_key, kZeroNonce, AsBytes(edek.wrapped),
                           AsBytes(aad), AsBytes(edek.tag), dek.RevealMutable());
  if (!opened.ok()) {
    return EdekInvalid(absl::StrCat(
        "edek does not authenticate under local key ", absl::CHexEscape(edek.key_name),
        " version ", number, ": it was tampered with or the encryption context differs"));
  }
  return dek;
}

absl::StatusOr<std::string> LocalKms::KeyIdOf(const crypto::Edek& edek) {
  // The key only: a version this replica has not loaded yet still names a
  // configured key (the authorization rules decide on it), and Unwrap says
  // what that version is. No I/O here.
  RETURN_IF_ERROR(CheckShape(edek));
  RETURN_IF_ERROR(ParseVersion(edek.key_name, edek.key_version).status());
  if (!Snapshot()->HasKey(edek.key_name)) {
    return EdekInvalid(absl::StrCat("edek names local key '", absl::CHexEscape(edek.key_name),
                                    "', which this keyring does not hold"));
  }
  return edek.key_name;
}

uint32_t LocalKms::FloorOf(absl::string_view key_id) const {
  auto it = options_.min_decryption_versions.find(key_id);
  return it == options_.min_decryption_versions.end() ? 0 : it->second;
}

absl::StatusOr<std::vector<KeyVersionInfo>> LocalKms::ListVersions(absl::string_view key_id,
                                                                   const CallOptions& options) {
  std::shared_ptr<const Keyring> keyring = Snapshot();
  const std::vector<KeyVersion>* versions = keyring->Versions(key_id);
  if (versions == nullptr) return KeyNotFound(absl::StrCat("no local key named ", key_id));
  const uint32_t floor = FloorOf(key_id);
  std::vector<KeyVersionInfo> listed;
  listed.reserve(versions->size());
  for (const KeyVersion& version : *versions) {
    KeyVersionInfo info;
    info.version = absl::StrCat(version.number);
    info.created = version.created;
    info.enabled = version.number >= floor;
    listed.push_back(std::move(info));
  }
  return listed;
}

absl::StatusOr<std::string> LocalKms::Rotate(absl::string_view key_id,
                                             const CallOptions& options) {
  absl::Time start = absl::Now();
  absl::StatusOr<std::string> version = AddVersion(key_id);
  Report("rotate", version.status(), start);
  return version;
}

absl::StatusOr<std::string> LocalKms::AddVersion(absl::string_view key_id) {
  if (options_.read_only) {
    return MakeError(ErrorReason::kKeyringReadOnly,
                     "the local keyring is read-only (kms.local.read_only): rotate the keyring "
                     "file out of band with `keybrokerctl keyring rotate`; every replica "
                     "reloads it within kms.local.reload_interval_seconds");
  }
  absl::MutexLock write_lock(&write_mu_);
  Keyring next = Snapshot()->Clone();
  ASSIGN_OR_RETURN(const KeyVersion* added, next.AddVersion(key_id, absl::Now()));
  std::string version = absl::StrCat(added->number);
  // Durable first, visible second: never wrap under a version not on disk.
  absl::Status written = WriteKeyringFile(options_.keyring_file, master_key_, next);
  if (!written.ok()) {
    log::Error("local_key_rotation_not_saved",
               {{"key", std::string(key_id)}, {"error", std::string(written.message())}});
    return Internal(absl::StrCat("rotation of local key ", key_id,
                                 " could not be saved; the broker's log says why"));
  }
  {
    absl::MutexLock lock(&mu_);
    keyring_ = std::make_shared<const Keyring>(std::move(next));
  }
  log::Info("local_key_rotated", {{"key", std::string(key_id)}, {"version", version}});
  return version;
}

}  // namespace keybroker::kms
