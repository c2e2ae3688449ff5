#include "crypto/hmac.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "crypto/secret_bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::crypto {
namespace {

absl::Span<const uint8_t> AsBytes(absl::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string ToHex(const Sha256Digest& digest) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

struct HmacVector {
  const char* name;
  std::string key;
  std::string data;
  const char* mac_hex;
};

// RFC 4231 section 4, the HMAC-SHA-256 results of test cases 1-4, 6 and 7
// (case 5 is a truncated output). Re-checked against Python's hmac module.
std::vector<HmacVector> Rfc4231Vectors() {
  return {
      {"Case1", std::string(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Case2ShortKey", "Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"Case3", std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"Case4", absl::HexStringToBytes("0102030405060708090a0b0c0d0e0f10111213141516171819"),
       std::string(50, '\xcd'), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {"Case6KeyLongerThanBlock", std::string(131, '\xaa'),
       "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {"Case7KeyAndDataLongerThanBlock", std::string(131, '\xaa'),
       "This is a test using a larger than block-size key and a larger than block-size data. "
       "The key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
}

class HmacRfc4231Test : public ::testing::TestWithParam<HmacVector> {};

TEST_P(HmacRfc4231Test, MatchesThePublishedMac) {
  const HmacVector& v = GetParam();
  absl::StatusOr<Sha256Digest> mac = HmacSha256(SecretBytes::CopyFrom(v.key), AsBytes(v.data));
  ASSERT_OK(mac);
  EXPECT_EQ(ToHex(*mac), v.mac_hex);
}

INSTANTIATE_TEST_SUITE_P(Rfc4231, HmacRfc4231Test, ::testing::ValuesIn(Rfc4231Vectors()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(HmacTest, EmptyMessageHasAMac) {
  // HMAC-SHA-256(key = "key", message = ""), checked with Python's hmac module.
  absl::StatusOr<Sha256Digest> mac = HmacSha256(SecretBytes::CopyFrom("key"), {});
  ASSERT_OK(mac);
  EXPECT_EQ(ToHex(*mac), "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0");
}

TEST(HmacTest, EmptyKeyIsAllowed) {
  // HMAC-SHA-256(key = "", message = "abc"), checked with Python's hmac module.
  absl::StatusOr<Sha256Digest> mac = HmacSha256(SecretBytes(), AsBytes("abc"));
  ASSERT_OK(mac);
  EXPECT_EQ(ToHex(*mac), "fd7adb152c05ef80dccf50a1fa4c05d5a3ec6da95575fc312ae7c5d091836351");
}

TEST(HmacTest, DifferentKeysGiveDifferentMacs) {
  absl::StatusOr<Sha256Digest> a = HmacSha256(SecretBytes::CopyFrom("key-a"), AsBytes("data"));
  absl::StatusOr<Sha256Digest> b = HmacSha256(SecretBytes::CopyFrom("key-b"), AsBytes("data"));
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_NE(*a, *b);
}

// FIPS 180-2 appendix B.1 ("abc") and B.2 (a two-block message), and the
// well-known digest of the empty string.
TEST(Sha256Test, MatchesKnownDigests) {
  EXPECT_EQ(ToHex(Sha256(AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha256(AsBytes(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ToHex(Sha256(AsBytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

}  // namespace
}  // namespace keybroker::crypto
