#include "crypto/rsa_oaep.h"

#include <stdlib.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "crypto/random.h"
#include "crypto/secret_bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::crypto {
namespace {

using ::keybroker::testing::StatusIs;
using ::testing::SizeIs;
using ::testing::StartsWith;

// RSA-OAEP-256 as Azure Key Vault defines it, in `openssl pkeyutl` terms.
constexpr char kOaepSha256[] =
    "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256";

absl::Span<const uint8_t> AsBytes(absl::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string RandomString(size_t size) {
  std::string out(size, '\0');
  EXPECT_OK(FillRandom(absl::MakeSpan(reinterpret_cast<uint8_t*>(out.data()), out.size())));
  return out;
}

// Keys are slow to make, so each size is generated once per test binary.
// (A map: references to its elements stay valid as it grows.)
const RsaOaepPrivateKey& SharedKey(size_t bits) {
  static auto* keys = new std::map<size_t, RsaOaepPrivateKey>();
  auto it = keys->find(bits);
  if (it == keys->end()) {
    absl::StatusOr<RsaOaepPrivateKey> key = RsaOaepPrivateKey::Generate(bits);
    if (!key.ok()) std::abort();
    it = keys->emplace(bits, std::move(*key)).first;
  }
  return it->second;
}

// ---------------------------------------------------------------------------
// Interoperability with the openssl command line, in a scratch directory.

class RsaOaepOpensslTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    ASSERT_TRUE(Openssl("version")) << "these tests need the openssl command line tool";
  }

  // Runs `openssl <args>` inside the scratch directory; returns whether it
  // exited with status 0. On failure its output is in last_log_.
  bool Openssl(const std::string& args) {
    std::string command =
        absl::StrCat("cd '", dir_, "' && openssl ", args, " </dev/null >openssl.log 2>&1");
    bool ok = std::system(command.c_str()) == 0;
    last_log_ = ok ? "" : ReadFile("openssl.log");
    return ok;
  }

  std::string ReadFile(const std::string& name) const {
    std::ifstream in(dir_ + "/" + name, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }
  void WriteFile(const std::string& name, absl::string_view data) const {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << data;
  }

  // Generates an RSA key with `openssl genpkey` into file `name`.
  void GenerateWithOpenssl(int bits, const std::string& name) {
    ASSERT_TRUE(Openssl(
        absl::StrCat("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:", bits, " -out ", name)))
        << last_log_;
  }

  absl::StatusOr<RsaOaepPrivateKey> LoadPrivate(const std::string& name) const {
    return RsaOaepPrivateKey::FromPem(SecretBytes::CopyFrom(ReadFile(name)));
  }

  // Generates priv.pem and pub.pem with openssl; returns the loaded private key.
  absl::StatusOr<RsaOaepPrivateKey> OpensslKeyPair() {
    GenerateWithOpenssl(2048, "priv.pem");
    if (!Openssl("pkey -in priv.pem -pubout -out pub.pem")) return absl::InternalError(last_log_);
    return LoadPrivate("priv.pem");
  }

  // Has openssl encrypt `plaintext` to the public key in `pub_file` with
  // `options`, and returns the ciphertext.
  std::string EncryptWithOpenssl(const std::string& pub_file, absl::string_view plaintext,
                                 const std::string& options) {
    WriteFile("msg.bin", plaintext);
    EXPECT_TRUE(Openssl(absl::StrCat("pkeyutl -encrypt -pubin -inkey ", pub_file, " ", options,
                                     " -in msg.bin -out ct.bin")))
        << last_log_;
    return ReadFile("ct.bin");
  }

  keybroker::testing::TempDir temp_;
  std::string dir_;
  std::string last_log_;
};

TEST_F(RsaOaepOpensslTest, CppDecryptsWhatOpensslEncrypts) {
  GenerateWithOpenssl(2048, "priv.pem");
  absl::StatusOr<RsaOaepPrivateKey> key = LoadPrivate("priv.pem");
  ASSERT_OK(key);
  absl::StatusOr<std::string> pub_pem = key->PublicKeyPem();
  ASSERT_OK(pub_pem);
  WriteFile("pub.pem", *pub_pem);

  std::string dek = RandomString(32);
  std::string ciphertext = EncryptWithOpenssl("pub.pem", dek, kOaepSha256);
  ASSERT_THAT(ciphertext, SizeIs(256));
  absl::StatusOr<SecretBytes> decrypted = key->Decrypt(AsBytes(ciphertext));
  ASSERT_OK(decrypted);
  EXPECT_EQ(decrypted->RevealAsStringView(), dek);
}

TEST_F(RsaOaepOpensslTest, OpensslDecryptsWhatCppEncrypts) {
  ASSERT_OK(OpensslKeyPair());
  absl::StatusOr<RsaOaepPublicKey> public_key = RsaOaepPublicKey::FromPem(ReadFile("pub.pem"));
  ASSERT_OK(public_key);

  std::string dek = RandomString(32);
  absl::StatusOr<std::string> ciphertext = public_key->Encrypt(AsBytes(dek));
  ASSERT_OK(ciphertext);
  WriteFile("ct.bin", *ciphertext);
  ASSERT_TRUE(Openssl(
      absl::StrCat("pkeyutl -decrypt -inkey priv.pem ", kOaepSha256, " -in ct.bin -out out.bin")))
      << last_log_;
  EXPECT_EQ(ReadFile("out.bin"), dek);
}

TEST_F(RsaOaepOpensslTest, OpensslReadsTheGeneratedPrivateKeyPem) {
  const RsaOaepPrivateKey& key = SharedKey(2048);
  absl::StatusOr<SecretBytes> pem = key.PrivateKeyPem();
  ASSERT_OK(pem);
  EXPECT_THAT(std::string(pem->RevealAsStringView()), StartsWith("-----BEGIN PRIVATE KEY-----"));
  WriteFile("priv.pem", pem->RevealAsStringView());
  absl::StatusOr<RsaOaepPublicKey> public_key = key.PublicKey();
  ASSERT_OK(public_key);

  std::string dek = RandomString(32);
  absl::StatusOr<std::string> ciphertext = public_key->Encrypt(AsBytes(dek));
  ASSERT_OK(ciphertext);
  WriteFile("ct.bin", *ciphertext);
  ASSERT_TRUE(Openssl(
      absl::StrCat("pkeyutl -decrypt -inkey priv.pem ", kOaepSha256, " -in ct.bin -out out.bin")))
      << last_log_;
  EXPECT_EQ(ReadFile("out.bin"), dek);
}

// The three tests below prove that decryption insists on SHA-256 for the OAEP
// hash and MGF1, and on the empty label: openssl succeeds in encrypting each
// variant, and only the exact RSA-OAEP-256 form may decrypt.
TEST_F(RsaOaepOpensslTest, RejectsSha1OaepCiphertext) {
  absl::StatusOr<RsaOaepPrivateKey> key = OpensslKeyPair();
  ASSERT_OK(key);

  std::string ciphertext = EncryptWithOpenssl(
      "pub.pem", RandomString(32),
      "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1");
  ASSERT_THAT(ciphertext, SizeIs(256));
  EXPECT_THAT(key->Decrypt(AsBytes(ciphertext)), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(RsaOaepOpensslTest, RejectsCiphertextWithSha1Mgf1) {
  absl::StatusOr<RsaOaepPrivateKey> key = OpensslKeyPair();
  ASSERT_OK(key);

  std::string ciphertext = EncryptWithOpenssl(
      "pub.pem", RandomString(32),
      "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha1");
  ASSERT_THAT(ciphertext, SizeIs(256));
  EXPECT_THAT(key->Decrypt(AsBytes(ciphertext)), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(RsaOaepOpensslTest, RejectsCiphertextWithALabel) {
  absl::StatusOr<RsaOaepPrivateKey> key = OpensslKeyPair();
  ASSERT_OK(key);

  std::string ciphertext = EncryptWithOpenssl(
      "pub.pem", RandomString(32), absl::StrCat(kOaepSha256, " -pkeyopt rsa_oaep_label:6b6579"));
  ASSERT_THAT(ciphertext, SizeIs(256));
  EXPECT_THAT(key->Decrypt(AsBytes(ciphertext)), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(RsaOaepOpensslTest, FromPemReadsTraditionalRsaPem) {
  GenerateWithOpenssl(2048, "priv.pem");
  ASSERT_TRUE(Openssl("pkey -in priv.pem -traditional -out trad.pem")) << last_log_;
  ASSERT_THAT(ReadFile("trad.pem"), StartsWith("-----BEGIN RSA PRIVATE KEY-----"));
  absl::StatusOr<RsaOaepPrivateKey> pkcs8 = LoadPrivate("priv.pem");
  absl::StatusOr<RsaOaepPrivateKey> traditional = LoadPrivate("trad.pem");
  ASSERT_OK(pkcs8);
  ASSERT_OK(traditional);
  EXPECT_EQ(*traditional->ModulusBytes(), *pkcs8->ModulusBytes());
}

TEST_F(RsaOaepOpensslTest, FromPemRejectsKeysUnder2048Bits) {
  GenerateWithOpenssl(1024, "k1024.pem");
  EXPECT_THAT(LoadPrivate("k1024.pem"), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_TRUE(Openssl("pkey -in k1024.pem -pubout -out pub1024.pem")) << last_log_;
  EXPECT_THAT(RsaOaepPublicKey::FromPem(ReadFile("pub1024.pem")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(RsaOaepOpensslTest, FromPemRejectsNonRsaKeys) {
  ASSERT_TRUE(Openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem"))
      << last_log_;
  ASSERT_TRUE(Openssl("pkey -in ec.pem -pubout -out ec_pub.pem")) << last_log_;
  EXPECT_THAT(LoadPrivate("ec.pem"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RsaOaepPublicKey::FromPem(ReadFile("ec_pub.pem")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(RsaOaepOpensslTest, FromPemRejectsAnEncryptedKeyWithoutPrompting) {
  ASSERT_TRUE(
      Openssl("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes256 "
              "-pass pass:hunter2 -out enc.pem"))
      << last_log_;
  ASSERT_THAT(ReadFile("enc.pem"), StartsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  EXPECT_THAT(LoadPrivate("enc.pem"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---------------------------------------------------------------------------
// The API on its own.

TEST(RsaOaepTest, GeneratedKeyHasTheRequestedSize) {
  const RsaOaepPrivateKey& key = SharedKey(2048);
  EXPECT_EQ(key.modulus_bits(), 2048u);
  absl::StatusOr<RsaOaepPublicKey> public_key = key.PublicKey();
  ASSERT_OK(public_key);
  EXPECT_EQ(public_key->modulus_bits(), 2048u);
}

TEST(RsaOaepTest, GenerateRejectsSizesOutside2048To8192) {
  for (size_t bits : {0, 512, 1024, 2047, 8193, 16384}) {
    EXPECT_THAT(RsaOaepPrivateKey::Generate(bits), StatusIs(absl::StatusCode::kInvalidArgument))
        << bits;
  }
}

TEST(RsaOaepTest, JwkPartsAreBigEndianModulusAndF4) {
  const RsaOaepPrivateKey& key = SharedKey(2048);
  absl::StatusOr<std::string> n = key.ModulusBytes();
  absl::StatusOr<std::string> e = key.PublicExponentBytes();
  ASSERT_OK(n);
  ASSERT_OK(e);
  ASSERT_THAT(*n, SizeIs(256));
  EXPECT_NE(static_cast<uint8_t>((*n)[0]) & 0x80, 0);    // no leading zero byte
  EXPECT_NE(static_cast<uint8_t>(n->back()) & 0x01, 0);  // an RSA modulus is odd
  EXPECT_EQ(*e, std::string("\x01\x00\x01", 3));
}

TEST(RsaOaepTest, FromJwkRoundTripsThroughTheModulusAndExponent) {
  const RsaOaepPrivateKey& key = SharedKey(2048);
  absl::StatusOr<RsaOaepPublicKey> from_jwk =
      RsaOaepPublicKey::FromJwk(*key.ModulusBytes(), *key.PublicExponentBytes());
  ASSERT_OK(from_jwk);
  EXPECT_EQ(from_jwk->modulus_bits(), 2048u);

  std::string dek = RandomString(32);
  absl::StatusOr<std::string> ciphertext = from_jwk->Encrypt(AsBytes(dek));
  ASSERT_OK(ciphertext);
  absl::StatusOr<SecretBytes> decrypted = key.Decrypt(AsBytes(*ciphertext));
  ASSERT_OK(decrypted);
  EXPECT_EQ(decrypted->RevealAsStringView(), dek);
}

TEST(RsaOaepTest, FromJwkRejectsUnusableParts) {
  std::string n = *SharedKey(2048).ModulusBytes();
  std::string f4("\x01\x00\x01", 3);
  EXPECT_THAT(RsaOaepPublicKey::FromJwk("", f4), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RsaOaepPublicKey::FromJwk(n, ""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RsaOaepPublicKey::FromJwk(n, std::string(9, '\x01')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RsaOaepPublicKey::FromJwk(n, std::string("\x01\x00\x00", 3)),  // even
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RsaOaepPublicKey::FromJwk(n.substr(0, 64), f4),  // 512 bits
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RsaOaepTest, EncryptionIsRandomized) {
  const RsaOaepPrivateKey& key = SharedKey(2048);
  absl::StatusOr<RsaOaepPublicKey> public_key = key.PublicKey();
  ASSERT_OK(public_key);
  std::string dek = RandomString(32);
  absl::StatusOr<std::string> first = public_key->Encrypt(AsBytes(dek));
  absl::StatusOr<std::string> second = public_key->Encrypt(AsBytes(dek));
  ASSERT_OK(first);
  ASSERT_OK(second);
  EXPECT_NE(*first, *second);
  EXPECT_EQ(key.Decrypt(AsBytes(*second))->RevealAsStringView(), dek);
}

// Each thread keeps an encryption context for the key it last used: keys
// used in turn, on several threads, each encrypt under their own key.
TEST(RsaOaepTest, KeysUsedInTurnOnSeveralThreadsEachEncryptUnderTheirOwn) {
  const RsaOaepPrivateKey& first = SharedKey(2048);
  const RsaOaepPrivateKey& second = SharedKey(3072);
  absl::StatusOr<RsaOaepPublicKey> first_public = first.PublicKey();
  absl::StatusOr<RsaOaepPublicKey> second_public = second.PublicKey();
  ASSERT_OK(first_public);
  ASSERT_OK(second_public);
  auto round_trips = [&] {
    for (int i = 0; i < 4; ++i) {
      const bool use_first = i % 2 == 0;
      const std::string message = RandomString(32);
      absl::StatusOr<std::string> sealed =
          (use_first ? *first_public : *second_public).Encrypt(AsBytes(message));
      ASSERT_OK(sealed);
      absl::StatusOr<SecretBytes> opened = (use_first ? first : second).Decrypt(AsBytes(*sealed));
      ASSERT_OK(opened);
      EXPECT_EQ(opened->RevealAsStringView(), message);
      EXPECT_FALSE((use_first ? second : first).Decrypt(AsBytes(*sealed)).ok());
    }
  };
  round_trips();
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) threads.emplace_back(round_trips);
  for (std::thread& thread : threads) thread.join();
}

TEST(RsaOaepTest, DecryptRejectsTamperedTruncatedAndForeignCiphertext) {
  const RsaOaepPrivateKey& key = SharedKey(2048);
  absl::StatusOr<RsaOaepPublicKey> public_key = key.PublicKey();
  ASSERT_OK(public_key);
  absl::StatusOr<std::string> ciphertext = public_key->Encrypt(AsBytes(RandomString(32)));
  ASSERT_OK(ciphertext);

  std::string tampered = *ciphertext;
  tampered[100] ^= 0x01;
  EXPECT_THAT(key.Decrypt(AsBytes(tampered)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(key.Decrypt(AsBytes(ciphertext->substr(1))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(key.Decrypt({}), StatusIs(absl::StatusCode::kInvalidArgument));

  absl::StatusOr<RsaOaepPublicKey> other = SharedKey(3072).PublicKey();
  ASSERT_OK(other);
  absl::StatusOr<std::string> foreign = other->Encrypt(AsBytes(RandomString(32)));
  ASSERT_OK(foreign);
  EXPECT_THAT(key.Decrypt(AsBytes(*foreign)), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RsaOaepTest, PrivateKeyPemRoundTrips) {
  const RsaOaepPrivateKey& key = SharedKey(2048);
  absl::StatusOr<SecretBytes> pem = key.PrivateKeyPem();
  ASSERT_OK(pem);
  absl::StatusOr<RsaOaepPrivateKey> reloaded = RsaOaepPrivateKey::FromPem(*pem);
  ASSERT_OK(reloaded);
  EXPECT_EQ(*reloaded->ModulusBytes(), *key.ModulusBytes());
}

TEST(RsaOaepTest, PemGarbageIsRejected) {
  std::string public_pem = *SharedKey(2048).PublicKeyPem();
  std::string private_pem(SharedKey(2048).PrivateKeyPem()->RevealAsStringView());
  std::vector<std::string> garbage = {
      "",
      "not a key",
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
      "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
  };
  for (const std::string& text : garbage) {
    EXPECT_THAT(RsaOaepPrivateKey::FromPem(SecretBytes::CopyFrom(text)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << text;
    EXPECT_THAT(RsaOaepPublicKey::FromPem(text), StatusIs(absl::StatusCode::kInvalidArgument))
        << text;
  }
  EXPECT_THAT(RsaOaepPrivateKey::FromPem(SecretBytes::CopyFrom(private_pem.substr(0, 600))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RsaOaepPublicKey::FromPem(public_pem.substr(0, 200)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Each kind of PEM is refused by the other reader.
  EXPECT_THAT(RsaOaepPrivateKey::FromPem(SecretBytes::CopyFrom(public_pem)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RsaOaepPublicKey::FromPem(private_pem), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Per key size: the largest plaintext OAEP-SHA-256 allows round-trips, one
// byte more is refused.
class RsaOaepKeySizeTest : public ::testing::TestWithParam<size_t> {};

TEST_P(RsaOaepKeySizeTest, MaximumPlaintextRoundTripsAndOneMoreIsRejected) {
  const size_t bits = GetParam();
  const RsaOaepPrivateKey& key = SharedKey(bits);
  EXPECT_EQ(key.modulus_bits(), bits);
  absl::StatusOr<RsaOaepPublicKey> public_key = key.PublicKey();
  ASSERT_OK(public_key);
  const size_t max_plaintext = bits / 8 - 2 * 32 - 2;

  std::string longest = RandomString(max_plaintext);
  absl::StatusOr<std::string> ciphertext = public_key->Encrypt(AsBytes(longest));
  ASSERT_OK(ciphertext);
  EXPECT_THAT(*ciphertext, SizeIs(bits / 8));
  absl::StatusOr<SecretBytes> decrypted = key.Decrypt(AsBytes(*ciphertext));
  ASSERT_OK(decrypted);
  EXPECT_EQ(decrypted->RevealAsStringView(), longest);

  EXPECT_THAT(public_key->Encrypt(AsBytes(RandomString(max_plaintext + 1))),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

INSTANTIATE_TEST_SUITE_P(Sizes, RsaOaepKeySizeTest, ::testing::Values(2048, 3072, 4096));

}  // namespace
}  // namespace keybroker::crypto
