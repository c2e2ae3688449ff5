#include "crypto/secret_bytes.h"

#include <cstdint>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/types/span.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace keybroker::crypto {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;

// The type's invariants that the compiler can check.
static_assert(!std::is_copy_constructible_v<SecretBytes>);
static_assert(!std::is_copy_assignable_v<SecretBytes>);
static_assert(std::is_nothrow_move_constructible_v<SecretBytes>);
static_assert(std::is_nothrow_move_assignable_v<SecretBytes>);

template <typename T, typename = void>
struct IsStreamable : std::false_type {};
template <typename T>
struct IsStreamable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<T>())>>
    : std::true_type {};
static_assert(!IsStreamable<const SecretBytes&>::value, "a secret must not be loggable");
static_assert(!std::is_constructible_v<nlohmann::json, const SecretBytes&>,
              "a secret must not convert to JSON");

TEST(SecretBytesTest, DefaultIsEmpty) {
  SecretBytes secret;
  EXPECT_TRUE(secret.empty());
  EXPECT_EQ(secret.size(), 0u);
  EXPECT_TRUE(secret.Reveal().empty());
}

TEST(SecretBytesTest, SizedConstructorMakesZeros) {
  SecretBytes secret(32);
  EXPECT_EQ(secret.size(), 32u);
  EXPECT_FALSE(secret.empty());
  EXPECT_THAT(secret.Reveal(), Each(0));
}

TEST(SecretBytesTest, CopyFromCopiesSpansAndStrings) {
  const uint8_t raw[] = {1, 2, 0, 255};
  SecretBytes from_span = SecretBytes::CopyFrom(absl::MakeConstSpan(raw));
  EXPECT_THAT(from_span.Reveal(), ElementsAre(1, 2, 0, 255));

  std::string text("k\0y", 3);
  SecretBytes from_string = SecretBytes::CopyFrom(text);
  EXPECT_EQ(from_string.RevealAsStringView(), text);
  text[0] = 'X';  // the secret owns its copy
  EXPECT_EQ(from_string.RevealAsStringView(), std::string("k\0y", 3));
}

TEST(SecretBytesTest, RevealMutableWritesThrough) {
  SecretBytes secret(3);
  secret.RevealMutable()[1] = 0x42;
  EXPECT_THAT(secret.Reveal(), ElementsAre(0, 0x42, 0));
}

TEST(SecretBytesTest, MoveConstructionLeavesSourceEmpty) {
  SecretBytes source = SecretBytes::CopyFrom("master key");
  SecretBytes target(std::move(source));
  EXPECT_EQ(target.RevealAsStringView(), "master key");
  // NOLINTNEXTLINE(bugprone-use-after-move): the moved-from state is specified.
  EXPECT_TRUE(source.empty());
  EXPECT_EQ(source.Reveal().data(), nullptr);
}

TEST(SecretBytesTest, MoveAssignmentReplacesTargetAndLeavesSourceEmpty) {
  SecretBytes source = SecretBytes::CopyFrom("new");
  SecretBytes target = SecretBytes::CopyFrom("old and longer");
  target = std::move(source);
  EXPECT_EQ(target.RevealAsStringView(), "new");
  // NOLINTNEXTLINE(bugprone-use-after-move)
  EXPECT_TRUE(source.empty());
  EXPECT_EQ(source.Reveal().data(), nullptr);
}

TEST(SecretBytesTest, CloneIsEqualButIndependent) {
  SecretBytes original = SecretBytes::CopyFrom("0123456789abcdef");
  SecretBytes clone = original.Clone();
  EXPECT_TRUE(clone.ConstantTimeEquals(original));
  EXPECT_NE(clone.Reveal().data(), original.Reveal().data());
  clone.RevealMutable()[0] = 'X';
  EXPECT_EQ(original.RevealAsStringView(), "0123456789abcdef");
  EXPECT_FALSE(clone.ConstantTimeEquals(original));
}

TEST(SecretBytesTest, CloneOfEmptyIsEmpty) { EXPECT_TRUE(SecretBytes().Clone().empty()); }

TEST(SecretBytesTest, ConstantTimeEqualsComparesContentAndSize) {
  SecretBytes a = SecretBytes::CopyFrom("abcdef");
  EXPECT_TRUE(a.ConstantTimeEquals(SecretBytes::CopyFrom("abcdef")));
  EXPECT_FALSE(a.ConstantTimeEquals(SecretBytes::CopyFrom("abcdeg")));  // last byte
  EXPECT_FALSE(a.ConstantTimeEquals(SecretBytes::CopyFrom("bbcdef")));  // first byte
  EXPECT_FALSE(a.ConstantTimeEquals(SecretBytes::CopyFrom("abcde")));   // a prefix
  EXPECT_FALSE(a.ConstantTimeEquals(SecretBytes::CopyFrom("abcdef0")));
  EXPECT_FALSE(a.ConstantTimeEquals(SecretBytes()));
  EXPECT_TRUE(SecretBytes().ConstantTimeEquals(SecretBytes()));
  EXPECT_TRUE(SecretBytes().ConstantTimeEquals(SecretBytes::CopyFrom("")));
}

TEST(SecretBytesTest, ClearEmptiesAndAllowsReuse) {
  SecretBytes secret = SecretBytes::CopyFrom("key material");
  secret.Clear();
  EXPECT_TRUE(secret.empty());
  EXPECT_EQ(secret.size(), 0u);
  EXPECT_EQ(secret.Reveal().data(), nullptr);
  secret.Clear();  // twice is fine
  secret = SecretBytes::CopyFrom("again");
  EXPECT_EQ(secret.RevealAsStringView(), "again");
}

}  // namespace
}  // namespace keybroker::crypto
