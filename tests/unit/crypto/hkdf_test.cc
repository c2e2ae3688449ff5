#include "crypto/hkdf.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::crypto {
namespace {

std::string Hex(const SecretBytes& bytes) {
  return absl::BytesToHexString(bytes.RevealAsStringView());
}

SecretBytes FromHex(absl::string_view hex) {
  return SecretBytes::CopyFrom(absl::HexStringToBytes(hex));
}

// RFC 5869 appendix A.1 (basic test case with SHA-256).
TEST(HkdfTest, Rfc5869TestCase1) {
  SecretBytes ikm = FromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
  std::string salt = absl::HexStringToBytes("000102030405060708090a0b0c");
  std::string info = absl::HexStringToBytes("f0f1f2f3f4f5f6f7f8f9");
  absl::StatusOr<SecretBytes> okm = HkdfSha256(
      ikm, {reinterpret_cast<const uint8_t*>(salt.data()), salt.size()}, info, 42);
  ASSERT_OK(okm);
  EXPECT_EQ(Hex(*okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

// RFC 5869 appendix A.3 (zero-length salt and info).
TEST(HkdfTest, Rfc5869TestCase3WithoutSaltOrInfo) {
  SecretBytes ikm = FromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
  absl::StatusOr<SecretBytes> okm = HkdfSha256(ikm, {}, "", 42);
  ASSERT_OK(okm);
  EXPECT_EQ(Hex(*okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

// Each thread reuses one context: nothing of one call (its salt, its info)
// may carry into the next, on any thread.
TEST(HkdfTest, CallsInAnyOrderOnAnyThreadGiveTheRfcAnswers) {
  SecretBytes ikm = FromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
  std::string salt = absl::HexStringToBytes("000102030405060708090a0b0c");
  std::string info = absl::HexStringToBytes("f0f1f2f3f4f5f6f7f8f9");
  auto with_salt = [&] {
    return HkdfSha256(ikm, {reinterpret_cast<const uint8_t*>(salt.data()), salt.size()}, info,
                      42);
  };
  auto without = [&] { return HkdfSha256(ikm, {}, "", 42); };
  const std::string case1 =
      "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865";
  const std::string case3 =
      "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8";
  auto check = [&] {
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<SecretBytes> first = with_salt();
      absl::StatusOr<SecretBytes> second = without();
      ASSERT_OK(first);
      ASSERT_OK(second);
      EXPECT_EQ(Hex(*first), case1);
      EXPECT_EQ(Hex(*second), case3);
    }
  };
  check();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(check);
  for (std::thread& thread : threads) thread.join();
}

TEST(HkdfTest, RejectsBadLengths) {
  SecretBytes ikm = FromHex("00");
  EXPECT_FALSE(HkdfSha256(ikm, {}, "x", 0).ok());
  EXPECT_FALSE(HkdfSha256(ikm, {}, "x", 255 * 32 + 1).ok());
  EXPECT_FALSE(HkdfSha256(SecretBytes(), {}, "x", 32).ok());
}

}  // namespace
}  // namespace keybroker::crypto
