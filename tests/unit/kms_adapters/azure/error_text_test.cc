#include "kms_adapters/azure/error_text.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keybroker::kms::azure {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ErrorTextTest, ServiceIdentifierKeepsOnlyIdentifierShapedText) {
  EXPECT_EQ(ServiceIdentifier("ForbiddenByRbac"), "ForbiddenByRbac");
  EXPECT_EQ(ServiceIdentifier("invalid_client"), "invalid_client");
  EXPECT_EQ(ServiceIdentifier("0b1c4f3e-9a5d-4e4f-8a1b-2c3d4e5f6a7b"),
            "0b1c4f3e-9a5d-4e4f-8a1b-2c3d4e5f6a7b");
  EXPECT_EQ(ServiceIdentifier(""), "");
  EXPECT_EQ(ServiceIdentifier("Key not found"), "") << "prose is not a code";
  EXPECT_EQ(ServiceIdentifier("code\r\nInjected: header"), "");
  EXPECT_EQ(ServiceIdentifier("<script>"), "");
  EXPECT_EQ(ServiceIdentifier(std::string(65, 'A')), "");
  EXPECT_EQ(ServiceIdentifier(std::string(100, 'a'), 128), std::string(100, 'a'));
}

TEST(ErrorTextTest, DiagnosticTextIsCappedPrintableUtf8) {
  std::string long_text(10000, 'x');
  EXPECT_EQ(DiagnosticText(long_text).size(), kMaxDiagnosticText);
  EXPECT_EQ(DiagnosticText(long_text, 10), std::string(10, 'x'));

  std::string lines = DiagnosticText("Caller is not authorized.\r\nAction: unwrap\tnow\x7f");
  EXPECT_EQ(lines, "Caller is not authorized.  Action: unwrap now ");

  // A cut through a multi-byte character leaves no broken sequence behind.
  std::string cut = DiagnosticText(absl::StrCat(std::string(1023, 'a'), "\xc3\xa9"));
  EXPECT_EQ(cut.size(), kMaxDiagnosticText);
  EXPECT_TRUE(IsValidUtf8(cut));
  EXPECT_TRUE(IsValidUtf8(DiagnosticText("bad \xff\xfe bytes")));
}

TEST(ErrorTextTest, DiagnosticTextRedactsCredentials) {
  const std::string jwt =
      "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL3ZhdWx0In0.c2lnbmF0dXJl";
  const std::string cases[] = {
      absl::StrCat("proxy saw Authorization: Bearer ", jwt, " and gave up"),
      absl::StrCat("echo: authorization: bearer opaque-token-12345"),
      absl::StrCat("form: grant_type=client_credentials&client_secret=Xy8Q~a%2Bb%2Fc&scope=x"),
      absl::StrCat("form: client_assertion=", jwt, "&scope=x"),
      absl::StrCat(R"({"access_token":"opaque-token-12345","token_type":"Bearer"})"),
      absl::StrCat("a token on its own: ", jwt),
  };
  for (const std::string& text : cases) {
    std::string safe = DiagnosticText(text);
    EXPECT_THAT(safe, HasSubstr("[redacted]")) << text;
    EXPECT_THAT(safe, Not(HasSubstr("eyJ0eXAi"))) << safe;
    EXPECT_THAT(safe, Not(HasSubstr("opaque-token"))) << safe;
    EXPECT_THAT(safe, Not(HasSubstr("Xy8Q"))) << safe;
  }
  // Words after "Bearer" in Key Vault's own messages are not credentials.
  EXPECT_EQ(DiagnosticText("AKV10000: Request is missing a Bearer or PoP token."),
            "AKV10000: Request is missing a Bearer or PoP token.");
}

}  // namespace
}  // namespace keybroker::kms::azure
