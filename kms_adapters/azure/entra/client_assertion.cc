#include "kms_adapters/azure/entra/client_assertion.h"

#include <array>
#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/status_macros.h"
#include "crypto/bytes.h"
#include "crypto/random.h"
#include "crypto/wipe.h"
#include "nlohmann/json.hpp"

namespace keybroker::kms::azure {
namespace {

std::string Base64Url(absl::string_view bytes) {
  std::string out;
  absl::WebSafeBase64Escape(bytes, &out);  // no padding
  return out;
}

std::string Base64Url(absl::Span<const uint8_t> bytes) {
  return Base64Url(absl::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// A random version-4 UUID ("8-4-4-4-12" hex), as MSAL makes its jti.
absl::StatusOr<std::string> RandomUuid() {
  std::array<uint8_t, 16> bytes;
  RETURN_IF_ERROR(crypto::FillRandom(absl::MakeSpan(bytes)));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;  // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80;  // RFC 4122 variant
  std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

}  // namespace

absl::StatusOr<crypto::SecretBytes> MakeClientAssertion(const ClientAssertionClaims& claims,
                                                        const crypto::Sha256Digest& thumbprint,
                                                        const crypto::RsaPssSigner& signer) {
  ASSIGN_OR_RETURN(std::string jti, RandomUuid());
  int64_t now = absl::ToUnixSeconds(claims.now);
  // ordered_json: the members in the order the docs show them.
  nlohmann::ordered_json header = {
      {"alg", "PS256"}, {"typ", "JWT"}, {"x5t#S256", Base64Url(thumbprint)}};
  nlohmann::ordered_json payload = {
      {"aud", claims.audience},
      {"iss", claims.client_id},
      {"sub", claims.client_id},
      {"jti", jti},
      {"nbf", now},
      {"iat", now},
      {"exp", now + absl::ToInt64Seconds(kClientAssertionLifetime)},
  };
  std::string signing_input =
      absl::StrCat(Base64Url(header.dump()), ".", Base64Url(payload.dump()));
  ASSIGN_OR_RETURN(std::string signature, signer.Sign(crypto::AsBytes(signing_input)));
  std::string jws = absl::StrCat(signing_input, ".", Base64Url(signature));
  crypto::SecretBytes assertion = crypto::SecretBytes::CopyFrom(jws);
  crypto::WipeString(&jws);
  return assertion;
}

}  // namespace keybroker::kms::azure
