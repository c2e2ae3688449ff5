#include "server/edek_authenticator.h"

#include <openssl/crypto.h>

#include "common/error_reason.h"
#include "common/status_macros.h"
#include "crypto/bytes.h"
#include "crypto/hmac.h"

namespace keybroker::server {
namespace {

constexpr absl::string_view kPurpose = "keybroker edek authentication v1";

}  // namespace

absl::StatusOr<std::string> EdekAuthenticator::Tag(const crypto::Edek& edek,
                                                   absl::string_view version,
                                                   const crypto::EncryptionContext& context,
                                                   std::string* used_version) const {
  ASSIGN_OR_RETURN(crypto::SecretBytes key,
                   local_->DerivePurposeKey(key_id_, version, kPurpose, used_version));
  crypto::Edek untagged = edek;
  untagged.iv = *used_version;
  untagged.tag.clear();
  ASSIGN_OR_RETURN(std::string message, crypto::EncodeEdek(untagged));
  message.append(context.canonical());
  ASSIGN_OR_RETURN(crypto::Sha256Digest tag, crypto::HmacSha256(key, crypto::AsBytes(message)));
  return std::string(tag.begin(), tag.end());
}

absl::StatusOr<std::string> EdekAuthenticator::Seal(crypto::Edek edek,
                                                    const crypto::EncryptionContext& context) const {
  std::string version;
  absl::StatusOr<std::string> tag = Tag(edek, "", context, &version);
  // The broker's own key is missing: its configuration's fault, not the
  // caller's (the local key is created at start, so this is a bug).
  if (!tag.ok()) return Internal(absl::StrCat("edek_authentication: ", tag.status().message()));
  edek.iv = std::move(version);
  edek.tag = *std::move(tag);
  return crypto::EncodeEdek(edek);
}

absl::Status EdekAuthenticator::Check(const crypto::Edek& edek,
                                      const crypto::EncryptionContext& context) const {
  if (!Applies(edek)) return absl::OkStatus();
  if (edek.tag.empty() && edek.iv.empty()) {
    if (accept_unauthenticated_) return absl::OkStatus();
    return EdekInvalid(
        "edek: an RSA EDEK without this broker's authentication tag (made elsewhere, or before "
        "edek_authentication was on; accept_unauthenticated admits those while they are "
        "rewrapped)");
  }
  std::string version;
  absl::StatusOr<std::string> expected = Tag(edek, edek.iv, context, &version);
  // Made by a replica that has the auth key's new version: retry (elsewhere).
  if (ReasonOf(expected.status()) == ErrorReason::kKeyVersionNotYetLoaded) {
    return Annotate(expected.status(), "edek authentication");
  }
  if (!expected.ok() || expected->size() != edek.tag.size() ||
      CRYPTO_memcmp(expected->data(), edek.tag.data(), edek.tag.size()) != 0) {
    // One answer for a wrong tag, an unknown version and a changed context,
    // as for any EDEK that does not open.
    return EdekInvalid("edek: authentication tag does not verify (forged or tampered EDEK, or "
                       "another encryption context)");
  }
  return absl::OkStatus();
}

}  // namespace keybroker::server
