// What an SDK ciphertext (docs/ciphertext-format.md) says about the key that
// protects it, read from the EDEK in its header (docs/edek-format.md) without
// a broker call. For migrations: which records are still under an old key
// version, before re-sealing them or retiring that version.
//
// Nothing is authenticated here: a tampered ciphertext can name any version.
// Use the answer to choose what to re-seal, never to decide what to trust
// (Encryptor::Decrypt does that).
#ifndef KEYBROKER_SDK_CIPHERTEXT_INFO_H_
#define KEYBROKER_SDK_CIPHERTEXT_INFO_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keybroker::sdk {

struct CiphertextKeyInfo {
  std::string kms;          // "local" (the broker's keyring) or "azure"
  std::string key_name;     // the key as EDEKs name it (not the alias)
  std::string key_version;  // as DescribeKey and the inventory spell it
};

// INVALID_ARGUMENT (EDEK_INVALID, naming the bad field) when `ciphertext` is
// not a format-1 ciphertext or its EDEK is malformed.
absl::StatusOr<CiphertextKeyInfo> InspectCiphertext(absl::string_view ciphertext);

}  // namespace keybroker::sdk

#endif  // KEYBROKER_SDK_CIPHERTEXT_INFO_H_
