#include "kms_adapters/azure/key_id.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::StatusIs;

TEST(KeyIdTest, ParsesVersionlessAndVersionedIdsCaseInsensitively) {
  absl::StatusOr<KeyId> id = ParseKeyId("https://Vault-A.vault.azure.net/keys/FHIR-cmk");
  ASSERT_OK(id);
  EXPECT_EQ(id->host, "vault-a.vault.azure.net");
  EXPECT_EQ(id->name, "fhir-cmk");
  EXPECT_EQ(id->version, "");
  EXPECT_EQ(id->VaultUrl(), "https://vault-a.vault.azure.net");
  EXPECT_EQ(id->EdekName(), "vault-a.vault.azure.net/fhir-cmk");

  id = ParseKeyId("https://hsm.managedhsm.azure.net:443/keys/k/78DEEBED173B48E48F55ABF87ED4CF71/");
  ASSERT_OK(id);
  EXPECT_EQ(id->host, "hsm.managedhsm.azure.net");
  EXPECT_EQ(id->version, "78deebed173b48e48f55abf87ed4cf71");
}

TEST(KeyIdTest, KeepsANonDefaultPort) {
  absl::StatusOr<KeyId> id = ParseKeyId("https://127.0.0.1:40123/keys/k1");
  ASSERT_OK(id);
  EXPECT_EQ(id->host, "127.0.0.1:40123");
}

TEST(KeyIdTest, RejectsMalformedIds) {
  for (const char* bad : {"http://v.vault.azure.net/keys/k", "https://v.vault.azure.net/secrets/k",
                          "https://v.vault.azure.net/keys/", "https://v.vault.azure.net/keys/a_b",
                          "https://v.vault.azure.net/keys/k/123", "https:///keys/k",
                          "https://v.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef/x",
                          "https://user@v.vault.azure.net/keys/k"}) {
    EXPECT_THAT(ParseKeyId(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

// Found by key_id_fuzz (tests/fuzz/regressions/key_id/): hosts that the
// transport refuses passed, so such a key failed every call, as INTERNAL.
TEST(KeyIdTest, RejectsHostsTheTransportRefuses) {
  for (const char* bad :
       {"https://vault-b.vault.usgov\xe3loudapi.net/keys/k", "https://v b.vault.azure.net/keys/k",
        "https://v.vault.azure.net:0/keys/k", "https://v.vault.azure.net:99999/keys/k",
        "https://v.vault.azure.net:x/keys/k", "https://[::1/keys/k"}) {
    EXPECT_THAT(ParseKeyId(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  absl::StatusOr<KeyId> ipv6 = ParseKeyId("https://[::1]:8443/keys/k");
  ASSERT_OK(ipv6);
  EXPECT_EQ(ipv6->VaultUrl(), "https://[::1]:8443");
}

TEST(KeyIdTest, InfersCloudsAndKinds) {
  struct Case {
    const char* host;
    VaultKind kind;
    const char* authority;
    const char* scope;
  };
  for (const Case& c : {
           Case{"v.vault.azure.net", VaultKind::kVault, "https://login.microsoftonline.com",
                "https://vault.azure.net/.default"},
           Case{"h.managedhsm.azure.net", VaultKind::kManagedHsm,
                "https://login.microsoftonline.com", "https://managedhsm.azure.net/.default"},
           Case{"v.vault.usgovcloudapi.net", VaultKind::kVault, "https://login.microsoftonline.us",
                "https://vault.usgovcloudapi.net/.default"},
           Case{"h.managedhsm.usgovcloudapi.net", VaultKind::kManagedHsm,
                "https://login.microsoftonline.us", "https://managedhsm.usgovcloudapi.net/.default"},
           Case{"v.vault.azure.cn", VaultKind::kVault, "https://login.chinacloudapi.cn",
                "https://vault.azure.cn/.default"},
           Case{"h.managedhsm.azure.cn:443", VaultKind::kManagedHsm,
                "https://login.chinacloudapi.cn", "https://managedhsm.azure.cn/.default"},
       }) {
    absl::StatusOr<CloudEndpoints> endpoints = InferCloudEndpoints(c.host);
    ASSERT_OK(endpoints) << c.host;
    EXPECT_EQ(endpoints->kind, c.kind) << c.host;
    EXPECT_EQ(endpoints->authority, c.authority) << c.host;
    EXPECT_EQ(endpoints->scope, c.scope) << c.host;
  }
  EXPECT_THAT(InferCloudEndpoints("127.0.0.1:40123"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(InferCloudEndpoints("vault.azure.net"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace keybroker::kms::azure
