#include "crypto/rsa_oaep.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <vector>

namespace keybroker::crypto {
namespace internal {
void PkeyDeleter::operator()(EVP_PKEY* pkey) const { EVP_PKEY_free(pkey); }
}  // namespace internal

namespace {

using internal::PkeyPtr;

// OAEP overhead for SHA-256: 2 * 32 + 2 bytes.
constexpr size_t kOaepSha256Overhead = 66;
// Smaller keys are below every current recommendation (NIST SP 800-57).
constexpr size_t kMinModulusBits = 2048;
constexpr size_t kMaxModulusBits = 16384;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;

PkeyPtr Wrap(EVP_PKEY* pkey) { return PkeyPtr(pkey, internal::PkeyDeleter()); }

bool IsUsableRsa(EVP_PKEY* pkey) {
  if (pkey == nullptr || EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) return false;
  int bits = EVP_PKEY_get_bits(pkey);
  return bits >= static_cast<int>(kMinModulusBits) && bits <= static_cast<int>(kMaxModulusBits);
}

// Sets RSA-OAEP-256 padding on an initialised encrypt or decrypt context.
bool SetOaepSha256(EVP_PKEY_CTX* ctx) {
  return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
         EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) > 0 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) > 0;
}

// An encryption context for `pkey` with RSA-OAEP-256 set, kept by this
// thread for the last key it encrypted with: making one per call (a context,
// the RSA cipher and SHA-256 fetched from the provider, the padding set by
// name) cost a third as much as the RSA operation itself, and the broker
// wraps every DEK of an RSA key with the same public key. The entry holds a
// reference to the key, so a later key at the same address is never taken
// for it (only public keys are held). Null if OpenSSL fails.
EVP_PKEY_CTX* EncryptContext(const PkeyPtr& pkey) {
  struct Cached {
    PkeyPtr pkey;
    PkeyCtxPtr ctx;
  };
  thread_local Cached cached;
  if (cached.pkey != pkey || cached.ctx == nullptr) {
    cached.ctx.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (cached.ctx == nullptr || EVP_PKEY_encrypt_init(cached.ctx.get()) != 1 ||
        !SetOaepSha256(cached.ctx.get())) {
      cached.ctx.reset();
      cached.pkey.reset();
      return nullptr;
    }
    cached.pkey = pkey;
  }
  return cached.ctx.get();
}

// A PEM password callback that supplies none: an encrypted private key then
// fails to load instead of OpenSSL prompting on the controlling terminal.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return 0; }

absl::StatusOr<std::string> BnParamBytes(EVP_PKEY* pkey, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) {
    return absl::InternalError("rsa: cannot read key parameter");
  }
  BnPtr bn(raw);
  std::string out(static_cast<size_t>(BN_num_bytes(bn.get())), '\0');
  BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace

absl::StatusOr<RsaOaepPublicKey> RsaOaepPublicKey::FromJwk(absl::string_view n,
                                                           absl::string_view e) {
  if (n.empty() || e.empty() || e.size() > 8) {
    return absl::InvalidArgumentError("rsa: jwk modulus or exponent is empty or too long");
  }
  BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                       static_cast<int>(n.size()), nullptr));
  BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                       static_cast<int>(e.size()), nullptr));
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return absl::InternalError("rsa: cannot build key parameters");
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return absl::InvalidArgumentError("rsa: jwk is not a valid RSA public key");
  }
  PkeyPtr owned = Wrap(pkey);
  if (!IsUsableRsa(pkey) || BN_is_odd(bn_e.get()) != 1) {
    return absl::InvalidArgumentError("rsa: jwk is not a usable RSA public key");
  }
  return RsaOaepPublicKey(std::move(owned));
}

absl::StatusOr<RsaOaepPublicKey> RsaOaepPublicKey::FromPem(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* pkey = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  PkeyPtr owned = Wrap(pkey);
  if (!IsUsableRsa(pkey)) {
    return absl::InvalidArgumentError("rsa: not a PEM RSA public key of a usable size");
  }
  return RsaOaepPublicKey(std::move(owned));
}

size_t RsaOaepPublicKey::modulus_bits() const {
  return static_cast<size_t>(EVP_PKEY_get_bits(pkey_.get()));
}

absl::StatusOr<std::string> RsaOaepPublicKey::Encrypt(absl::Span<const uint8_t> plaintext) const {
  size_t modulus_bytes = static_cast<size_t>(EVP_PKEY_get_size(pkey_.get()));
  if (plaintext.size() + kOaepSha256Overhead > modulus_bytes) {
    return absl::InvalidArgumentError("rsa-oaep-256: plaintext too long for the key");
  }
  EVP_PKEY_CTX* ctx = EncryptContext(pkey_);
  size_t out_len = modulus_bytes;
  std::string out(out_len, '\0');
  if (ctx == nullptr ||
      EVP_PKEY_encrypt(ctx, reinterpret_cast<unsigned char*>(out.data()), &out_len,
                       plaintext.data(), plaintext.size()) != 1) {
    return absl::InternalError("rsa-oaep-256: encryption failed in OpenSSL");
  }
  out.resize(out_len);
  return out;
}

absl::StatusOr<RsaOaepPrivateKey> RsaOaepPrivateKey::Generate(size_t bits) {
  if (bits < 2048 || bits > 8192) {
    return absl::InvalidArgumentError("rsa: key size must be 2048 to 8192 bits");
  }
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits);
  if (pkey == nullptr) return absl::InternalError("rsa: key generation failed");
  return RsaOaepPrivateKey(Wrap(pkey));
}

absl::StatusOr<RsaOaepPrivateKey> RsaOaepPrivateKey::FromPem(const SecretBytes& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.Reveal().data(), static_cast<int>(pem.size())));
  EVP_PKEY* pkey =
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr;
  PkeyPtr owned = Wrap(pkey);
  if (!IsUsableRsa(pkey)) {
    return absl::InvalidArgumentError("rsa: not a PEM RSA private key of a usable size");
  }
  return RsaOaepPrivateKey(std::move(owned));
}

size_t RsaOaepPrivateKey::modulus_bits() const {
  return static_cast<size_t>(EVP_PKEY_get_bits(pkey_.get()));
}

absl::StatusOr<RsaOaepPublicKey> RsaOaepPrivateKey::PublicKey() const {
  absl::StatusOr<std::string> pem = PublicKeyPem();
  if (!pem.ok()) return pem.status();
  return RsaOaepPublicKey::FromPem(*pem);
}

absl::StatusOr<std::string> RsaOaepPrivateKey::PublicKeyPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1) {
    return absl::InternalError("rsa: cannot write public key");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<SecretBytes> RsaOaepPrivateKey::PrivateKeyPem() const {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    return absl::InternalError("rsa: cannot write private key");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return SecretBytes::CopyFrom(absl::string_view(data, static_cast<size_t>(len)));
}

absl::StatusOr<std::string> RsaOaepPrivateKey::ModulusBytes() const {
  return BnParamBytes(pkey_.get(), OSSL_PKEY_PARAM_RSA_N);
}

absl::StatusOr<std::string> RsaOaepPrivateKey::PublicExponentBytes() const {
  return BnParamBytes(pkey_.get(), OSSL_PKEY_PARAM_RSA_E);
}

absl::StatusOr<SecretBytes> RsaOaepPrivateKey::Decrypt(
    absl::Span<const uint8_t> ciphertext) const {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
  size_t out_len = static_cast<size_t>(EVP_PKEY_get_size(pkey_.get()));
  SecretBytes buffer(out_len);
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 || !SetOaepSha256(ctx.get())) {
    return absl::InternalError("rsa-oaep-256: cannot set up decryption");
  }
  if (EVP_PKEY_decrypt(ctx.get(), buffer.RevealMutable().data(), &out_len, ciphertext.data(),
                       ciphertext.size()) != 1) {
    return absl::InvalidArgumentError("rsa-oaep-256: ciphertext does not decrypt");
  }
  return SecretBytes::CopyFrom(buffer.Reveal().subspan(0, out_len));
}

}  // namespace keybroker::crypto
