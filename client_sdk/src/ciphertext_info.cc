#include "keybroker/sdk/ciphertext_info.h"

#include "client_sdk/src/ciphertext_format.h"
#include "common/status_macros.h"
#include "crypto/edek.h"

namespace keybroker::sdk {

absl::StatusOr<CiphertextKeyInfo> InspectCiphertext(absl::string_view ciphertext) {
  ASSIGN_OR_RETURN(internal::CiphertextParts parts, internal::ParseCiphertext(ciphertext));
  ASSIGN_OR_RETURN(crypto::Edek edek, crypto::DecodeEdek(parts.edek));
  CiphertextKeyInfo info;
  info.kms = std::string(crypto::EdekKmsName(edek.kms));
  info.key_name = std::move(edek.key_name);
  info.key_version = std::move(edek.key_version);
  return info;
}

}  // namespace keybroker::sdk
