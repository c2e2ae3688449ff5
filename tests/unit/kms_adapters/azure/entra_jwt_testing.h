// Decoding and verifying the client-assertion JWTs the certificate
// credential makes, independently of the code under test: base64url by hand,
// the PS256 signature with OpenSSL's EVP verify API.
#ifndef KEYBROKER_TESTS_UNIT_KMS_ADAPTERS_AZURE_ENTRA_JWT_TESTING_H_
#define KEYBROKER_TESTS_UNIT_KMS_ADAPTERS_AZURE_ENTRA_JWT_TESTING_H_

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace keybroker::testing {

struct DecodedJwt {
  std::vector<std::string> parts;  // the three base64url parts as sent
  nlohmann::json header;
  nlohmann::json claims;
  std::string signature;  // raw bytes
  bool ok = false;        // three parts, each strict unpadded base64url
};

inline bool StrictBase64UrlDecode(absl::string_view text, std::string* out) {
  if (text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
      absl::string_view::npos) {
    return false;  // no padding, no standard-alphabet characters
  }
  return absl::WebSafeBase64Unescape(text, out);
}

inline DecodedJwt DecodeJwt(absl::string_view jwt) {
  DecodedJwt decoded;
  decoded.parts = absl::StrSplit(jwt, '.');
  std::string header, claims;
  if (decoded.parts.size() != 3 || !StrictBase64UrlDecode(decoded.parts[0], &header) ||
      !StrictBase64UrlDecode(decoded.parts[1], &claims) ||
      !StrictBase64UrlDecode(decoded.parts[2], &decoded.signature)) {
    return decoded;
  }
  decoded.header = nlohmann::json::parse(header, nullptr, false);
  decoded.claims = nlohmann::json::parse(claims, nullptr, false);
  decoded.ok = decoded.header.is_object() && decoded.claims.is_object();
  return decoded;
}

// Whether `jwt`'s signature is RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32)
// over "header.claims" by the key of the PEM certificate `cert_pem`.
inline bool VerifyPs256(const DecodedJwt& jwt, const std::string& cert_pem) {
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) return false;
  EVP_PKEY* key = X509_get_pubkey(cert);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  std::string signed_part = jwt.parts[0] + "." + jwt.parts[1];
  bool ok = key != nullptr && ctx != nullptr &&
            EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), nullptr, key) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0 &&
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) > 0 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(jwt.signature.data()),
                             jwt.signature.size(),
                             reinterpret_cast<const unsigned char*>(signed_part.data()),
                             signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  X509_free(cert);
  return ok;
}

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_UNIT_KMS_ADAPTERS_AZURE_ENTRA_JWT_TESTING_H_
