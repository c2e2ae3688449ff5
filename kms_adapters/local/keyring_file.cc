#include "kms_adapters/local/keyring_file.h"

#include <openssl/crypto.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "crypto/aes_gcm.h"
#include "crypto/bytes.h"
#include "crypto/hkdf.h"
#include "crypto/random.h"

namespace keybroker::kms {
namespace {

using crypto::AsBytes;
using crypto::AsMutableBytes;

constexpr char kMagic[4] = {'K', 'B', 'K', 'R'};
constexpr uint8_t kFileFormat = 1;
constexpr size_t kCheckSize = 8;
constexpr size_t kHeaderSize = 4 + 1 + kCheckSize + crypto::AesGcm::kNonceSize;
constexpr size_t kMinFileSize = kHeaderSize + crypto::AesGcm::kTagSize;
constexpr size_t kMaxFileSize = 64 << 20;
// HKDF "info" labels: the master key itself is never used directly, so the
// check value and the file encryption key are independent.
constexpr absl::string_view kCheckInfo = "keybroker keyring master key check v1";
constexpr absl::string_view kFileKeyInfo = "keybroker keyring file key v1";

absl::StatusOr<crypto::SecretBytes> Derive(const crypto::SecretBytes& master_key,
                                           absl::string_view info, size_t length) {
  return crypto::HkdfSha256(master_key, {}, info, length);
}

absl::Status Unreadable(const std::string& path, absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat("keyring file ", path, " ", why));
}

}  // namespace

absl::StatusOr<Keyring> ReadKeyringFile(const std::string& path,
                                        const crypto::SecretBytes& master_key) {
  std::string file;
  RETURN_IF_ERROR(ReadKeyringFileBytes(path, &file));
  return DecodeKeyringFile(path, file, master_key);
}

absl::Status ReadKeyringFileBytes(const std::string& path, std::string* file) {
  return ReadFileInto(path, kMaxFileSize, file);
}

absl::StatusOr<Keyring> DecodeKeyringFile(const std::string& path, absl::string_view file,
                                          const crypto::SecretBytes& master_key) {
  if (file.size() < kMinFileSize) {
    return Unreadable(path, absl::StrCat("is truncated (", file.size(), " bytes)"));
  }
  if (std::memcmp(file.data(), kMagic, sizeof(kMagic)) != 0) {
    return Unreadable(path, "is not a keybroker keyring file (bad magic)");
  }
  if (static_cast<uint8_t>(file[4]) != kFileFormat) {
    return Unreadable(path, absl::StrCat("has format version ", static_cast<int>(file[4]),
                                         ", which this broker cannot read"));
  }
  ASSIGN_OR_RETURN(crypto::SecretBytes check, Derive(master_key, kCheckInfo, kCheckSize));
  if (CRYPTO_memcmp(file.data() + 5, check.Reveal().data(), kCheckSize) != 0) {
    return Unreadable(path, "was written under a different master key (wrong master key?)");
  }
  absl::Span<const uint8_t> bytes = AsBytes(file);
  absl::Span<const uint8_t> ciphertext =
      bytes.subspan(kHeaderSize, bytes.size() - kHeaderSize - crypto::AesGcm::kTagSize);
  ASSIGN_OR_RETURN(crypto::SecretBytes file_key, Derive(master_key, kFileKeyInfo, 32));
  crypto::SecretBytes plaintext(ciphertext.size());
  absl::Status opened = crypto::AesGcm::Open(
      file_key, bytes.subspan(5 + kCheckSize, crypto::AesGcm::kNonceSize), ciphertext,
      bytes.subspan(0, kHeaderSize), bytes.subspan(bytes.size() - crypto::AesGcm::kTagSize),
      plaintext.RevealMutable());
  if (!opened.ok()) {
    return Unreadable(path, "is corrupted or truncated: it does not authenticate under the "
                            "master key");
  }
  absl::StatusOr<Keyring> keyring = Keyring::Parse(plaintext);
  if (!keyring.ok()) return Unreadable(path, keyring.status().message());
  return keyring;
}

absl::Status WriteKeyringFile(const std::string& path, const crypto::SecretBytes& master_key,
                              const Keyring& keyring) {
  crypto::SecretBytes plaintext = keyring.Serialize();
  ASSIGN_OR_RETURN(crypto::SecretBytes check, Derive(master_key, kCheckInfo, kCheckSize));
  ASSIGN_OR_RETURN(crypto::SecretBytes file_key, Derive(master_key, kFileKeyInfo, 32));
  std::string file(kHeaderSize + plaintext.size() + crypto::AesGcm::kTagSize, '\0');
  uint8_t* out = reinterpret_cast<uint8_t*>(file.data());
  std::memcpy(out, kMagic, sizeof(kMagic));
  out[4] = kFileFormat;
  std::memcpy(out + 5, check.Reveal().data(), kCheckSize);
  absl::Span<uint8_t> nonce(out + 5 + kCheckSize, crypto::AesGcm::kNonceSize);
  RETURN_IF_ERROR(crypto::FillRandom(nonce));
  RETURN_IF_ERROR(crypto::AesGcm::Seal(
      file_key, nonce, plaintext.Reveal(), absl::Span<const uint8_t>(out, kHeaderSize),
      absl::Span<uint8_t>(out + kHeaderSize, plaintext.size()),
      absl::Span<uint8_t>(out + kHeaderSize + plaintext.size(), crypto::AesGcm::kTagSize)));
  return WriteFileAtomically(path, file, 0600);
}

}  // namespace keybroker::kms
