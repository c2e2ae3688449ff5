// Encryptor: ties the DEK budgets (encryption_keys, and per thread
// encryption_leases), the decrypt-side cache (decrypt_cache) and the
// ciphertext layout (ciphertext_format) to AES-GCM (keyed_dek: a context per
// DEK and thread, so a record sets only its nonce, drawn from a per-thread
// batch of CSPRNG output), and to the source's key watch, whose events of an
// inaccessible key drop that key's DEKs from all three caches.
#include "keybroker/sdk/encryptor.h"

#include <climits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client_sdk/src/ciphertext_format.h"
#include "client_sdk/src/decrypt_cache.h"
#include "client_sdk/src/encryption_keys.h"
#include "client_sdk/src/encryption_leases.h"
#include "client_sdk/src/keyed_dek.h"
#include "common/error_reason.h"
#include "common/status_macros.h"
#include "crypto/aes_gcm.h"
#include "crypto/bytes.h"
#include "crypto/edek.h"
#include "crypto/random.h"

namespace keybroker::sdk {

using crypto::AesGcm;
using crypto::AsBytes;

// What AesGcm (OpenSSL's int lengths) can encrypt in one call.
constexpr size_t kMaxPlaintextSize = INT_MAX;

namespace {

// Whether `edek` was made under the key EDEKs name `key_name`. An EDEK that
// does not decode (a source that is not the broker) names no key.
bool EdekNamesKey(absl::string_view edek, absl::string_view key_name) {
  absl::StatusOr<crypto::Edek> decoded = crypto::DecodeEdek(edek);
  return decoded.ok() && decoded->key_name == key_name;
}

// What EDEKs under the key a key URI alias names call it (the broker's
// {host}/{name}: lower-cased, without the default port or a version), or ""
// when `alias` is not a key URI. So that an event of the key reaches an
// alias written another way (upper case, a version) while it holds no DEK
// yet, a fetch in flight: there is no EDEK to compare then.
std::string EdekNameOfKeyUri(absl::string_view alias) {
  if (!absl::ConsumePrefix(&alias, "https://")) return "";
  std::vector<absl::string_view> parts = absl::StrSplit(alias, '/');
  if (parts.size() < 3 || parts[1] != "keys" || parts[0].empty() || parts[2].empty()) return "";
  absl::string_view host = parts[0];
  absl::ConsumeSuffix(&host, ":443");
  return absl::AsciiStrToLower(absl::StrCat(host, "/", parts[2]));
}

}  // namespace

class Encryptor::Impl {
 public:
  Impl(DekSource* source, const EncryptorOptions& options, internal::DekBudget budget,
       const Clock* clock)
      : source_(source),
        context_(options.dek_context),
        clock_(clock),
        keys_(source, options.dek_context, budget, clock),
        leases_(&keys_, budget, clock),
        decrypt_cache_(options.decrypt_cache_entries, options.decrypt_cache_ttl) {}

  // Seals into the bytes `buffer_for(ciphertext size)` returns (called at
  // most once, with the DEK's lease held).
  absl::Status EncryptWith(absl::string_view key_alias, absl::string_view plaintext,
                           absl::string_view aad,
                           absl::FunctionRef<absl::Span<uint8_t>(size_t)> buffer_for);
  absl::Status DecryptInto(absl::string_view ciphertext, absl::string_view aad,
                           std::string& plaintext);

  // Subscribes to the source's key events, if it can watch.
  void Watch(DekSource* source);
  absl::Status KeyWatchStatus() const;

 private:
  // Drops what an event of an inaccessible key makes unusable.
  void OnKeyEvent(const KeyEvent& event);

  // DecryptInto but for emptying `plaintext` on errors.
  absl::Status ParseAndOpen(absl::string_view ciphertext, absl::string_view aad,
                            std::string& plaintext);
  // Returns the DEK inside `edek`, from the cache or through the source.
  absl::StatusOr<std::shared_ptr<const internal::KeyedDek>> DekFor(absl::string_view edek);

  DekSource* const source_;
  const Context context_;
  const Clock* const clock_;
  internal::EncryptionKeys keys_;
  internal::EncryptionLeases leases_;  // after keys_: uses it, goes first
  internal::DecryptCache decrypt_cache_;
  // Last: destroyed first, so that no event arrives while the rest goes.
  std::unique_ptr<KeyWatch> watch_;
};

void Encryptor::Impl::Watch(DekSource* source) {
  // Every key: the Encryptor learns its aliases only as it is called.
  watch_ = source->WatchKeys({}, [this](const KeyEvent& event) { OnKeyEvent(event); });
}

absl::Status Encryptor::Impl::KeyWatchStatus() const {
  return watch_ == nullptr ? absl::OkStatus() : watch_->status();
}

void Encryptor::Impl::OnKeyEvent(const KeyEvent& event) {
  // An accessible key (again) invalidates nothing cached: DEKs dropped
  // before are fetched anew on demand.
  if (event.accessible) return;
  const std::string& name = event.edek_key_name;
  // By alias, and by the key name in the EDEKs: an alias that is a key URI
  // reaches the same key as the alias the event names.
  std::vector<std::string> aliases =
      keys_.DropIf([&](absl::string_view alias, absl::string_view edek) {
        return alias == event.key ||
               (!name.empty() && (EdekNamesKey(edek, name) || EdekNameOfKeyUri(alias) == name));
      });
  // After the keys: a lease renewed from now on cannot get a dropped DEK.
  for (const std::string& alias : aliases) leases_.Drop(alias);
  if (!name.empty()) {
    decrypt_cache_.DropIf([&](absl::string_view edek) { return EdekNamesKey(edek, name); });
  }
}

absl::Status Encryptor::Impl::EncryptWith(
    absl::string_view key_alias, absl::string_view plaintext, absl::string_view aad,
    absl::FunctionRef<absl::Span<uint8_t>(size_t)> buffer_for) {
  if (key_alias.empty()) return InvalidRequest("encrypt: the key alias is empty");
  if (plaintext.size() > kMaxPlaintextSize) {
    return InvalidRequest(absl::StrCat("encrypt: the plaintext is ", plaintext.size(),
                                       " bytes; at most 2^31 - 1 are supported"));
  }
  return leases_.WithKey(key_alias, [&](const internal::EncryptionKey& key) -> absl::Status {
    const size_t size = internal::CiphertextSize(key.edek.size(), plaintext.size());
    absl::Span<uint8_t> buffer = buffer_for(size);
    if (buffer.size() < size) {
      return absl::ResourceExhaustedError(
          absl::StrCat("encrypt: no buffer for a ciphertext of ", size, " bytes"));
    }
    ASSIGN_OR_RETURN(internal::CiphertextSlots slots,
                     internal::LayOutCiphertext(key.edek, plaintext.size(), buffer.first(size)));
    RETURN_IF_ERROR(crypto::FillNonce(slots.nonce));
    return key.dek.cipher.SealWithAadParts(
        slots.nonce, AsBytes(plaintext), {slots.header, AsBytes(aad)}, slots.encrypted, slots.tag);
  });
}

absl::Status Encryptor::Impl::DecryptInto(absl::string_view ciphertext, absl::string_view aad,
                                          std::string& plaintext) {
  absl::Status opened = ParseAndOpen(ciphertext, aad, plaintext);
  if (opened.ok()) return opened;
  // Whatever the error, the buffer is emptied: what it held is the
  // caller's, but it must not look like a result (Open already wiped what
  // it wrote).
  plaintext.clear();
  return opened;
}

absl::Status Encryptor::Impl::ParseAndOpen(absl::string_view ciphertext, absl::string_view aad,
                                           std::string& plaintext) {
  ASSIGN_OR_RETURN(internal::CiphertextParts parts, internal::ParseCiphertext(ciphertext));
  auto open = [&](const internal::KeyedDek& dek) -> absl::Status {
    // resize, not assign: a reused buffer of the right size is not cleared
    // first; every byte is written.
    plaintext.resize(parts.encrypted.size());
    absl::Status opened =
        dek.cipher.OpenWithAadParts(parts.nonce, parts.encrypted, {parts.header, AsBytes(aad)},
                                    parts.tag, crypto::AsMutableBytes(plaintext));
    if (opened.code() == absl::StatusCode::kInvalidArgument) {
      return EdekInvalid(
          "decrypt: the ciphertext does not authenticate (wrong aad, or tampered with or "
          "truncated)");
    }
    return opened;
  };
  // The warm path: this thread's last DEK, no lock.
  std::optional<absl::Status> opened = decrypt_cache_.WithRecent(parts.edek, clock_->Now(), open);
  if (opened.has_value()) return *opened;
  ASSIGN_OR_RETURN(std::shared_ptr<const internal::KeyedDek> dek, DekFor(parts.edek));
  return open(*dek);
}

absl::StatusOr<std::shared_ptr<const internal::KeyedDek>> Encryptor::Impl::DekFor(
    absl::string_view edek) {
  if (auto cached = decrypt_cache_.Get(edek, clock_->Now())) return cached;
  const uint64_t drops = decrypt_cache_.drops();
  absl::StatusOr<crypto::SecretBytes> dek = source_->Unwrap(edek, context_);
  if (!dek.ok()) return Annotate(dek.status(), "decrypt: unwrapping the ciphertext's EDEK");
  if (dek->size() != AesGcm::kKeySize) {
    return EdekInvalid(
        absl::StrCat("decrypt: the EDEK holds a ", dek->size(), "-byte key, not a 32-byte DEK"));
  }
  auto shared = std::make_shared<const internal::KeyedDek>(std::move(*dek));
  decrypt_cache_.Put(edek, shared, clock_->Now(), drops);
  return shared;
}

absl::StatusOr<std::unique_ptr<Encryptor>> Encryptor::Create(DekSource* source,
                                                             EncryptorOptions options) {
  if (source == nullptr) return InvalidRequest("encryptor: the DEK source is null");
  if (options.decrypt_cache_ttl < absl::ZeroDuration()) {
    return InvalidRequest("encryptor: decrypt_cache_ttl must not be negative");
  }
  ASSIGN_OR_RETURN(internal::DekBudget budget, internal::DekBudget::FromOptions(options));
  const Clock* clock = options.clock != nullptr ? options.clock : MonotonicClock();
  auto impl = std::make_unique<Impl>(source, options, budget, clock);
  if (options.watch_keys) impl->Watch(source);
  return std::unique_ptr<Encryptor>(new Encryptor(std::move(impl)));
}

Encryptor::Encryptor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Encryptor::~Encryptor() = default;

absl::StatusOr<std::string> Encryptor::Encrypt(absl::string_view key_alias,
                                               absl::string_view plaintext, absl::string_view aad) {
  std::string out;
  RETURN_IF_ERROR(EncryptInto(key_alias, plaintext, aad, out));
  return out;
}

absl::Status Encryptor::EncryptInto(absl::string_view key_alias, absl::string_view plaintext,
                                    absl::string_view aad, std::string& out) {
  absl::Status sealed = impl_->EncryptWith(key_alias, plaintext, aad, [&](size_t size) {
    // resize, not assign: a reused buffer of the right size is not cleared
    // first; every byte is written.
    out.resize(size);
    return crypto::AsMutableBytes(out);
  });
  // Seal writes only ciphertext: nothing of the plaintext is left in `out`.
  if (!sealed.ok()) out.clear();
  return sealed;
}

absl::StatusOr<size_t> Encryptor::EncryptToBuffer(
    absl::string_view key_alias, absl::string_view plaintext, absl::string_view aad,
    absl::FunctionRef<absl::Span<char>(size_t)> buffer_for) {
  size_t written = 0;
  RETURN_IF_ERROR(impl_->EncryptWith(key_alias, plaintext, aad, [&](size_t size) {
    absl::Span<char> buffer = buffer_for(size);
    written = size;
    return absl::Span<uint8_t>(reinterpret_cast<uint8_t*>(buffer.data()), buffer.size());
  }));
  return written;
}

absl::Status Encryptor::KeyWatchStatus() const { return impl_->KeyWatchStatus(); }

absl::StatusOr<std::string> Encryptor::Decrypt(absl::string_view ciphertext,
                                               absl::string_view aad) {
  std::string plaintext;
  RETURN_IF_ERROR(impl_->DecryptInto(ciphertext, aad, plaintext));
  return plaintext;
}

absl::Status Encryptor::DecryptInto(absl::string_view ciphertext, absl::string_view aad,
                                    std::string& plaintext) {
  return impl_->DecryptInto(ciphertext, aad, plaintext);
}

}  // namespace keybroker::sdk
