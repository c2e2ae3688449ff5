// The life of a customer key's versions against the Key Vault emulator:
// DescribeKey lists the versions the vault holds (GET .../versions) with
// their last use here; once the customer disables an old version in the
// vault, EDEKs under it answer KEY_DISABLED while the current version keeps
// working; and the last-used gauge is labelled with the alias and Key
// Vault's version id, never the key's URI.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/azure_broker_config.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/integration/http_get.h"
#include "tests/integration/key_calls.h"
#include "tests/integration/keyvault_emulator_process.h"
#include "tests/integration/prometheus_text.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

constexpr int kTtlSeconds = 1;  // unwrap cache: how long a disabled version may still be served

class AzureKeyVersionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto emulator = StartEmulatorWithSecretPrincipal(dir_.path(), "s3cret");
    ASSERT_OK(emulator);
    emulator_ = *std::move(emulator);
    ASSERT_OK(emulator_->Control(
        "create-key", {{"host", "kv1"}, {"name", "cmk"}, {"kty", "RSA"}, {"size", 2048}}));
    AzureBrokerConfigOptions options;
    options.kv_ca_file = emulator_->ca_file();
    options.cache_ttl_seconds = kTtlSeconds;
    options.secrets_dir = dir_.path();
    options.more_settings = "metrics_listen: 127.0.0.1:0\n";
    options.keys = AzureKeyConfig(*emulator_, "cmk", "kv1", "cmk", "app", false);
    WriteAll(dir_.File("keybroker.yaml"), AzureBrokerConfig(*emulator_, options));
    auto broker = BrokerProcess::Start({"--config", dir_.File("keybroker.yaml")});
    ASSERT_OK(broker);
    broker_ = *std::move(broker);
    stub_ = NewStub(broker_->address());
    calls_ = std::make_unique<KeyCalls>(stub_.get(), "cmk");
  }

  const v1::KeyVersionInfo* Find(const v1::DescribeKeyResponse& described,
                                 const std::string& version) {
    for (const v1::KeyVersionInfo& info : described.versions()) {
      if (info.key_version() == version) return &info;
    }
    ADD_FAILURE() << "no version " << version << " in " << described.DebugString();
    return nullptr;
  }

  TempDir dir_;
  std::unique_ptr<KeyVaultEmulator> emulator_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<v1::KeyBroker::Stub> stub_;
  std::unique_ptr<KeyCalls> calls_;
};

TEST_F(AzureKeyVersionsTest, ADisabledOldVersionAnswersKeyDisabledAndDescribeKeyListsIt) {
  MadeDek old_dek = calls_->GenerateDek();
  const std::string rotated = calls_->Rotate();
  MadeDek new_dek = calls_->GenerateDek();
  ASSERT_NE(old_dek.version, new_dek.version);
  ASSERT_EQ(new_dek.version, rotated);
  ASSERT_TRUE(calls_->Unwrap(old_dek).ok());
  ASSERT_TRUE(calls_->Unwrap(new_dek).ok());

  // Both versions, as the vault lists them, with their use here.
  v1::DescribeKeyResponse described = calls_->Describe();
  EXPECT_THAT(described.versions(), SizeIs(2));
  for (const std::string& version : {old_dek.version, new_dek.version}) {
    const v1::KeyVersionInfo* info = Find(described, version);
    ASSERT_NE(info, nullptr);
    EXPECT_TRUE(info->listed());
    EXPECT_TRUE(info->enabled());
    EXPECT_TRUE(info->has_created());
    EXPECT_TRUE(info->has_last_used());
  }
  EXPECT_GE(emulator_->Count("kv1", "list_versions"), 1);

  // The customer disables the old version in the vault.
  ASSERT_OK(emulator_->Control(
      "set-attributes",
      {{"host", "kv1"}, {"name", "cmk"}, {"version", old_dek.version}, {"enabled", false}}));
  absl::SleepFor(absl::Seconds(kTtlSeconds) + absl::Milliseconds(300));  // the cached unwrap
  grpc::Status refused = calls_->Unwrap(old_dek);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  EXPECT_EQ(GrpcReasonOf(refused), "KEY_DISABLED");
  grpc::Status rewrap = calls_->Rewrap(old_dek);
  EXPECT_EQ(GrpcReasonOf(rewrap), "KEY_DISABLED");
  EXPECT_TRUE(calls_->Unwrap(new_dek).ok()) << "the current version is untouched";
  EXPECT_EQ(calls_->GenerateDek().version, new_dek.version);

  described = calls_->Describe();
  const v1::KeyVersionInfo* old_info = Find(described, old_dek.version);
  ASSERT_NE(old_info, nullptr);
  EXPECT_FALSE(old_info->enabled());
  const v1::KeyVersionInfo* new_info = Find(described, new_dek.version);
  ASSERT_NE(new_info, nullptr);
  EXPECT_TRUE(new_info->enabled());

  // The gauge: the alias and Key Vault's version ids, nothing else.
  ASSERT_TRUE(broker_->WaitForLogLine("metrics_listening", absl::Seconds(5)));
  absl::StatusOr<HttpGetResponse> metrics = HttpGet(broker_->MetricsAddress(), "/metrics");
  ASSERT_OK(metrics);
  absl::StatusOr<PrometheusScrape> scrape = PrometheusScrape::Parse(metrics->body);
  ASSERT_OK(scrape);
  std::vector<PrometheusSample> samples =
      scrape->Select("keybroker_key_version_last_used_timestamp_seconds");
  ASSERT_THAT(samples, SizeIs(2));
  for (const PrometheusSample& sample : samples) {
    EXPECT_EQ(sample.labels, (PrometheusLabels{{"alias", "cmk"},
                                               {"key_version", sample.labels.at("key_version")}}));
    EXPECT_THAT(sample.labels.at("key_version"), Not(HasSubstr("/")));
    EXPECT_EQ(sample.labels.at("key_version").size(), 32u);
  }
}

TEST_F(AzureKeyVersionsTest, WithoutTheRightToListTheVersionsInUseAreStillReported) {
  MadeDek made = calls_->GenerateDek();
  ASSERT_OK(emulator_->Control(
      "revoke",
      {{"client_id", kAzureClientId}, {"host", "kv1"}, {"operations", {"list_versions"}}}));
  v1::DescribeKeyResponse described = calls_->Describe();
  EXPECT_TRUE(described.accessible()) << "keys/list is not wrap and unwrap";
  ASSERT_THAT(described.versions(), SizeIs(1));
  EXPECT_EQ(described.versions(0).key_version(), made.version);
  EXPECT_FALSE(described.versions(0).listed());
  EXPECT_TRUE(described.versions(0).has_last_used());
}

}  // namespace
}  // namespace keybroker::testing
