#include "crypto/aes_gcm.h"

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "crypto/random.h"
#include "crypto/secret_bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::crypto {
namespace {

using ::keybroker::testing::StatusIs;
using ::testing::Each;
using ::testing::ElementsAreArray;

using Bytes = std::vector<uint8_t>;

Bytes FromHex(absl::string_view hex) {
  std::string raw = absl::HexStringToBytes(hex);
  return Bytes(raw.begin(), raw.end());
}

SecretBytes KeyFromHex(absl::string_view hex) {
  return SecretBytes::CopyFrom(absl::HexStringToBytes(hex));
}

// A known-answer vector, all fields in hex.
struct GcmVector {
  const char* name;
  const char* key;
  const char* nonce;
  const char* aad;
  const char* plaintext;
  const char* ciphertext;
  const char* tag;
};

constexpr char kSpecKey[] = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr char kSpecPlaintext[] =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
constexpr char kSpecAad[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";

// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", revised
// 2005, Appendix B, test cases 13-18 (the AES-256 ones; 17 and 18 use 64-bit
// and 480-bit nonces, which Open accepts), and NIST CAVP gcmEncryptExtIV256.rsp
// [Keylen=256][IVlen=96][PTlen=128][AADlen=160][Taglen=128] Count = 0.
// Every vector was re-checked against Python's `cryptography` AESGCM.
// clang-format off
const GcmVector kVectors[] = {
    {"SpecCase13EmptyPlaintextNoAad",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"SpecCase14OneBlockNoAad",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"SpecCase15FourBlocksNoAad", kSpecKey, "cafebabefacedbaddecaf888", "",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"SpecCase16PartialBlockWithAad", kSpecKey, "cafebabefacedbaddecaf888", kSpecAad,
     kSpecPlaintext,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    {"SpecCase17ShortNonce", kSpecKey, "cafebabefacedbad", kSpecAad, kSpecPlaintext,
     "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0"
     "feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
     "3a337dbf46a792c45e454913fe2ea8f2"},
    {"SpecCase18LongNonce", kSpecKey,
     "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"
     "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
     kSpecAad, kSpecPlaintext,
     "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4"
     "0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
     "a44a8266ee1c8eb0c8b5d4cf5ae9f19a"},
    {"CavpExtIv256Count0WithAad",
     "83688deb4af8007f9b713b47cfa6c73e35ea7a3aa4ecdb414dded03bf7a0fd3a",
     "0b459724904e010a46901cf3", "794a14ccd178c8ebfd1379dc704c5e208f9d8424",
     "33d893a2114ce06fc15d55e454cf90c3", "cc66bee423e3fcd4c0865715e9586696",
     "0fb291bd3dba94a1dfd8b286cfb97ac5"},
};
// clang-format on

class AesGcmVectorTest : public ::testing::TestWithParam<GcmVector> {};

TEST_P(AesGcmVectorTest, SealProducesTheExpectedCiphertextAndTag) {
  const GcmVector& v = GetParam();
  Bytes plaintext = FromHex(v.plaintext);
  Bytes ciphertext(plaintext.size(), 0xee);
  Bytes tag(AesGcm::kTagSize, 0xee);
  ASSERT_OK(AesGcm::Seal(KeyFromHex(v.key), FromHex(v.nonce), plaintext, FromHex(v.aad),
                         absl::MakeSpan(ciphertext), absl::MakeSpan(tag)));
  EXPECT_THAT(ciphertext, ElementsAreArray(FromHex(v.ciphertext)));
  EXPECT_THAT(tag, ElementsAreArray(FromHex(v.tag)));
}

TEST_P(AesGcmVectorTest, OpenRecoversThePlaintext) {
  const GcmVector& v = GetParam();
  Bytes ciphertext = FromHex(v.ciphertext);
  Bytes plaintext(ciphertext.size(), 0xee);
  ASSERT_OK(AesGcm::Open(KeyFromHex(v.key), FromHex(v.nonce), ciphertext, FromHex(v.aad),
                         FromHex(v.tag), absl::MakeSpan(plaintext)));
  EXPECT_THAT(plaintext, ElementsAreArray(FromHex(v.plaintext)));
}

TEST_P(AesGcmVectorTest, AadInPartsIsTheirConcatenation) {
  const GcmVector& v = GetParam();
  Bytes aad = FromHex(v.aad), plaintext = FromHex(v.plaintext);
  absl::Span<const uint8_t> all(aad);
  for (size_t cut = 0; cut <= aad.size(); ++cut) {
    SCOPED_TRACE(cut);
    Bytes ciphertext(plaintext.size()), tag(AesGcm::kTagSize), opened(plaintext.size());
    ASSERT_OK(AesGcm::SealWithAadParts(KeyFromHex(v.key), FromHex(v.nonce), plaintext,
                                       {all.subspan(0, cut), {}, all.subspan(cut)},
                                       absl::MakeSpan(ciphertext), absl::MakeSpan(tag)));
    EXPECT_THAT(ciphertext, ElementsAreArray(FromHex(v.ciphertext)));
    EXPECT_THAT(tag, ElementsAreArray(FromHex(v.tag)));
    ASSERT_OK(AesGcm::OpenWithAadParts(KeyFromHex(v.key), FromHex(v.nonce), ciphertext,
                                       {all.subspan(0, cut), all.subspan(cut)}, tag,
                                       absl::MakeSpan(opened)));
    EXPECT_EQ(opened, plaintext);
  }
}

INSTANTIATE_TEST_SUITE_P(PublishedVectors, AesGcmVectorTest, ::testing::ValuesIn(kVectors),
                         [](const auto& info) { return std::string(info.param.name); });

// A sealed message under a random key, for the tampering tests.
class AesGcmTamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<SecretBytes> key = RandomSecret(AesGcm::kKeySize);
    ASSERT_OK(key);
    key_ = std::move(*key);
    ASSERT_OK(FillRandom(absl::MakeSpan(nonce_)));
    ASSERT_OK(AesGcm::Seal(key_, nonce_, plaintext_, aad_, absl::MakeSpan(ciphertext_),
                           absl::MakeSpan(tag_)));
  }

  // Opens the given parts into a buffer pre-filled with 0xaa; returns the
  // status and leaves the buffer in `opened_`.
  absl::Status OpenInto(const SecretBytes& key, const Bytes& nonce, const Bytes& ciphertext,
                        const Bytes& aad, const Bytes& tag) {
    opened_.assign(ciphertext.size(), 0xaa);
    return AesGcm::Open(key, nonce, ciphertext, aad, tag, absl::MakeSpan(opened_));
  }

  SecretBytes key_;
  Bytes nonce_ = Bytes(AesGcm::kNonceSize);
  Bytes plaintext_ = FromHex("00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef");
  Bytes aad_ = {'c', 't', 'x'};
  Bytes ciphertext_ = Bytes(32);
  Bytes tag_ = Bytes(AesGcm::kTagSize);
  Bytes opened_;
};

TEST_F(AesGcmTamperTest, UntouchedMessageOpens) {
  ASSERT_OK(OpenInto(key_, nonce_, ciphertext_, aad_, tag_));
  EXPECT_EQ(opened_, plaintext_);
}

TEST_F(AesGcmTamperTest, FlippedCiphertextBitFailsAndWipesPlaintext) {
  for (size_t i = 0; i < ciphertext_.size(); ++i) {
    Bytes tampered = ciphertext_;
    tampered[i] ^= 0x01;
    EXPECT_THAT(OpenInto(key_, nonce_, tampered, aad_, tag_),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "byte " << i;
    EXPECT_THAT(opened_, Each(0)) << "byte " << i;
  }
}

TEST_F(AesGcmTamperTest, FlippedTagBitFailsAndWipesPlaintext) {
  for (size_t i = 0; i < tag_.size(); ++i) {
    Bytes tampered = tag_;
    tampered[i] ^= 0x80;
    EXPECT_THAT(OpenInto(key_, nonce_, ciphertext_, aad_, tampered),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "byte " << i;
    EXPECT_THAT(opened_, Each(0)) << "byte " << i;
  }
}

TEST_F(AesGcmTamperTest, ChangedAadFailsAndWipesPlaintext) {
  for (const Bytes& aad :
       {Bytes{'c', 't', 'y'}, Bytes{'c', 't'}, Bytes{'c', 't', 'x', 0}, Bytes{}}) {
    EXPECT_THAT(OpenInto(key_, nonce_, ciphertext_, aad, tag_),
                StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(opened_, Each(0));
  }
}

TEST_F(AesGcmTamperTest, ChangedNonceFailsAndWipesPlaintext) {
  Bytes nonce = nonce_;
  nonce[AesGcm::kNonceSize - 1] ^= 0x01;
  EXPECT_THAT(OpenInto(key_, nonce, ciphertext_, aad_, tag_),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(opened_, Each(0));
}

TEST_F(AesGcmTamperTest, WrongKeyFailsAndWipesPlaintext) {
  SecretBytes other = key_.Clone();
  other.RevealMutable()[0] ^= 0x01;
  EXPECT_THAT(OpenInto(other, nonce_, ciphertext_, aad_, tag_),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(opened_, Each(0));
}

TEST_F(AesGcmTamperTest, TruncatedCiphertextFails) {
  Bytes truncated(ciphertext_.begin(), ciphertext_.end() - 1);
  EXPECT_THAT(OpenInto(key_, nonce_, truncated, aad_, tag_),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(opened_, Each(0));
}

TEST_F(AesGcmTamperTest, OpenWorksAgainAfterAFailureOnTheSameThread) {
  Bytes tampered = tag_;
  tampered[0] ^= 0x01;
  ASSERT_FALSE(OpenInto(key_, nonce_, ciphertext_, aad_, tampered).ok());
  ASSERT_OK(OpenInto(key_, nonce_, ciphertext_, aad_, tag_));
  EXPECT_EQ(opened_, plaintext_);
}

class AesGcmSizeTest : public ::testing::Test {
 protected:
  absl::Status Seal(const SecretBytes& key, size_t nonce_size, size_t plaintext_size,
                    size_t ciphertext_size, size_t tag_size) {
    Bytes nonce(nonce_size), plaintext(plaintext_size), ciphertext(ciphertext_size), tag(tag_size);
    return AesGcm::Seal(key, nonce, plaintext, {}, absl::MakeSpan(ciphertext), absl::MakeSpan(tag));
  }
  absl::Status Open(const SecretBytes& key, size_t nonce_size, size_t ciphertext_size,
                    size_t tag_size, size_t plaintext_size) {
    Bytes nonce(nonce_size), ciphertext(ciphertext_size), tag(tag_size), plaintext(plaintext_size);
    return AesGcm::Open(key, nonce, ciphertext, {}, tag, absl::MakeSpan(plaintext));
  }

  SecretBytes key_ = SecretBytes(AesGcm::kKeySize);
};

TEST_F(AesGcmSizeTest, RejectsKeysThatAreNot32Bytes) {
  for (size_t size : {0, 16, 24, 31, 33, 64}) {
    SecretBytes key(size);
    EXPECT_THAT(Seal(key, 12, 16, 16, 16), StatusIs(absl::StatusCode::kInvalidArgument)) << size;
    EXPECT_THAT(Open(key, 12, 16, 16, 16), StatusIs(absl::StatusCode::kInvalidArgument)) << size;
  }
}

TEST_F(AesGcmSizeTest, RejectsTagsThatAreNot16Bytes) {
  for (size_t size : {0, 4, 12, 15, 17}) {
    EXPECT_THAT(Seal(key_, 12, 16, 16, size), StatusIs(absl::StatusCode::kInvalidArgument)) << size;
    EXPECT_THAT(Open(key_, 12, 16, size, 16), StatusIs(absl::StatusCode::kInvalidArgument)) << size;
  }
}

TEST_F(AesGcmSizeTest, RejectsOutputBuffersOfTheWrongSize) {
  EXPECT_THAT(Seal(key_, 12, 16, 15, 16), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Seal(key_, 12, 16, 17, 16), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Seal(key_, 12, 0, 1, 16), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Open(key_, 12, 16, 16, 15), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Open(key_, 12, 16, 16, 17), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(AesGcmSizeTest, RejectsEmptyAndOverlongNonces) {
  EXPECT_THAT(Seal(key_, 0, 16, 16, 16), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Seal(key_, 65, 16, 16, 16), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Open(key_, 0, 16, 16, 16), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Open(key_, 65, 16, 16, 16), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(AesGcmSizeTest, AcceptsNoncesFromOneTo64Bytes) {
  for (size_t size : {1, 12, 64}) {
    EXPECT_OK(Seal(key_, size, 16, 16, 16)) << size;
  }
}

// Each thread seals and opens its own messages, and checks one published
// vector, many times over; the per-thread cipher context must keep them apart.
TEST(AesGcmConcurrencyTest, SealAndOpenFromSeveralThreads) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 300;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures] {
      const GcmVector& known = kVectors[3];  // spec case 16
      SecretBytes known_key = KeyFromHex(known.key);
      Bytes known_nonce = FromHex(known.nonce), known_aad = FromHex(known.aad),
            known_plaintext = FromHex(known.plaintext),
            known_ciphertext = FromHex(known.ciphertext), known_tag = FromHex(known.tag);
      for (int round = 0; round < kRounds; ++round) {
        absl::StatusOr<SecretBytes> key = RandomSecret(AesGcm::kKeySize);
        Bytes nonce(AesGcm::kNonceSize), plaintext(1 + (t * 37 + round) % 100);
        Bytes aad = {static_cast<uint8_t>(t), static_cast<uint8_t>(round)};
        bool ok = key.ok() && FillRandom(absl::MakeSpan(nonce)).ok() &&
                  FillRandom(absl::MakeSpan(plaintext)).ok();
        Bytes ciphertext(plaintext.size()), tag(AesGcm::kTagSize), opened(plaintext.size());
        ok = ok &&
             AesGcm::Seal(*key, nonce, plaintext, aad, absl::MakeSpan(ciphertext),
                          absl::MakeSpan(tag))
                 .ok() &&
             AesGcm::Open(*key, nonce, ciphertext, aad, tag, absl::MakeSpan(opened)).ok() &&
             opened == plaintext;
        // A failing Open in between must not disturb the next call.
        tag[0] ^= 1;
        ok = ok && !AesGcm::Open(*key, nonce, ciphertext, aad, tag, absl::MakeSpan(opened)).ok();
        Bytes known_out(known_plaintext.size()), known_tag_out(AesGcm::kTagSize);
        ok = ok &&
             AesGcm::Seal(known_key, known_nonce, known_plaintext, known_aad,
                          absl::MakeSpan(known_out), absl::MakeSpan(known_tag_out))
                 .ok() &&
             known_out == known_ciphertext && known_tag_out == known_tag;
        if (!ok) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(failures, Each(0));
}

}  // namespace
}  // namespace keybroker::crypto
