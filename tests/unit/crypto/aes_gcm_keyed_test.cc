// AesGcmKeyed (a context keyed once, only the nonce set per record) and
// AesGcmPerThread (one such context per thread) must give exactly what the
// one-shot AesGcm gives, through any sequence of directions, nonce lengths
// and failures, and from many threads at once.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "crypto/aes_gcm.h"
#include "crypto/aes_gcm_per_thread.h"
#include "crypto/random.h"
#include "crypto/secret_bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::crypto {
namespace {

using ::testing::Each;
using ::testing::ElementsAreArray;
using Bytes = std::vector<uint8_t>;

Bytes FromHex(absl::string_view hex) {
  std::string raw = absl::HexStringToBytes(hex);
  return Bytes(raw.begin(), raw.end());
}

// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", Appendix B,
// test cases 15 to 18 (one key; nonces of 12, 12, 8 and 60 bytes).
struct Vector {
  const char* nonce;
  const char* aad;
  const char* ciphertext;
  const char* tag;
};
constexpr char kKey[] = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr char kPlaintext[] =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
constexpr char kAad[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
// clang-format off
const Vector kVectors[] = {
    {"cafebabefacedbaddecaf888", kAad,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    {"cafebabefacedbad", kAad,
     "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0"
     "feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
     "3a337dbf46a792c45e454913fe2ea8f2"},
    {"9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"
     "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b", kAad,
     "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4"
     "0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
     "a44a8266ee1c8eb0c8b5d4cf5ae9f19a"},
};
// clang-format on

SecretBytes Key() { return SecretBytes::CopyFrom(absl::HexStringToBytes(kKey)); }

TEST(AesGcmKeyedTest, CreateRefusesKeysThatAreNot32Bytes) {
  EXPECT_EQ(AesGcmKeyed::Create(SecretBytes::CopyFrom(std::string(16, 'k'))), nullptr);
  EXPECT_EQ(AesGcmKeyed::Create(SecretBytes()), nullptr);
}

// One context through every vector twice, sealing and opening in turn, with
// a failed open between: each record depends only on its own nonce.
TEST(AesGcmKeyedTest, OneContextSealsAndOpensThroughNonceLengthsAndFailures) {
  SecretBytes key = Key();
  std::unique_ptr<AesGcmKeyed> keyed = AesGcmKeyed::Create(key);
  ASSERT_NE(keyed, nullptr);
  const Bytes plaintext = FromHex(kPlaintext);
  for (int pass = 0; pass < 2; ++pass) {
    for (const Vector& v : kVectors) {
      SCOPED_TRACE(v.nonce);
      const Bytes nonce = FromHex(v.nonce), aad = FromHex(v.aad);
      Bytes ciphertext(plaintext.size()), tag(AesGcm::kTagSize);
      ASSERT_OK(keyed->SealWithAadParts(nonce, plaintext, {aad}, absl::MakeSpan(ciphertext),
                                        absl::MakeSpan(tag)));
      EXPECT_THAT(ciphertext, ElementsAreArray(FromHex(v.ciphertext)));
      EXPECT_THAT(tag, ElementsAreArray(FromHex(v.tag)));

      Bytes bad_tag = tag;
      bad_tag[0] ^= 1;
      Bytes opened(plaintext.size(), 0xaa);
      EXPECT_FALSE(
          keyed->OpenWithAadParts(nonce, ciphertext, {aad}, bad_tag, absl::MakeSpan(opened)).ok());
      EXPECT_THAT(opened, Each(0));  // nothing unverified left behind

      ASSERT_OK(keyed->OpenWithAadParts(nonce, ciphertext, {aad}, tag, absl::MakeSpan(opened)));
      EXPECT_EQ(opened, plaintext);
    }
  }
}

TEST(AesGcmKeyedTest, AgreesWithTheOneShotFunctionsUnderARandomKey) {
  absl::StatusOr<SecretBytes> key = RandomSecret(AesGcm::kKeySize);
  ASSERT_OK(key);
  std::unique_ptr<AesGcmKeyed> keyed = AesGcmKeyed::Create(*key);
  ASSERT_NE(keyed, nullptr);
  for (size_t size : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{1024}, size_t{5000}}) {
    SCOPED_TRACE(size);
    Bytes plaintext(size), nonce(AesGcm::kNonceSize), header = {1, 2, 3}, aad = {'a'};
    ASSERT_OK(FillRandom(absl::MakeSpan(plaintext)));
    ASSERT_OK(FillNonce(absl::MakeSpan(nonce)));
    Bytes ciphertext(size), tag(AesGcm::kTagSize), expected(size), expected_tag(AesGcm::kTagSize);
    ASSERT_OK(keyed->SealWithAadParts(nonce, plaintext, {header, aad}, absl::MakeSpan(ciphertext),
                                      absl::MakeSpan(tag)));
    ASSERT_OK(AesGcm::SealWithAadParts(*key, nonce, plaintext, {header, aad},
                                       absl::MakeSpan(expected), absl::MakeSpan(expected_tag)));
    EXPECT_EQ(ciphertext, expected);
    EXPECT_EQ(tag, expected_tag);
  }
}

// More threads than slots: some seal the one-shot way. Every record opens,
// through the per-thread contexts and through the one-shot function.
TEST(AesGcmPerThreadTest, ManyThreadsSealAndOpenCorrectly) {
  absl::StatusOr<SecretBytes> key = RandomSecret(AesGcm::kKeySize);
  ASSERT_OK(key);
  AesGcmPerThread cipher(*key);
  constexpr int kThreads = 24;
  constexpr int kRecords = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRecords; ++i) {
        Bytes plaintext(64 + i, static_cast<uint8_t>(t)), nonce(AesGcm::kNonceSize);
        Bytes aad = {static_cast<uint8_t>(t), static_cast<uint8_t>(i)};
        Bytes ciphertext(plaintext.size()), tag(AesGcm::kTagSize), opened(plaintext.size());
        Bytes again(plaintext.size());
        const bool ok =
            FillNonce(absl::MakeSpan(nonce)).ok() &&
            cipher
                .SealWithAadParts(nonce, plaintext, {aad}, absl::MakeSpan(ciphertext),
                                  absl::MakeSpan(tag))
                .ok() &&
            cipher.OpenWithAadParts(nonce, ciphertext, {aad}, tag, absl::MakeSpan(opened)).ok() &&
            AesGcm::OpenWithAadParts(*key, nonce, ciphertext, {aad}, tag, absl::MakeSpan(again))
                .ok();
        if (!ok || opened != plaintext || again != plaintext) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(AesGcmPerThreadTest, RefusesWhatTheOneShotFunctionsRefuse) {
  SecretBytes key = Key();
  AesGcmPerThread cipher(key);
  Bytes plaintext(16), ciphertext(15), tag(AesGcm::kTagSize), nonce(AesGcm::kNonceSize);
  EXPECT_FALSE(
      cipher.SealWithAadParts(nonce, plaintext, {}, absl::MakeSpan(ciphertext), absl::MakeSpan(tag))
          .ok());
  EXPECT_FALSE(
      cipher.SealWithAadParts({}, plaintext, {}, absl::MakeSpan(plaintext), absl::MakeSpan(tag))
          .ok());
}

}  // namespace
}  // namespace keybroker::crypto
