#include "kms_adapters/azure/url.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::IsOk;
using ::keybroker::testing::StatusIs;
using ::testing::Not;

TEST(ParseUrlTest, SplitsAKeyVaultUrl) {
  absl::StatusOr<Url> url =
      ParseUrl("https://Vault-A.vault.azure.net/keys/k/0123?api-version=7.4#frag");

  ASSERT_THAT(url, IsOk());
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "vault-a.vault.azure.net");
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->path_and_query, "/keys/k/0123?api-version=7.4");
}

TEST(ParseUrlTest, KeepsAnExplicitPortAndDefaultsThePath) {
  absl::StatusOr<Url> url = ParseUrl("HTTP://169.254.169.254:8080");

  ASSERT_THAT(url, IsOk());
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->path_and_query, "/");
  EXPECT_EQ(ParseUrl("https://h?x=1")->path_and_query, "/?x=1");
  EXPECT_EQ(ParseUrl("https://h:/p")->port, 443);
}

TEST(ParseUrlTest, AcceptsIpv6Literals) {
  absl::StatusOr<Url> url = ParseUrl("https://[::1]:8443/x");

  ASSERT_THAT(url, IsOk());
  EXPECT_EQ(url->host, "[::1]");
  EXPECT_EQ(url->port, 8443);
}

TEST(ParseUrlTest, RefusesWhatTheAdaptersNeverUse) {
  for (const char* bad :
       {"vault.azure.net/keys", "ftp://h/x", "https:///x", "https://u:p@h/x", "https://h:0/",
        "https://h:65536/", "https://h:4a3/", "https://[::1/", "https://h h/", "https://h%41/"}) {
    EXPECT_THAT(ParseUrl(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(ParseUrlTest, ErrorsDoNotEchoTheUrl) {
  absl::StatusOr<Url> url = ParseUrl("https://user:secret@h/");

  EXPECT_THAT(url,
              StatusIs(absl::StatusCode::kInvalidArgument, Not(::testing::HasSubstr("secret"))));
}

TEST(OriginOfTest, NormalizesCaseAndDefaultPort) {
  EXPECT_EQ(*OriginOf("https://V.vault.azure.net/keys/a"), "https://v.vault.azure.net:443");
  EXPECT_EQ(*OriginOf("https://v.vault.azure.net:443/keys/b?x"), "https://v.vault.azure.net:443");
  EXPECT_EQ(*OriginOf("http://127.0.0.1:8080/x"), "http://127.0.0.1:8080");
  EXPECT_NE(*OriginOf("https://a.vault.azure.net/"), *OriginOf("https://b.vault.azure.net/"));
  EXPECT_NE(*OriginOf("https://a:1/"), *OriginOf("https://a:2/"));
  EXPECT_THAT(OriginOf("nonsense"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(UrlEncodeTest, KeepsUnreservedAndEncodesEverythingElse) {
  EXPECT_EQ(UrlEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(UrlEncode("https://vault.azure.net/.default"),
            "https%3A%2F%2Fvault.azure.net%2F.default");
  EXPECT_EQ(UrlEncode("a b+c&d=e"), "a%20b%2Bc%26d%3De");
  EXPECT_EQ(UrlEncode("\xC3\xA9"), "%C3%A9");
  EXPECT_EQ(UrlEncode(std::string("\0\xFF", 2)), "%00%FF");
  EXPECT_EQ(UrlEncode(""), "");
}

}  // namespace
}  // namespace keybroker::kms::azure
