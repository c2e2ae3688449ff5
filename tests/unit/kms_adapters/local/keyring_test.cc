#include "kms_adapters/local/keyring.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::kms {
namespace {

using ::keybroker::testing::HasReason;
using ::keybroker::testing::StatusIs;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

TEST(KeyringTest, NewKeyStartsAtVersionOne) {
  Keyring keyring;
  ASSERT_OK(keyring.AddKey("k", kNow));
  const KeyVersion* current = keyring.Current("k");
  ASSERT_NE(current, nullptr);
  EXPECT_EQ(current->number, 1u);
  EXPECT_EQ(current->material.size(), 32u);
  EXPECT_EQ(keyring.Find("k", 1), current);
}

TEST(KeyringTest, AddVersionMakesANewCurrentAndKeepsOldOnes) {
  Keyring keyring;
  ASSERT_OK(keyring.AddKey("k", kNow));
  crypto::SecretBytes first = keyring.Current("k")->material.Clone();
  absl::StatusOr<const KeyVersion*> second = keyring.AddVersion("k", kNow);
  ASSERT_OK(second);
  EXPECT_EQ((*second)->number, 2u);
  EXPECT_EQ(keyring.Current("k")->number, 2u);
  EXPECT_TRUE(keyring.Find("k", 1)->material.ConstantTimeEquals(first));
  EXPECT_FALSE(keyring.Find("k", 2)->material.ConstantTimeEquals(first));
  EXPECT_EQ(keyring.Find("k", 3), nullptr);
  EXPECT_EQ(keyring.Find("k", 0), nullptr);
}

TEST(KeyringTest, RejectsDuplicateAndBadNames) {
  Keyring keyring;
  ASSERT_OK(keyring.AddKey("k", kNow));
  EXPECT_THAT(keyring.AddKey("k", kNow), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(keyring.AddKey("", kNow), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(keyring.AddKey(std::string(256, 'x'), kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(keyring.AddVersion("missing", kNow), HasReason(ErrorReason::kKeyNotFound));
}

TEST(KeyringTest, SerializeParseRoundTripsEveryVersion) {
  Keyring keyring;
  ASSERT_OK(keyring.AddKey("a", kNow));
  ASSERT_OK(keyring.AddKey("b", kNow));
  ASSERT_OK(keyring.AddVersion("b", kNow + absl::Seconds(5)));
  absl::StatusOr<Keyring> parsed = Keyring::Parse(keyring.Serialize());
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->KeyNames(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parsed->Current("b")->number, 2u);
  EXPECT_EQ(parsed->Current("b")->created, kNow + absl::Seconds(5));
  for (uint32_t v : {1u, 2u}) {
    EXPECT_TRUE(parsed->Find("b", v)->material.ConstantTimeEquals(keyring.Find("b", v)->material));
  }
}

TEST(KeyringTest, ParseRejectsEveryTruncationAndTrailingBytes) {
  Keyring keyring;
  ASSERT_OK(keyring.AddKey("a", kNow));
  crypto::SecretBytes bytes = keyring.Serialize();
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_THAT(Keyring::Parse(crypto::SecretBytes::CopyFrom(bytes.Reveal().subspan(0, n))),
                StatusIs(absl::StatusCode::kFailedPrecondition))
        << "truncated to " << n;
  }
  std::string longer(bytes.RevealAsStringView());
  longer.push_back('\0');
  EXPECT_THAT(Keyring::Parse(crypto::SecretBytes::CopyFrom(longer)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// Found by keyring_file_fuzz (tests/fuzz/regressions/keyring_file/): Parse
// took keys in any order, so one keyring had many encodings.
TEST(KeyringTest, ParseRefusesKeysOutOfOrder) {
  Keyring keyring;
  ASSERT_OK(keyring.AddKey("a", kNow));
  ASSERT_OK(keyring.AddKey("b", kNow));
  std::string bytes(keyring.Serialize().RevealAsStringView());
  // Each key here is 1 + 1 (name) + 4 (count) + 44 (one version) bytes.
  const size_t key_size = 50;
  ASSERT_EQ(bytes.size(), 4 + 2 * key_size);
  std::string swapped =
      bytes.substr(0, 4) + bytes.substr(4 + key_size) + bytes.substr(4, key_size);
  EXPECT_THAT(Keyring::Parse(crypto::SecretBytes::CopyFrom(swapped)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("out of order")));
  EXPECT_OK(Keyring::Parse(crypto::SecretBytes::CopyFrom(bytes)));
}

TEST(KeyringTest, CloneIsDeepAndIndependent) {
  Keyring keyring;
  ASSERT_OK(keyring.AddKey("a", kNow));
  Keyring copy = keyring.Clone();
  ASSERT_OK(copy.AddVersion("a", kNow));
  EXPECT_EQ(keyring.Current("a")->number, 1u);
  EXPECT_EQ(copy.Current("a")->number, 2u);
  EXPECT_TRUE(copy.Find("a", 1)->material.ConstantTimeEquals(keyring.Find("a", 1)->material));
}

TEST(KeyringTest, AKeyringWithMoreKeysAndVersionsSupersedesItsOrigin) {
  Keyring older;
  ASSERT_OK(older.AddKey("a", kNow));
  Keyring newer = older.Clone();
  EXPECT_OK(newer.CheckSupersedes(older)) << "the same keyring";
  ASSERT_OK(newer.AddVersion("a", kNow));
  ASSERT_OK(newer.AddKey("b", kNow));
  EXPECT_OK(newer.CheckSupersedes(older));
  EXPECT_THAT(older.CheckSupersedes(newer),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("local key a has 1 versions")));
}

TEST(KeyringTest, AKeyringMissingAKeyOrWithOtherMaterialDoesNotSupersede) {
  Keyring only_a;
  ASSERT_OK(only_a.AddKey("a", kNow));
  Keyring with_b = only_a.Clone();
  ASSERT_OK(with_b.AddKey("b", kNow));
  EXPECT_THAT(only_a.CheckSupersedes(with_b),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("local key b is missing")));

  Keyring same_names;  // the same keys and versions, other material
  ASSERT_OK(same_names.AddKey("a", kNow));
  ASSERT_OK(same_names.AddKey("b", kNow));
  EXPECT_THAT(same_names.CheckSupersedes(with_b),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("local key a version 1 has other material")));
}

}  // namespace
}  // namespace keybroker::kms
