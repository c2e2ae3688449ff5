#include "crypto/secret_file.h"

#include <stdlib.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "crypto/secret_bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::crypto {
namespace {

using ::keybroker::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kKeyHex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kSource[] = "master key file /etc/keybroker/master.key";

absl::StatusOr<SecretBytes> Parse(const std::string& text) {
  return ParseHexKey32(SecretBytes::CopyFrom(text), kSource);
}

void ExpectIsKey0To31(const absl::StatusOr<SecretBytes>& key) {
  ASSERT_OK(key);
  ASSERT_EQ(key->size(), 32u);
  for (size_t i = 0; i < 32; ++i) EXPECT_EQ(key->Reveal()[i], i);
}

TEST(ParseHexKey32Test, ParsesLowercaseHex) { ExpectIsKey0To31(Parse(kKeyHex)); }

TEST(ParseHexKey32Test, ParsesUppercaseAndMixedCase) {
  std::string upper = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";
  ExpectIsKey0To31(Parse(upper));
  std::string mixed = "000102030405060708090a0B0c0D0e0F101112131415161718191a1B1c1D1e1F";
  ExpectIsKey0To31(Parse(mixed));
}

TEST(ParseHexKey32Test, IgnoresSurroundingWhitespace) {
  ExpectIsKey0To31(Parse(std::string(kKeyHex) + "\n"));
  ExpectIsKey0To31(Parse(std::string("  \t") + kKeyHex + "\r\n"));
}

TEST(ParseHexKey32Test, ParsesHighNibbles) {
  absl::StatusOr<SecretBytes> key = Parse(std::string(64, 'f'));
  ASSERT_OK(key);
  EXPECT_EQ(key->RevealAsStringView(), std::string(32, '\xff'));
}

// A bad key is refused with a message naming the source and never any of
// the text, which may be a nearly correct key.
void ExpectRefusedWithoutLeaking(const std::string& text) {
  absl::StatusOr<SecretBytes> key = Parse(text);
  EXPECT_THAT(key, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(kSource))) << text;
  std::string start(absl::StripAsciiWhitespace(text).substr(0, 16));
  if (!start.empty()) {
    EXPECT_THAT(key, StatusIs(absl::StatusCode::kInvalidArgument, Not(HasSubstr(start)))) << text;
  }
}

TEST(ParseHexKey32Test, RejectsWrongLengths) {
  std::string key = kKeyHex;
  ExpectRefusedWithoutLeaking(key.substr(0, 63));
  ExpectRefusedWithoutLeaking(key + "a");
  ExpectRefusedWithoutLeaking(key + key);
  ExpectRefusedWithoutLeaking("");
  ExpectRefusedWithoutLeaking("   \n");
}

TEST(ParseHexKey32Test, RejectsNonHexCharacters) {
  std::string key = kKeyHex;
  for (char bad : {'g', 'G', 'x', ' ', '-', '\0'}) {
    std::string text = key;
    text[40] = bad;
    ExpectRefusedWithoutLeaking(text);
  }
}

TEST(ParseHexKey32Test, RejectsInnerWhitespace) {
  std::string key = kKeyHex;
  ExpectRefusedWithoutLeaking(key.substr(0, 32) + "\n" + key.substr(32, 31));
}

class ReadSecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
  }

  std::string WriteFile(const std::string& name, const std::string& data) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << data;
    return path;
  }

  keybroker::testing::TempDir temp_;
  std::string dir_;
};

TEST_F(ReadSecretFileTest, ReadsTheWholeFile) {
  std::string data("client\0secret\n", 14);
  absl::StatusOr<SecretBytes> secret = ReadSecretFile(WriteFile("secret", data));
  ASSERT_OK(secret);
  EXPECT_EQ(secret->RevealAsStringView(), data);
}

TEST_F(ReadSecretFileTest, ReadFileThenParseGivesTheKey) {
  absl::StatusOr<SecretBytes> text =
      ReadSecretFile(WriteFile("master.key", std::string(kKeyHex) + "\n"));
  ASSERT_OK(text);
  ExpectIsKey0To31(ParseHexKey32(*text, "master.key"));
}

TEST_F(ReadSecretFileTest, AcceptsExactlyMaxSizeAndRejectsMore) {
  EXPECT_OK(ReadSecretFile(WriteFile("fits", std::string(10, 's')), 10));
  EXPECT_THAT(ReadSecretFile(WriteFile("big", std::string(11, 's')), 10),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ReadSecretFileTest, MissingFileIsNotFound) {
  EXPECT_THAT(ReadSecretFile(dir_ + "/missing"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace keybroker::crypto
