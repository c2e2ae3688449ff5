// The EDEK (encrypted DEK) codec, format version 1.
//
// An EDEK is self-describing: it names the KMS kind, algorithm, key and key
// version that wrapped the DEK, so Unwrap needs nothing else. It never holds a
// URL: the broker finds the vault through its own configuration.
//
// Layout (all lengths checked on decode; no trailing bytes allowed):
//
//   offset  size   field
//   0       1      format version, 0x01
//   1       1      KMS kind: 0x01 local keyring, 0x02 Azure (Key Vault / Managed HSM)
//   2       1      algorithm: 0x01 AES-256-GCM, 0x02 RSA-OAEP-256
//   3       1      key name length N, 1..255
//   4       N      key name (bytes)
//   .       1      version marker V:
//                    0x00  -> 16 raw bytes follow: the version is their 32-character
//                             lowercase hex form (Key Vault's version ids)
//                    1..255 -> V bytes follow: the version as a string
//                  (a 32-character lowercase hex version is always stored raw)
//   .       1      IV length I, 0..32, then I bytes (AES-GCM nonce; 0 for RSA)
//   .       1      tag length T, 0..32, then T bytes (AES-GCM tag; 0 for RSA)
//   .       2      wrapped length W (big-endian), 1..1024, then W bytes
//
// Bytes 0 up to the end of the version field form the "authenticated header":
// KMS adapters bind it (with the encryption context) into what they wrap, so
// no header byte can change without the unwrap failing.
#ifndef KEYBROKER_CRYPTO_EDEK_H_
#define KEYBROKER_CRYPTO_EDEK_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keybroker::crypto {

enum class EdekKms : uint8_t { kLocal = 0x01, kAzure = 0x02 };
enum class EdekAlgorithm : uint8_t { kAes256Gcm = 0x01, kRsaOaep256 = 0x02 };

struct Edek {
  static constexpr uint8_t kFormatV1 = 0x01;
  static constexpr size_t kMaxEncodedSize = 2048;
  static constexpr size_t kMaxNameSize = 255;
  static constexpr size_t kMaxIvOrTagSize = 32;
  static constexpr size_t kMaxWrappedSize = 1024;

  EdekKms kms = EdekKms::kLocal;
  EdekAlgorithm algorithm = EdekAlgorithm::kAes256Gcm;
  std::string key_name;
  std::string key_version;
  std::string iv;
  std::string tag;
  std::string wrapped;
};

// Encodes `edek`. INTERNAL (reason INTERNAL: our own bug) if a field
// is out of the format's range.
absl::StatusOr<std::string> EncodeEdek(const Edek& edek);

// Returns the authenticated header of `edek` (see the layout); only the
// header fields need to be set. Fails like EncodeEdek for those fields.
absl::StatusOr<std::string> EdekAuthenticatedHeader(const Edek& edek);

// Decodes an EDEK. INVALID_ARGUMENT with reason EDEK_INVALID and a message
// naming the first bad field for anything that is not a well-formed v1 EDEK.
absl::StatusOr<Edek> DecodeEdek(absl::string_view bytes);

// Returns the name of a KMS kind or algorithm, for messages.
absl::string_view EdekKmsName(EdekKms kms);
absl::string_view EdekAlgorithmName(EdekAlgorithm algorithm);

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_EDEK_H_
