#include "kms_adapters/azure/entra/workload_identity_credential.h"

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_http_client.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/unit/kms_adapters/azure/entra_testing.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::EntraError;
using ::keybroker::testing::EntraToken;
using ::keybroker::testing::FakeClock;
using ::keybroker::testing::FakeHttpClient;
using ::keybroker::testing::FormFieldNames;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::ParseForm;
using ::keybroker::testing::StatusIs;
using ::keybroker::testing::WriteAll;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTenant[] = "11111111-2222-3333-4444-555555555555";
constexpr char kClientId[] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
constexpr char kScope[] = "https://vault.azure.net/.default";

class WorkloadIdentityCredentialTest : public ::testing::Test {
 protected:
  void SetUp() override { WriteAll(token_file_, "sa-token-one\n"); }

  WorkloadIdentityCredential::Options Options() {
    return {kClientId, kTenant, token_file_, "https://login.microsoftonline.com/"};
  }

  keybroker::testing::TempDir dir_;
  const std::string token_file_ = dir_.File("azure-identity-token");
  FakeClock clock_;
  HttpResponse answer_ = EntraToken("wi-token", 3599);
  FakeHttpClient http_{[this](const HttpRequest&) { return answer_; }};
};

TEST_F(WorkloadIdentityCredentialTest, SendsTheTokenFileAsTheAssertion) {
  absl::StatusOr<std::unique_ptr<WorkloadIdentityCredential>> credential =
      WorkloadIdentityCredential::Create(Options(), &http_, &clock_);
  ASSERT_OK(credential);
  absl::StatusOr<AccessToken> token = (*credential)->Fetch(kScope, absl::InfiniteFuture());
  ASSERT_OK(token);
  EXPECT_EQ(token->token.RevealAsStringView(), "wi-token");

  const HttpRequest request = http_.requests().at(0);
  // AZURE_AUTHORITY_HOST ends with '/': no "//" in the URL (§9.3).
  EXPECT_EQ(request.url,
            absl::StrCat("https://login.microsoftonline.com/", kTenant, "/oauth2/v2.0/token"));
  EXPECT_EQ(request.body,
            "grant_type=client_credentials&client_id=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
            "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3A"
            "jwt-bearer&client_assertion=sa-token-one"
            "&scope=https%3A%2F%2Fvault.azure.net%2F.default");
}

TEST_F(WorkloadIdentityCredentialTest, RereadsTheTokenFileOnEveryFetch) {
  absl::StatusOr<std::unique_ptr<WorkloadIdentityCredential>> credential =
      WorkloadIdentityCredential::Create(Options(), &http_, &clock_);
  ASSERT_OK(credential);
  ASSERT_OK((*credential)->Fetch(kScope, absl::InfiniteFuture()));
  WriteAll(token_file_, "sa-token-two");  // the kubelet rotated it
  ASSERT_OK((*credential)->Fetch(kScope, absl::InfiniteFuture()));
  ASSERT_OK((*credential)->Fetch(kScope, absl::InfiniteFuture()));
  std::vector<HttpRequest> requests = http_.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(ParseForm(requests[0].body)["client_assertion"], "sa-token-one");
  EXPECT_EQ(ParseForm(requests[1].body)["client_assertion"], "sa-token-two");
  EXPECT_EQ(ParseForm(requests[2].body)["client_assertion"], "sa-token-two");
}

TEST_F(WorkloadIdentityCredentialTest, AVanishedTokenFileIsAServiceFault) {
  absl::StatusOr<std::unique_ptr<WorkloadIdentityCredential>> credential =
      WorkloadIdentityCredential::Create(Options(), &http_, &clock_);
  ASSERT_OK(credential);
  std::remove(token_file_.c_str());
  absl::StatusOr<AccessToken> token = (*credential)->Fetch(kScope, absl::InfiniteFuture());
  EXPECT_THAT(token, HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_THAT(std::string(token.status().message()), HasSubstr(token_file_));
  WriteAll(token_file_, " \n");
  EXPECT_THAT((*credential)->Fetch(kScope, absl::InfiniteFuture()),
              HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_TRUE(http_.requests().empty());
}

TEST_F(WorkloadIdentityCredentialTest, FederationMismatchIsAServiceFaultWithoutTheToken) {
  absl::StatusOr<std::unique_ptr<WorkloadIdentityCredential>> credential =
      WorkloadIdentityCredential::Create(Options(), &http_, &clock_);
  ASSERT_OK(credential);
  answer_ = EntraError(400, "invalid_request", 70021,
                       "No matching federated identity record found for presented assertion.");
  absl::StatusOr<AccessToken> token = (*credential)->Fetch(kScope, absl::InfiniteFuture());
  EXPECT_THAT(token, HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_THAT(std::string(token.status().message()),
              AllOf(HasSubstr("AADSTS70021"), Not(HasSubstr("sa-token"))));
}

TEST_F(WorkloadIdentityCredentialTest, FillFromEnvironmentKeepsConfiguredFields) {
  std::map<std::string, std::string> env = {
      {"AZURE_CLIENT_ID", "env-client"},
      {"AZURE_TENANT_ID", "env-tenant"},
      {"AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token"},
      {"AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"},
  };
  auto getenv = [&env](const char* name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  WorkloadIdentityCredential::Options options;
  options.tenant_id = "configured-tenant";
  WorkloadIdentityCredential::FillFromEnvironment(options, getenv);
  EXPECT_EQ(options.client_id, "env-client");
  EXPECT_EQ(options.tenant_id, "configured-tenant");
  EXPECT_EQ(options.token_file, "/var/run/secrets/azure/tokens/azure-identity-token");
  EXPECT_EQ(options.authority_host, "https://login.microsoftonline.com/");

  env.clear();
  WorkloadIdentityCredential::Options empty;
  WorkloadIdentityCredential::FillFromEnvironment(empty, getenv);
  EXPECT_EQ(empty.client_id, "");
  EXPECT_EQ(empty.authority_host, "");
}

TEST_F(WorkloadIdentityCredentialTest, FillFromEnvironmentReadsTheProcessEnvironment) {
  ::setenv("AZURE_CLIENT_ID", "from-process-env", 1);
  ::unsetenv("AZURE_TENANT_ID");
  WorkloadIdentityCredential::Options options;
  WorkloadIdentityCredential::FillFromEnvironment(options);
  ::unsetenv("AZURE_CLIENT_ID");
  EXPECT_EQ(options.client_id, "from-process-env");
  EXPECT_EQ(options.tenant_id, "");
}

TEST_F(WorkloadIdentityCredentialTest, CreateNamesWhatIsMissing) {
  auto create_without = [this](std::string WorkloadIdentityCredential::Options::*field) {
    WorkloadIdentityCredential::Options options = Options();
    options.*field = "";
    return WorkloadIdentityCredential::Create(options, &http_, &clock_).status();
  };
  EXPECT_THAT(create_without(&WorkloadIdentityCredential::Options::client_id),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("AZURE_CLIENT_ID")));
  EXPECT_THAT(create_without(&WorkloadIdentityCredential::Options::tenant_id),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("AZURE_TENANT_ID")));
  EXPECT_THAT(
      create_without(&WorkloadIdentityCredential::Options::token_file),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("AZURE_FEDERATED_TOKEN_FILE")));
  EXPECT_THAT(create_without(&WorkloadIdentityCredential::Options::authority_host),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("AZURE_AUTHORITY_HOST")));

  WorkloadIdentityCredential::Options missing_file = Options();
  missing_file.token_file = dir_.File("nope");
  EXPECT_THAT(WorkloadIdentityCredential::Create(missing_file, &http_, &clock_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(dir_.File("nope"))));
}

}  // namespace
}  // namespace keybroker::kms::azure
