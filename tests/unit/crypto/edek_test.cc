#include "crypto/edek.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::crypto {
namespace {

using ::keybroker::testing::HasReason;
using ::keybroker::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr char kHexVersion[] = "0123456789abcdef0123456789abcdef";

void ExpectSameEdek(const Edek& actual, const Edek& expected) {
  EXPECT_EQ(actual.kms, expected.kms);
  EXPECT_EQ(actual.algorithm, expected.algorithm);
  EXPECT_EQ(actual.key_name, expected.key_name);
  EXPECT_EQ(actual.key_version, expected.key_version);
  EXPECT_EQ(actual.iv, expected.iv);
  EXPECT_EQ(actual.tag, expected.tag);
  EXPECT_EQ(actual.wrapped, expected.wrapped);
}

// A local-keyring EDEK: string version, AES-GCM nonce and tag.
Edek LocalEdek() {
  Edek edek;
  edek.kms = EdekKms::kLocal;
  edek.algorithm = EdekAlgorithm::kAes256Gcm;
  edek.key_name = "payments";
  edek.key_version = "7";
  edek.iv = std::string(12, '\x11');
  edek.tag = std::string(16, '\x22');
  edek.wrapped = std::string(32, '\x33');
  return edek;
}

// An Azure Key Vault EDEK: 32-hex version, RSA-OAEP-256, no iv or tag.
Edek AzureEdek() {
  Edek edek;
  edek.kms = EdekKms::kAzure;
  edek.algorithm = EdekAlgorithm::kRsaOaep256;
  edek.key_name = "prod-kek";
  edek.key_version = kHexVersion;
  edek.wrapped = std::string(256, '\x44');
  return edek;
}

// The smallest interesting EDEK and its bytes, written out by hand.
Edek TinyEdek() {
  Edek edek;
  edek.kms = EdekKms::kLocal;
  edek.algorithm = EdekAlgorithm::kAes256Gcm;
  edek.key_name = "k";
  edek.key_version = "7";
  edek.iv = "\x01\x02";
  edek.tag = "\x03";
  edek.wrapped = "\xaa\xbb";
  return edek;
}

std::string TinyBytes() {
  // clang-format off
  return std::string(
      "\x01"          // format version 1
      "\x01"          // kms: local
      "\x01"          // algorithm: AES-256-GCM
      "\x01" "k"      // key name
      "\x01" "7"      // version as a 1-byte string
      "\x02\x01\x02"  // iv
      "\x01\x03"      // tag
      "\x00\x02"      // wrapped length, big-endian
      "\xaa\xbb",     // wrapped
      16);
  // clang-format on
}

std::string Encode(const Edek& edek) {
  absl::StatusOr<std::string> encoded = EncodeEdek(edek);
  EXPECT_OK(encoded);
  return encoded.ok() ? *encoded : "";
}

TEST(EdekTest, TinyEdekEncodesToTheHandWrittenBytes) { EXPECT_EQ(Encode(TinyEdek()), TinyBytes()); }

TEST(EdekTest, TinyEdekDecodesFromTheHandWrittenBytes) {
  absl::StatusOr<Edek> decoded = DecodeEdek(TinyBytes());
  ASSERT_OK(decoded);
  ExpectSameEdek(*decoded, TinyEdek());
}

TEST(EdekTest, LocalEdekRoundTrips) {
  std::string encoded = Encode(LocalEdek());
  EXPECT_THAT(encoded, SizeIs(4 + 8 + 1 + 1 + 1 + 12 + 1 + 16 + 2 + 32));
  absl::StatusOr<Edek> decoded = DecodeEdek(encoded);
  ASSERT_OK(decoded);
  ExpectSameEdek(*decoded, LocalEdek());
}

TEST(EdekTest, AzureHexVersionIsStoredAsSixteenRawBytes) {
  std::string encoded = Encode(AzureEdek());
  // header 4 + name 8 + marker 1 + 16 raw version bytes + iv 1 + tag 1 + 2 + 256.
  EXPECT_THAT(encoded, SizeIs(4 + 8 + 1 + 16 + 1 + 1 + 2 + 256));
  EXPECT_EQ(encoded.substr(12, 17), std::string("\x00\x01\x23\x45\x67\x89\xab\xcd\xef"
                                                "\x01\x23\x45\x67\x89\xab\xcd\xef",
                                                17));
  absl::StatusOr<Edek> decoded = DecodeEdek(encoded);
  ASSERT_OK(decoded);
  ExpectSameEdek(*decoded, AzureEdek());
}

TEST(EdekTest, VersionsThatAreNotLowercaseHex32AreStoredAsStrings) {
  for (std::string version : {"0123456789ABCDEF0123456789ABCDEF",  // upper case
                              "0123456789abcdef0123456789abcde",   // 31 characters
                              "0123456789abcdef0123456789abcdef0", "v2"}) {
    Edek edek = AzureEdek();
    edek.key_version = version;
    std::string encoded = Encode(edek);
    EXPECT_THAT(encoded, SizeIs(4 + 8 + 1 + version.size() + 1 + 1 + 2 + 256)) << version;
    EXPECT_EQ(encoded[12], static_cast<char>(version.size())) << version;
    absl::StatusOr<Edek> decoded = DecodeEdek(encoded);
    ASSERT_OK(decoded);
    EXPECT_EQ(decoded->key_version, version);
  }
}

TEST(EdekTest, LargestFieldsRoundTrip) {
  Edek edek;
  edek.kms = EdekKms::kAzure;
  edek.algorithm = EdekAlgorithm::kAes256Gcm;
  edek.key_name = std::string(Edek::kMaxNameSize, 'n');
  edek.key_version = std::string(Edek::kMaxNameSize, 'v');
  edek.iv = std::string(Edek::kMaxIvOrTagSize, 'i');
  edek.tag = std::string(Edek::kMaxIvOrTagSize, 't');
  edek.wrapped = std::string(Edek::kMaxWrappedSize, 'w');
  std::string encoded = Encode(edek);
  EXPECT_LE(encoded.size(), Edek::kMaxEncodedSize);
  absl::StatusOr<Edek> decoded = DecodeEdek(encoded);
  ASSERT_OK(decoded);
  ExpectSameEdek(*decoded, edek);
}

TEST(EdekTest, EncodeRejectsFieldsOutOfRange) {
  std::vector<Edek> bad(8, LocalEdek());
  bad[0].key_name = "";
  bad[1].key_name = std::string(256, 'n');
  bad[2].key_version = "";
  bad[3].iv = std::string(33, 'i');
  bad[4].tag = std::string(33, 't');
  bad[5].wrapped = "";
  bad[6].wrapped = std::string(1025, 'w');
  bad[7].key_version = std::string(256, 'v');
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_THAT(EncodeEdek(bad[i]), HasReason(ErrorReason::kInternal)) << i;
  }
  // The header needs only the header fields: a KMS computes it before it has
  // anything wrapped.
  for (size_t i : {0, 1, 2, 7}) {
    EXPECT_THAT(EdekAuthenticatedHeader(bad[i]), HasReason(ErrorReason::kInternal)) << i;
  }
  for (size_t i : {3, 4, 5, 6}) EXPECT_OK(EdekAuthenticatedHeader(bad[i])) << i;
}

TEST(EdekTest, AuthenticatedHeaderIsThePrefixUpToTheVersion) {
  for (const Edek& edek : {LocalEdek(), AzureEdek(), TinyEdek()}) {
    absl::StatusOr<std::string> header = EdekAuthenticatedHeader(edek);
    ASSERT_OK(header);
    EXPECT_THAT(Encode(edek), StartsWith(*header));
  }
  EXPECT_EQ(*EdekAuthenticatedHeader(TinyEdek()), TinyBytes().substr(0, 7));
  EXPECT_THAT(*EdekAuthenticatedHeader(AzureEdek()), SizeIs(4 + 8 + 1 + 16));
}

TEST(EdekTest, AuthenticatedHeaderCoversIdentityButNotWrappedParts) {
  const std::string header = *EdekAuthenticatedHeader(LocalEdek());
  std::vector<Edek> identity_changes(4, LocalEdek());
  identity_changes[0].kms = EdekKms::kAzure;
  identity_changes[1].algorithm = EdekAlgorithm::kRsaOaep256;
  identity_changes[2].key_name = "payment";
  identity_changes[3].key_version = "8";
  for (const Edek& edek : identity_changes) {
    EXPECT_NE(*EdekAuthenticatedHeader(edek), header);
  }
  Edek rewrapped = LocalEdek();
  rewrapped.iv = std::string(12, '\x55');
  rewrapped.tag = std::string(16, '\x66');
  rewrapped.wrapped = "other";
  EXPECT_EQ(*EdekAuthenticatedHeader(rewrapped), header);
}

TEST(EdekTest, EveryTruncationIsInvalid) {
  for (const Edek& edek : {LocalEdek(), AzureEdek(), TinyEdek()}) {
    std::string encoded = Encode(edek);
    for (size_t length = 0; length < encoded.size(); ++length) {
      EXPECT_THAT(DecodeEdek(encoded.substr(0, length)), HasReason(ErrorReason::kEdekInvalid))
          << "length " << length << " of " << encoded.size();
    }
  }
}

// Decodes `bytes` expecting EDEK_INVALID with `field` named in the message.
void ExpectInvalid(const std::string& bytes, const std::string& field) {
  absl::StatusOr<Edek> decoded = DecodeEdek(bytes);
  EXPECT_THAT(decoded, HasReason(ErrorReason::kEdekInvalid)) << field;
  EXPECT_THAT(decoded, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(field)));
}

// TinyBytes() with byte `offset` replaced by `value`.
std::string TinyWith(size_t offset, char value) {
  std::string bytes = TinyBytes();
  bytes[offset] = value;
  return bytes;
}

TEST(EdekTest, RejectsUnknownFormatKmsAndAlgorithm) {
  ExpectInvalid(TinyWith(0, '\x02'), "format");
  ExpectInvalid(TinyWith(0, '\x00'), "format");
  ExpectInvalid(TinyWith(1, '\x09'), "kms");
  ExpectInvalid(TinyWith(1, '\x00'), "kms");
  ExpectInvalid(TinyWith(2, '\x03'), "algorithm");
  ExpectInvalid(TinyWith(2, '\x00'), "algorithm");
}

TEST(EdekTest, RejectsAnEmptyKeyName) {
  // Name length 0, with the rest of the EDEK intact behind it.
  std::string bytes = TinyBytes().substr(0, 3) + std::string(1, '\0') + TinyBytes().substr(5);
  ExpectInvalid(bytes, "key name");
}

TEST(EdekTest, RejectsIvOrTagLongerThan32) {
  std::string long_iv =
      TinyBytes().substr(0, 7) + "\x21" + std::string(33, 'i') + TinyBytes().substr(10);
  ExpectInvalid(long_iv, "iv");
  std::string long_tag =
      TinyBytes().substr(0, 10) + "\x21" + std::string(33, 't') + TinyBytes().substr(12);
  ExpectInvalid(long_tag, "tag");
}

TEST(EdekTest, RejectsWrappedLengthZeroOrAbove1024) {
  std::string prefix = TinyBytes().substr(0, 12);
  ExpectInvalid(prefix + std::string("\x00\x00", 2), "wrapped key length");
  ExpectInvalid(prefix + std::string("\x04\x01", 2) + std::string(1025, 'w'), "wrapped key length");
  // 1024 itself is fine.
  EXPECT_OK(DecodeEdek(prefix + std::string("\x04\x00", 2) + std::string(1024, 'w')));
}

TEST(EdekTest, RejectsTrailingBytes) {
  ExpectInvalid(TinyBytes() + std::string(1, '\0'), "trailing");
}

TEST(EdekTest, RejectsALowercaseHexVersionStoredAsAString) {
  // The encoder always stores these raw, so a string form is not canonical.
  std::string bytes = TinyBytes().substr(0, 5) + "\x20" + kHexVersion + TinyBytes().substr(7);
  ExpectInvalid(bytes, "version");
}

TEST(EdekTest, RejectsEmptyInputAndInputOver2048Bytes) {
  ExpectInvalid("", "empty");
  ExpectInvalid(TinyBytes() + std::string(2049 - TinyBytes().size(), 'x'), "2049");
}

TEST(EdekTest, NamesKmsKindsAndAlgorithms) {
  EXPECT_EQ(EdekKmsName(EdekKms::kLocal), "local");
  EXPECT_EQ(EdekKmsName(EdekKms::kAzure), "azure");
  EXPECT_EQ(EdekAlgorithmName(EdekAlgorithm::kAes256Gcm), "AES-256-GCM");
  EXPECT_EQ(EdekAlgorithmName(EdekAlgorithm::kRsaOaep256), "RSA-OAEP-256");
}

}  // namespace
}  // namespace keybroker::crypto
