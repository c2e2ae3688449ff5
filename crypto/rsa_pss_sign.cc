#include "crypto/rsa_pss_sign.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <utility>

namespace keybroker::crypto {
namespace {

// Smaller keys are below every current recommendation (NIST SP 800-57), as
// for RSA-OAEP keys.
constexpr int kMinModulusBits = 2048;
constexpr int kMaxModulusBits = 16384;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// Supplies no passphrase: an encrypted key then fails to load instead of
// OpenSSL prompting on the controlling terminal.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return 0; }

std::string PublicKeyDer(EVP_PKEY* pkey) {
  int size = i2d_PUBKEY(pkey, nullptr);
  if (size <= 0) return "";
  std::string der(static_cast<size_t>(size), '\0');
  unsigned char* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_PUBKEY(pkey, &out) != size) return "";
  return der;
}

}  // namespace

absl::StatusOr<RsaPssSigner> RsaPssSigner::FromPem(const SecretBytes& pem) {
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(pem.Reveal().data(), static_cast<int>(pem.size())));
  EVP_PKEY* raw =
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr;
  std::shared_ptr<EVP_PKEY> pkey(raw, EVP_PKEY_free);
  if (raw == nullptr) {
    return absl::InvalidArgumentError(
        "rsa-pss: no unencrypted PEM private key found (encrypted keys are not supported)");
  }
  int bits = EVP_PKEY_get_bits(raw);
  if (EVP_PKEY_base_id(raw) != EVP_PKEY_RSA || bits < kMinModulusBits || bits > kMaxModulusBits) {
    return absl::InvalidArgumentError("rsa-pss: the private key must be RSA of 2048 bits or more");
  }
  std::string public_key_der = PublicKeyDer(raw);
  if (public_key_der.empty()) return absl::InternalError("rsa-pss: cannot encode the public key");
  return RsaPssSigner(std::move(pkey), std::move(public_key_der));
}

size_t RsaPssSigner::modulus_bits() const {
  return static_cast<size_t>(EVP_PKEY_get_bits(pkey_.get()));
}

absl::StatusOr<std::string> RsaPssSigner::Sign(absl::Span<const uint8_t> message) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx ||
      EVP_DigestSignInit_ex(ctx.get(), &pctx, "SHA256", nullptr, nullptr, pkey_.get(), nullptr) !=
          1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, static_cast<int>(kSaltLength)) <= 0) {
    return absl::InternalError("rsa-pss: cannot set up signing");
  }
  size_t size = static_cast<size_t>(EVP_PKEY_get_size(pkey_.get()));
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     message.data(), message.size()) != 1) {
    return absl::InternalError("rsa-pss: signing failed in OpenSSL");
  }
  signature.resize(size);
  return signature;
}

}  // namespace keybroker::crypto
