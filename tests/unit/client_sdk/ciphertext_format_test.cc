#include "client_sdk/src/ciphertext_format.h"

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "common/error_reason.h"
#include "crypto/edek.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keybroker/sdk/ciphertext_info.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::sdk::internal {
namespace {

using ::keybroker::testing::HasReason;
using ::keybroker::testing::StatusIs;
using ::testing::HasSubstr;

std::string AsString(absl::Span<const uint8_t> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A laid-out ciphertext with every mutable slot filled with a marker byte.
std::string Build(absl::string_view edek, size_t plaintext_size) {
  std::string out;
  absl::StatusOr<CiphertextSlots> slots = LayOutCiphertext(edek, plaintext_size, out);
  EXPECT_OK(slots);
  if (!slots.ok()) return out;
  std::fill(slots->nonce.begin(), slots->nonce.end(), 'n');
  std::fill(slots->encrypted.begin(), slots->encrypted.end(), 'c');
  std::fill(slots->tag.begin(), slots->tag.end(), 't');
  return out;
}

TEST(CiphertextFormatTest, LaysOutTheDocumentedBytes) {
  // docs/ciphertext-format.md, "Example".
  std::string out = Build("\xe1\xe2\xe3\xe4", 5);
  EXPECT_EQ(out, std::string("\x01\x00\x04\xe1\xe2\xe3\xe4", 7) + std::string(12, 'n') +
                     std::string(5, 'c') + std::string(16, 't'));
  EXPECT_EQ(out.size(), 40u);
}

TEST(CiphertextFormatTest, HeaderIsEverythingBeforeTheCiphertext) {
  std::string out;
  absl::StatusOr<CiphertextSlots> slots = LayOutCiphertext("edek", 3, out);
  ASSERT_OK(slots);
  EXPECT_EQ(slots->header.data(), reinterpret_cast<const uint8_t*>(out.data()));
  EXPECT_EQ(slots->header.size(), 1u + 2 + 4 + 12);
  EXPECT_EQ(slots->nonce.data() + slots->nonce.size(), slots->encrypted.data());
  EXPECT_EQ(slots->header.data() + slots->header.size(), slots->encrypted.data());
  EXPECT_EQ(slots->tag.data() + slots->tag.size(),
            reinterpret_cast<const uint8_t*>(out.data() + out.size()));
}

TEST(CiphertextFormatTest, EdekLengthIsBigEndian) {
  std::string out = Build(std::string(300, 'e'), 0);
  EXPECT_EQ(static_cast<uint8_t>(out[1]), 0x01);
  EXPECT_EQ(static_cast<uint8_t>(out[2]), 0x2c);
}

TEST(CiphertextFormatTest, ParseSplitsWhatLayOutWrote) {
  for (size_t edek_size : {size_t{1}, size_t{105}, size_t{256}, kMaxEdekSize}) {
    for (size_t plaintext_size : {size_t{0}, size_t{1}, size_t{1000}}) {
      SCOPED_TRACE(::testing::Message() << edek_size << " " << plaintext_size);
      std::string edek(edek_size, 'e');
      std::string out = Build(edek, plaintext_size);
      ASSERT_EQ(out.size(), kFixedOverhead + edek_size + plaintext_size);
      absl::StatusOr<CiphertextParts> parts = ParseCiphertext(out);
      ASSERT_OK(parts);
      EXPECT_EQ(parts->edek, edek);
      EXPECT_EQ(AsString(parts->header), out.substr(0, 3 + edek_size + 12));
      EXPECT_EQ(AsString(parts->nonce), std::string(12, 'n'));
      EXPECT_EQ(AsString(parts->encrypted), std::string(plaintext_size, 'c'));
      EXPECT_EQ(AsString(parts->tag), std::string(16, 't'));
    }
  }
}

TEST(CiphertextFormatTest, TheShortestCiphertextIs32Bytes) {
  std::string out = Build("e", 0);
  EXPECT_EQ(out.size(), 32u);
  EXPECT_OK(ParseCiphertext(out));
  EXPECT_THAT(ParseCiphertext(out.substr(0, 31)), HasReason(ErrorReason::kEdekInvalid));
}

TEST(CiphertextFormatTest, RejectsEveryTruncation) {
  std::string out = Build("some-edek", 4);
  // With the tag at the end, anything from header + 16 bytes on parses (the
  // tag then fails); everything shorter is rejected here.
  for (size_t size = 0; size < kFixedOverhead + 9; ++size) {
    SCOPED_TRACE(size);
    EXPECT_THAT(ParseCiphertext(out.substr(0, size)), HasReason(ErrorReason::kEdekInvalid));
  }
  EXPECT_THAT(ParseCiphertext(out.substr(0, 20)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("truncated")));
}

TEST(CiphertextFormatTest, RejectsUnknownFormatBytes) {
  std::string out = Build("edek", 1);
  for (int format : {0x00, 0x02, 0x81, 0xff}) {
    out[0] = static_cast<char>(format);
    EXPECT_THAT(ParseCiphertext(out),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown format byte")));
    EXPECT_THAT(ParseCiphertext(out), HasReason(ErrorReason::kEdekInvalid));
  }
}

TEST(CiphertextFormatTest, RejectsZeroEdekLength) {
  std::string out = Build("edek", 20);
  out[1] = out[2] = '\0';
  EXPECT_THAT(ParseCiphertext(out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("EDEK length is 0")));
}

TEST(CiphertextFormatTest, RejectsAnEdekLengthPastTheEnd) {
  std::string out = Build("edek", 20);
  out[1] = '\xff';
  out[2] = '\xff';
  EXPECT_THAT(ParseCiphertext(out), HasReason(ErrorReason::kEdekInvalid));
}

TEST(CiphertextFormatTest, LayOutRefusesEdeksTheLengthCannotSay) {
  std::string out;
  EXPECT_THAT(LayOutCiphertext("", 1, out), StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(LayOutCiphertext(std::string(kMaxEdekSize + 1, 'e'), 1, out),
              StatusIs(absl::StatusCode::kInternal));
}

// InspectCiphertext (keybroker/sdk/ciphertext_info.h) reads the key out of
// the EDEK in the header.
std::string EncodedEdek(crypto::EdekKms kms, const std::string& name, const std::string& version) {
  crypto::Edek edek;
  edek.kms = kms;
  edek.algorithm = kms == crypto::EdekKms::kAzure ? crypto::EdekAlgorithm::kRsaOaep256
                                                  : crypto::EdekAlgorithm::kAes256Gcm;
  edek.key_name = name;
  edek.key_version = version;
  edek.wrapped = std::string(256, 'w');
  if (kms == crypto::EdekKms::kLocal) {
    edek.iv = std::string(12, 'i');
    edek.tag = std::string(16, 't');
  }
  absl::StatusOr<std::string> encoded = crypto::EncodeEdek(edek);
  EXPECT_OK(encoded);
  return encoded.ok() ? *encoded : "";
}

TEST(CiphertextInfoTest, NamesTheKeyAndVersionOfTheEdekInTheHeader) {
  absl::StatusOr<CiphertextKeyInfo> local =
      InspectCiphertext(Build(EncodedEdek(crypto::EdekKms::kLocal, "service-managed", "7"), 10));
  ASSERT_OK(local);
  EXPECT_EQ(local->kms, "local");
  EXPECT_EQ(local->key_name, "service-managed");
  EXPECT_EQ(local->key_version, "7");

  const std::string hex_version = "0123456789abcdef0123456789abcdef";  // stored raw, read as hex
  absl::StatusOr<CiphertextKeyInfo> azure = InspectCiphertext(
      Build(EncodedEdek(crypto::EdekKms::kAzure, "kv1.vault.azure.net/cmk", hex_version), 0));
  ASSERT_OK(azure);
  EXPECT_EQ(azure->kms, "azure");
  EXPECT_EQ(azure->key_name, "kv1.vault.azure.net/cmk");
  EXPECT_EQ(azure->key_version, hex_version);
}

TEST(CiphertextInfoTest, RefusesABadCiphertextOrEdekWithEdekInvalid) {
  EXPECT_THAT(InspectCiphertext(absl::string_view("\x01\x00", 2)),
              HasReason(ErrorReason::kEdekInvalid));
  EXPECT_THAT(InspectCiphertext(Build("not an edek", 4)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(InspectCiphertext(Build("not an edek", 4)), HasReason(ErrorReason::kEdekInvalid));
}

}  // namespace
}  // namespace keybroker::sdk::internal
