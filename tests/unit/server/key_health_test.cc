#include "server/key_health.h"

#include <memory>
#include <string>
#include <vector>

#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kms_adapters/azure/azure_kms.h"
#include "nlohmann/json.hpp"
#include "tests/testing/log_capture.h"

namespace keybroker::server {
namespace {

using ::testing::HasSubstr;

constexpr char kKeyUrl[] = "https://vault-a.vault.azure.net/keys/cmk";
constexpr char kVersion[] = "0123456789abcdef0123456789abcdef";

class KeyHealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // An AzureKms makes no request until called: enough to bind customer keys.
    auto azure = std::make_unique<kms::azure::AzureKms>(&client_, absl::Seconds(30));
    kms::azure::AzureKeyOptions options;
    options.key_url = kKeyUrl;
    ASSERT_TRUE(azure->AddKey(options).ok());
    ASSERT_TRUE(registry_.AddKms(std::move(azure)).ok());
    ASSERT_TRUE(registry_.Bind("tenant-a", crypto::EdekKms::kAzure, kKeyUrl).ok());
    health_.Track(registry_);
  }

  std::vector<nlohmann::json> Events(const std::string& event) const { return log_.Events(event); }

  kms::azure::KeyVaultClient client_{nullptr};
  KeyRegistry registry_;
  BrokerMetrics metrics_{"dev"};
  KeyHealth health_{&metrics_};
  testing::LogCapture log_;
};

absl::Status Revoked() {
  absl::Status status = MakeError(ErrorReason::kKeyNotAccessible,
                                  "unwrapkey on key vault-a/cmk failed: HTTP 403 Forbidden");
  SetKmsRequestId(status, "req-42");
  return status;
}

TEST_F(KeyHealthTest, LogsOnceWhenAKeyBecomesInaccessibleAndOnceWhenItRecovers) {
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false, absl::OkStatus());
  EXPECT_TRUE(Events("customer_key_recovered").empty());  // never was inaccessible

  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false, Revoked());
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false, Revoked());
  std::vector<nlohmann::json> down = Events("customer_key_inaccessible");
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0]["level"], "warn");
  EXPECT_EQ(down[0]["alias"], "tenant-a");
  EXPECT_EQ(down[0]["key_id"], kKeyUrl);
  EXPECT_EQ(down[0]["version"], kVersion);
  EXPECT_EQ(down[0]["reason"], "KEY_NOT_ACCESSIBLE");
  EXPECT_EQ(down[0]["kms_request_id"], "req-42");
  EXPECT_EQ(down[0]["cause"], "customer");
  EXPECT_EQ(health_.InaccessibleReason("tenant-a"), ErrorReason::kKeyNotAccessible);
  EXPECT_THAT(metrics_.Scrape(),
              HasSubstr("keybroker_keys_inaccessible{reason=\"KEY_NOT_ACCESSIBLE\"} 1"));
  EXPECT_THAT(metrics_.Scrape(), HasSubstr("keybroker_key_accessible{alias=\"tenant-a\"} 0"));

  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false, absl::OkStatus());
  std::vector<nlohmann::json> up = Events("customer_key_recovered");
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0]["previous_reason"], "KEY_NOT_ACCESSIBLE");
  EXPECT_EQ(health_.InaccessibleReason("tenant-a"), std::nullopt);
  EXPECT_THAT(metrics_.Scrape(),
              HasSubstr("keybroker_keys_inaccessible{reason=\"KEY_NOT_ACCESSIBLE\"} 0"));
  EXPECT_THAT(metrics_.Scrape(), HasSubstr("keybroker_key_accessible{alias=\"tenant-a\"} 1"));
}

TEST_F(KeyHealthTest, ANewReasonIsANewEvent) {
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false, Revoked());
  health_.KeyRequestDone(kKeyUrl, "", /*current=*/true,
                         MakeError(ErrorReason::kKeyDisabled, "disabled"));
  std::vector<nlohmann::json> down = Events("customer_key_inaccessible");
  ASSERT_EQ(down.size(), 2u);
  EXPECT_EQ(down[1]["reason"], "KEY_DISABLED");
  EXPECT_THAT(metrics_.Scrape(),
              HasSubstr("keybroker_keys_inaccessible{reason=\"KEY_NOT_ACCESSIBLE\"} 0"));
  EXPECT_THAT(metrics_.Scrape(), HasSubstr("keybroker_keys_inaccessible{reason=\"KEY_DISABLED\"} 1"));
}

TEST_F(KeyHealthTest, ServiceFaultsSayNothingAboutTheKey) {
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false, Revoked());
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false,
                         MakeError(ErrorReason::kKmsUnavailable, "503"));
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false,
                         MakeError(ErrorReason::kKmsThrottled, "429"));
  EXPECT_EQ(health_.InaccessibleReason("tenant-a"), ErrorReason::kKeyNotAccessible);
  EXPECT_TRUE(Events("customer_key_recovered").empty());
  EXPECT_EQ(Events("customer_key_inaccessible").size(), 1u);
}

TEST_F(KeyHealthTest, AnUnknownVersionSaysNothingButADeletedKeyDoes) {
  // A crafted EDEK naming a made-up version: the vault's 404 for that version.
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false,
                         MakeError(ErrorReason::kKeyNotFound, "404"));
  EXPECT_EQ(health_.InaccessibleReason("tenant-a"), std::nullopt);
  EXPECT_TRUE(Events("customer_key_inaccessible").empty());
  // The key itself gone: its current version (no version named) is a 404.
  health_.KeyRequestDone(kKeyUrl, "", /*current=*/true,
                         MakeError(ErrorReason::kKeyNotFound, "404"));
  EXPECT_EQ(health_.InaccessibleReason("tenant-a"), ErrorReason::kKeyNotFound);
}

TEST_F(KeyHealthTest, ADisabledOldVersionSaysNothingButADisabledCurrentOneDoes) {
  // The customer retires an old version: reads of EDEKs under it are refused.
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false,
                         MakeError(ErrorReason::kKeyDisabled, "403"));
  EXPECT_EQ(health_.InaccessibleReason("tenant-a"), std::nullopt);
  health_.KeyRequestDone(kKeyUrl, "", /*current=*/true,
                         MakeError(ErrorReason::kKeyDisabled, "disabled"));
  EXPECT_EQ(health_.InaccessibleReason("tenant-a"), ErrorReason::kKeyDisabled);
  // An older version still unwraps: that does not make the key accessible
  // again (no flapping between the probe's answer and every read) ...
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false, absl::OkStatus());
  EXPECT_EQ(health_.InaccessibleReason("tenant-a"), ErrorReason::kKeyDisabled);
  EXPECT_TRUE(Events("customer_key_recovered").empty());
  // ... the current version enabled again does.
  health_.KeyRequestDone(kKeyUrl, "", /*current=*/true, absl::OkStatus());
  EXPECT_EQ(health_.InaccessibleReason("tenant-a"), std::nullopt);
  EXPECT_EQ(Events("customer_key_recovered").size(), 1u);
}

// A key pinned to a version (its URL names one): requests name that version,
// and it is the key's current one. Disabling or deleting it marks the key,
// and the line says which version.
TEST_F(KeyHealthTest, APinnedKeysOwnVersionIsItsCurrentOne) {
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/true,
                         MakeError(ErrorReason::kKeyDisabled, "403 KeyDisabled"));
  EXPECT_EQ(health_.InaccessibleReason("tenant-a"), ErrorReason::kKeyDisabled);
  std::vector<nlohmann::json> down = Events("customer_key_inaccessible");
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0]["version"], kVersion);
  EXPECT_EQ(down[0]["reason"], "KEY_DISABLED");
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/true, absl::OkStatus());
  EXPECT_EQ(health_.InaccessibleReason("tenant-a"), std::nullopt);
  EXPECT_EQ(Events("customer_key_recovered").size(), 1u);
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/true,
                         MakeError(ErrorReason::kKeyNotFound, "404"));
  EXPECT_EQ(health_.InaccessibleReason("tenant-a"), ErrorReason::kKeyNotFound);
}

TEST_F(KeyHealthTest, ListenersHearEachChangeInOrderAfterASnapshot) {
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false, Revoked());
  std::vector<std::optional<ErrorReason>> heard;
  KeyHealth::Subscription subscription =
      health_.Listen([&heard](const KeyState& key) { heard.push_back(key.inaccessible); });
  ASSERT_EQ(subscription.keys.size(), 1u);
  EXPECT_EQ(subscription.keys[0].key_id, kKeyUrl);
  EXPECT_EQ(subscription.keys[0].inaccessible, ErrorReason::kKeyNotAccessible);
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false,
                         Revoked());  // no change: nothing heard
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false, absl::OkStatus());
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false, Revoked());
  health_.Unlisten(subscription.id);
  health_.KeyRequestDone(kKeyUrl, kVersion, /*current=*/false, absl::OkStatus());
  EXPECT_EQ(heard, (std::vector<std::optional<ErrorReason>>{std::nullopt,
                                                           ErrorReason::kKeyNotAccessible}));
}

TEST_F(KeyHealthTest, KeysItDoesNotTrackAreIgnored) {
  health_.KeyRequestDone("https://other.vault.azure.net/keys/x", kVersion, /*current=*/false,
                         Revoked());
  EXPECT_EQ(log_.All(), "");
  EXPECT_THAT(metrics_.Scrape(),
              HasSubstr("keybroker_keys_inaccessible{reason=\"KEY_NOT_ACCESSIBLE\"} 0"));
}

TEST_F(KeyHealthTest, RuntimeKeysAreTrackedByUriButNeverLabelAMetric) {
  const std::string uri = "https://tenants.vault.azure.net/keys/tenant-x";
  health_.KeyAdded(uri, "tenants.vault.azure.net/tenant-x");
  health_.KeyRequestDone(uri, "", /*current=*/true, Revoked());
  EXPECT_EQ(health_.InaccessibleReason(uri), ErrorReason::kKeyNotAccessible);
  std::vector<nlohmann::json> down = Events("customer_key_inaccessible");
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0]["key_id"], uri);
  std::string scrape = metrics_.Scrape();
  EXPECT_THAT(scrape, HasSubstr("keybroker_keys_inaccessible{reason=\"KEY_NOT_ACCESSIBLE\"} 1"));
  EXPECT_THAT(scrape, ::testing::Not(HasSubstr("https://")));
  EXPECT_THAT(scrape, ::testing::Not(HasSubstr("tenant-x")));

  health_.KeyRemoved(uri);
  EXPECT_EQ(health_.InaccessibleReason(uri), std::nullopt);
  EXPECT_THAT(metrics_.Scrape(),
              HasSubstr("keybroker_keys_inaccessible{reason=\"KEY_NOT_ACCESSIBLE\"} 0"));
  // A configured key is never dropped as a runtime key.
  health_.KeyRemoved(kKeyUrl);
  health_.KeyRequestDone(kKeyUrl, "", /*current=*/true, Revoked());
  EXPECT_EQ(health_.InaccessibleReason("tenant-a"), ErrorReason::kKeyNotAccessible);
}

}  // namespace
}  // namespace keybroker::server
