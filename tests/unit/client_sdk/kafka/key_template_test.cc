#include "keybroker/sdk/kafka/key_template.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::sdk::kafka {
namespace {

using ::keybroker::testing::StatusIs;

TEST(KeyTemplateTest, ReplacesEveryTopicPlaceholder) {
  auto parsed = KeyTemplate::Parse("kek-${topic}");
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->Expand("orders"), "kek-orders");
  EXPECT_TRUE(parsed->UsesTopic());
  auto twice = KeyTemplate::Parse("${topic}/${topic}-x");
  ASSERT_OK(twice);
  EXPECT_EQ(twice->Expand("a.b"), "a.b/a.b-x");
}

TEST(KeyTemplateTest, WithoutPlaceholderNamesOneAlias) {
  auto parsed = KeyTemplate::Parse("default");
  ASSERT_OK(parsed);
  EXPECT_FALSE(parsed->UsesTopic());
  EXPECT_EQ(parsed->Expand("orders"), "default");
}

TEST(KeyTemplateTest, DoubleDollarIsALiteralDollar) {
  auto parsed = KeyTemplate::Parse("a$$${topic}$$");
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->Expand("t"), "a$t$");
}

TEST(KeyTemplateTest, RejectsUnknownPlaceholdersAndEmptyTemplates) {
  for (const char* bad : {"", "kek-${tpoic}", "kek-$topic", "kek-${topic", "kek-$"}) {
    EXPECT_THAT(KeyTemplate::Parse(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

}  // namespace
}  // namespace keybroker::sdk::kafka
