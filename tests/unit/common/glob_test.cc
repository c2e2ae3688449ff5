#include "common/glob.h"

#include <string>

#include "gtest/gtest.h"

namespace keybroker {
namespace {

TEST(GlobMatchTest, LiteralsMatchOnlyThemselves) {
  EXPECT_TRUE(GlobMatch("kek-a", "kek-a"));
  EXPECT_FALSE(GlobMatch("kek-a", "kek-b"));
  EXPECT_FALSE(GlobMatch("kek-a", "kek-ab"));
  EXPECT_FALSE(GlobMatch("kek-ab", "kek-a"));
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_FALSE(GlobMatch("", "a"));
}

TEST(GlobMatchTest, StarMatchesAnyRunIncludingSlashesAndNothing) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*", "anything/at/all"));
  EXPECT_TRUE(GlobMatch("kek-*", "kek-"));
  EXPECT_TRUE(GlobMatch("kek-*", "kek-tenant-a"));
  EXPECT_FALSE(GlobMatch("kek-*", "kek"));
  EXPECT_TRUE(GlobMatch("spiffe://cluster.local/ns/kafka/sa/*",
                        "spiffe://cluster.local/ns/kafka/sa/proxy"));
  EXPECT_FALSE(GlobMatch("spiffe://cluster.local/ns/kafka/sa/*",
                         "spiffe://cluster.local/ns/kafka2/sa/proxy"));
  // A star crosses path separators: ns/*/sa/x matches any namespace.
  EXPECT_TRUE(GlobMatch("spiffe://c/ns/*/sa/x", "spiffe://c/ns/a/b/sa/x"));
}

TEST(GlobMatchTest, StarsInTheMiddleBacktrack) {
  EXPECT_TRUE(GlobMatch("*.vault.azure.net", "a.b.vault.azure.net"));
  EXPECT_FALSE(GlobMatch("*.vault.azure.net", "vault.azure.net"));
  EXPECT_FALSE(GlobMatch("*.vault.azure.net", "evil.vault.azure.net.attacker.example"));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "aXbYbZ"));
  EXPECT_TRUE(GlobMatch("**", "x"));
}

TEST(GlobMatchTest, QuestionMarkMatchesExactlyOneCharacter) {
  EXPECT_TRUE(GlobMatch("tenant-?", "tenant-a"));
  EXPECT_FALSE(GlobMatch("tenant-?", "tenant-"));
  EXPECT_FALSE(GlobMatch("tenant-?", "tenant-ab"));
}

TEST(GlobMatchTest, HostileInputStaysCheap) {
  // Classic exponential case for naive backtracking matchers.
  std::string text(10000, 'a');
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*b", text));
  EXPECT_TRUE(GlobMatch("*a*a*a*a*a*a*a*a*", text));
}

}  // namespace
}  // namespace keybroker
