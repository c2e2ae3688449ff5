// KeyRegistry::Resolve: an RPC's `key` as an alias or as a key URI that a
// key source covers, and what authorization rules match for a URI.
#include <memory>
#include <optional>
#include <string>

#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kms_adapters/azure/azure_kms.h"
#include "server/authorization_policy.h"
#include "server/key_registry.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::server {
namespace {

using ::keybroker::testing::HasReason;

constexpr char kKeyUrl[] = "https://tenants.vault.azure.net/keys/configured";
constexpr char kVersion[] = "0123456789abcdef0123456789abcdef";

class KeyRegistryUriTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // An AzureKms makes no request until called: resolving sends nothing.
    kms::azure::AzureKmsOptions options;
    options.key_sources =
        [](const kms::azure::KeyId& id) -> std::optional<kms::azure::AzureKeyOptions> {
      if (id.host != "tenants.vault.azure.net") return std::nullopt;
      return kms::azure::AzureKeyOptions();
    };
    auto azure = std::make_unique<kms::azure::AzureKms>(&client_, options);
    kms::azure::AzureKeyOptions configured;
    configured.key_url = kKeyUrl;
    ASSERT_TRUE(azure->AddKey(configured).ok());
    ASSERT_TRUE(registry_.AddKms(std::move(azure)).ok());
    ASSERT_TRUE(registry_.Bind("tenant-a", crypto::EdekKms::kAzure, kKeyUrl).ok());
  }

  kms::azure::KeyVaultClient client_{nullptr};
  KeyRegistry registry_;
};

TEST_F(KeyRegistryUriTest, AnAliasResolvesToItsBinding) {
  absl::StatusOr<BoundKey> key = registry_.Resolve("tenant-a");
  ASSERT_OK(key);
  EXPECT_EQ(key->alias, "tenant-a");
  EXPECT_EQ(key->key_id, kKeyUrl);
  EXPECT_EQ(key->edek_key_name, "");
  EXPECT_THAT(registry_.Resolve("tenant-b"), HasReason(ErrorReason::kKeyNotFound));
}

TEST_F(KeyRegistryUriTest, AUriACoveredHostResolvesUnderItsCanonicalName) {
  absl::StatusOr<BoundKey> key =
      registry_.Resolve(std::string("https://TENANTS.vault.azure.net/keys/Tenant-X/") + kVersion);
  ASSERT_OK(key);
  EXPECT_EQ(key->alias, "https://tenants.vault.azure.net/keys/tenant-x");
  EXPECT_EQ(key->key_id, std::string("https://tenants.vault.azure.net/keys/tenant-x/") + kVersion);
  EXPECT_EQ(key->kms->kind(), crypto::EdekKms::kAzure);
  EXPECT_EQ(key->edek_key_name, "tenants.vault.azure.net/tenant-x");
  // The configured key named by its URL is that key.
  key = registry_.Resolve(kKeyUrl);
  ASSERT_OK(key);
  EXPECT_EQ(key->key_id, kKeyUrl);
}

TEST_F(KeyRegistryUriTest, UncoveredOrMalformedUrisAreRefused) {
  EXPECT_THAT(registry_.Resolve("https://other.vault.azure.net/keys/x"),
              HasReason(ErrorReason::kKeyNotFound));
  EXPECT_THAT(registry_.Resolve("https://tenants.vault.azure.net/secrets/x"),
              HasReason(ErrorReason::kInvalidRequest));
  KeyRegistry without_azure;
  EXPECT_THAT(without_azure.Resolve("https://tenants.vault.azure.net/keys/x"),
              HasReason(ErrorReason::kKeyNotFound));
}

TEST(KeyUriNameTest, AuthorizationRulesMatchTheCanonicalUri) {
  EXPECT_EQ(
      KeyRegistry::KeyUriName(std::string("https://A.Vault.Azure.NET/keys/Tenant-1/") + kVersion),
      "https://a.vault.azure.net/keys/tenant-1");
  EXPECT_EQ(KeyRegistry::KeyUriName("https://a.vault.azure.net/nope"), "");
  EXPECT_EQ(KeyRegistry::KeyUriEdekName(
                std::string("https://A.Vault.Azure.NET:443/keys/Tenant-1/") + kVersion),
            "a.vault.azure.net/tenant-1");
  EXPECT_EQ(KeyRegistry::KeyUriEdekName("https://a.vault.azure.net/nope"), "");
  AuthorizationRuleConfig rule;
  rule.callers = {"*"};
  rule.operations = {"*"};
  rule.keys = {"https://*.vault.azure.net/keys/tenant-*"};
  AuthorizationConfig config;
  config.rules = {rule};
  absl::StatusOr<std::unique_ptr<AuthorizationPolicy>> policy =
      AuthorizationPolicy::Create(config, 1);
  ASSERT_OK(policy);
  auto no_context = [](const std::string&) -> const std::string* { return nullptr; };
  auto decide = [&](const std::string& key) {
    std::string name = KeyRegistry::KeyUriName(key);
    return (*policy)
        ->Decide(AccessRequest{"anyone", RpcMethod::kGenerateDek, name}, no_context, absl::Now())
        .outcome;
  };
  EXPECT_EQ(decide("https://V1.vault.azure.net/keys/TENANT-1"), AccessDecision::Outcome::kAllow);
  EXPECT_EQ(decide(std::string("https://v1.vault.azure.net/keys/tenant-1/") + kVersion),
            AccessDecision::Outcome::kAllow);
  EXPECT_EQ(decide("https://v1.vault.azure.net/keys/admin"), AccessDecision::Outcome::kDeny);
  EXPECT_EQ(decide("https://evil.example.com/keys/tenant-1"), AccessDecision::Outcome::kDeny);
}

}  // namespace
}  // namespace keybroker::server
