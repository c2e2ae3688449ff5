#include <variant>

#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::server {
namespace {

using ::keybroker::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kAzure[] = R"(
listen: 127.0.0.1:50051
kms:
  azure:
    key_vault_tls: { ca_file: /etc/keybroker/kv-ca.pem }
    request_timeout_seconds: 7
    max_concurrent_requests_per_vault: 16
    identities:
      fhir-prod:
        tenant_id: 00000000-0000-0000-0000-000000000000
        client_id: { password_file: /etc/keybroker/fhir-prod/client-id }
        client_secret: { password_file: /etc/keybroker/fhir-prod/client-secret }
        oauth_endpoint_url: https://login.microsoftonline.com
        scope: https://vault.azure.net/.default
        tls: { ca_file: /etc/keybroker/entra-ca.pem }
      tenant-b-cert:
        tenant_id: 11111111-1111-1111-1111-111111111111
        client_id: { password_file: /ids/b }
        client_certificate: { cert_file: /c.pem, key_file: /k.pem }
      in-cluster:
        workload_identity: {}
      node:
        managed_identity: { client_id: abc, endpoint: http://169.254.169.254 }
keys:
  - alias: tenant-a
    azure_key: https://vault-a.vault.azure.net/keys/fhir-cmk
    identity: fhir-prod
  - alias: tenant-b
    azure_key: https://hsm-b.managedhsm.azure.net/keys/cmk
    identity: tenant-b-cert
    vault_kind: managed_hsm
    hsm_random: true
)";

TEST(ConfigAzureTest, ParsesTheDesignSketch) {
  absl::StatusOr<Config> config = ParseConfig(kAzure);
  ASSERT_OK(config);
  ASSERT_TRUE(config->azure.has_value());
  const AzureConfig& azure = *config->azure;
  EXPECT_EQ(azure.key_vault_tls.ca_file, "/etc/keybroker/kv-ca.pem");
  EXPECT_EQ(azure.request_timeout_seconds, 7);
  EXPECT_EQ(azure.max_concurrent_requests_per_vault, 16);
  ASSERT_EQ(azure.identities.size(), 4u);
  std::map<std::string, const AzureIdentityConfig*> by_name;
  for (const auto& identity : azure.identities) by_name[identity.name] = &identity;
  const auto* secret = std::get_if<ClientSecretCredentialConfig>(&by_name["fhir-prod"]->credential);
  ASSERT_NE(secret, nullptr);
  EXPECT_EQ(secret->client_secret_file, "/etc/keybroker/fhir-prod/client-secret");
  EXPECT_EQ(by_name["fhir-prod"]->tls.ca_file, "/etc/keybroker/entra-ca.pem");
  EXPECT_EQ(by_name["fhir-prod"]->scope, "https://vault.azure.net/.default");
  const auto* cert =
      std::get_if<ClientCertificateCredentialConfig>(&by_name["tenant-b-cert"]->credential);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(cert->key_file, "/k.pem");
  EXPECT_TRUE(
      std::holds_alternative<WorkloadIdentityCredentialConfig>(by_name["in-cluster"]->credential));
  const auto* managed = std::get_if<ManagedIdentityCredentialConfig>(&by_name["node"]->credential);
  ASSERT_NE(managed, nullptr);
  EXPECT_EQ(managed->client_id, "abc");
  ASSERT_EQ(config->keys.size(), 2u);
  EXPECT_EQ(config->keys[1].vault_kind, "managed_hsm");
  EXPECT_TRUE(config->keys[1].hsm_random);
}

TEST(ConfigAzureTest, KeySourcesNameHostGlobsAndAnIdentity) {
  absl::StatusOr<Config> config = ParseConfig(R"(
listen: 127.0.0.1:1
kms:
  azure:
    identities:
      fhir-prod: { managed_identity: {} }
    key_sources:
      - vaults: ["*.vault.azure.net", "*.managedhsm.azure.net"]
        identity: fhir-prod
    max_runtime_keys: 50
)");
  ASSERT_OK(config);
  ASSERT_EQ(config->azure->key_sources.size(), 1u);
  EXPECT_THAT(config->azure->key_sources[0].vaults,
              ::testing::ElementsAre("*.vault.azure.net", "*.managedhsm.azure.net"));
  EXPECT_EQ(config->azure->key_sources[0].identity, "fhir-prod");
  EXPECT_EQ(config->azure->max_runtime_keys, 50);
}

TEST(ConfigAzureTest, NoKeySourcesByDefault) {
  absl::StatusOr<Config> config = ParseConfig(kAzure);
  ASSERT_OK(config);
  EXPECT_TRUE(config->azure->key_sources.empty());
  EXPECT_EQ(config->azure->max_runtime_keys, 1000);
}

struct BadCase {
  std::string yaml;
  const char* message;
};
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.message; }

class BadAzureConfigTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadAzureConfigTest, IsRejectedNamingTheField) {
  EXPECT_THAT(ParseConfig(GetParam().yaml),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().message)));
}

std::string WithIdentity(const std::string& identity, const std::string& key_extra = "") {
  return "listen: a:1\nkms:\n  azure:\n    identities:\n      app:\n" + identity +
         "keys:\n  - alias: a\n    azure_key: https://v.vault.azure.net/keys/k\n"
         "    identity: app\n" + key_extra;
}

// A configuration with identity "app" and no keys, plus `azure_extra` (lines
// of kms.azure).
std::string WithKeySources(const std::string& azure_extra) {
  return "listen: 127.0.0.1:1\nkms:\n  azure:\n    identities:\n      app:\n"
         "        managed_identity: {}\n" + azure_extra;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadAzureConfigTest,
    ::testing::Values(
        BadCase{WithIdentity("        tenant_id: t\n        client_id: { password_file: /i }\n"),
                "needs exactly one of client_secret"},
        BadCase{WithIdentity("        client_id: { password_file: /i }\n"
                             "        client_secret: { password_file: /s }\n"),
                "kms.azure.identities.app.tenant_id is required"},
        BadCase{WithIdentity("        tenant_id: t\n"
                             "        client_secret: { password_file: /s }\n"),
                "kms.azure.identities.app.client_id is required"},
        BadCase{WithIdentity("        tenant_id: t\n        client_id: { password_file: /i }\n"
                             "        client_secret: { password: hunter2 }\n"),
                "kms.azure.identities.app.client_secret.password is not a known field"},
        BadCase{WithIdentity("        managed_identity: {}\n        workload_identity: {}\n"),
                "needs exactly one of"},
        BadCase{WithIdentity("        tenant_id: t\n        client_id: { password_file: /i }\n"
                             "        client_secret: { password_file: /s }\n"
                             "        client_certificate: { cert_file: /c, key_file: /k }\n"),
                "kms.azure.identities.app needs exactly one of client_secret, client_certificate, "
                "workload_identity, managed_identity"},
        BadCase{WithIdentity("        tenant_id: t\n        client_id: { password_file: /i }\n"
                             "        client_certificate: { cert_file: /c }\n"),
                "kms.azure.identities.app.client_certificate needs cert_file and key_file"},
        BadCase{WithIdentity("        workload_identity: { audience: x }\n"),
                "kms.azure.identities.app.workload_identity.audience is not a known field"},
        BadCase{WithIdentity("        managed_identity: { endpoint: x, colour: red }\n"),
                "kms.azure.identities.app.managed_identity.colour is not a known field"},
        BadCase{WithIdentity("        managed_identity: {}\n", "    vault_kind: keyvault\n"),
                "keys[0].vault_kind must be vault or managed_hsm"},
        BadCase{"listen: a:1\nkms:\n  azure:\n    identities: {}\nkeys:\n  - alias: a\n"
                "    azure_key: https://v.vault.azure.net/keys/k\n    identity: nobody\n",
                "keys[0].identity 'nobody' is not in kms.azure.identities"},
        BadCase{"listen: a:1\nkeys:\n  - alias: a\n    azure_key: https://v.vault.azure.net/keys/k\n"
                "    identity: x\n",
                "keys[0].azure_key needs a kms.azure section"},
        BadCase{"listen: a:1\nkms:\n  azure: { identities: {} }\nkeys:\n  - alias: a\n"
                "    azure_key: https://v.vault.azure.net/keys/k\n",
                "keys[0].identity is required"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k } }\nkeys:\n  - alias: a\n"
                "    local_key: k\n    azure_key: https://v.vault.azure.net/keys/k\n",
                "keys[0] needs exactly one of local_key and azure_key"},
        BadCase{WithIdentity("        managed_identity: {}\n        tls: { ca: /x }\n"),
                "kms.azure.identities.app.tls.ca is not a known field"},
        BadCase{"listen: a:1\nkms:\n  azure:\n    request_timeout_seconds: 0\n",
                "kms.azure.request_timeout_seconds must be a positive integer"},
        BadCase{WithKeySources("    key_sources:\n      - { vaults: [], identity: app }\n"),
                "kms.azure.key_sources[0].vaults must name at least one host glob"},
        BadCase{WithKeySources("    key_sources:\n      - { identity: app }\n"),
                "kms.azure.key_sources[0].vaults must name at least one host glob"},
        BadCase{WithKeySources("    key_sources:\n      - { vaults: [\"*.vault.azure.net\"] }\n"),
                "kms.azure.key_sources[0].identity is required"},
        BadCase{WithKeySources("    key_sources:\n"
                               "      - { vaults: [\"*.vault.azure.net\"], identity: nobody }\n"),
                "kms.azure.key_sources[0].identity 'nobody' is not in kms.azure.identities"},
        BadCase{WithKeySources("    key_sources:\n      - { vaults: [\"a.vault.azure.net\", "
                               "\"*.*\"], identity: app }\n"),
                "kms.azure.key_sources[0].vaults[1] must name a domain"},
        BadCase{WithKeySources("    key_sources:\n      - { vaults: [\"*.vault.azure.net\"], "
                               "identity: app, x: 1 }\n"),
                "kms.azure.key_sources[0].x is not a known field"},
        BadCase{WithKeySources("    key_sources: { vaults: [a.b] }\n"),
                "kms.azure.key_sources must be a list"},
        BadCase{WithKeySources("    max_runtime_keys: 0\n"),
                "kms.azure.max_runtime_keys must be a positive integer"}));

// The one identity ("app") of WithIdentity(`identity`), whose non-loopback
// listen address needs insecure_plaintext to pass validation.
absl::StatusOr<AzureIdentityConfig> ParseApp(const std::string& identity) {
  ASSIGN_OR_RETURN(Config config,
                   ParseConfig("insecure_plaintext: true\n" + WithIdentity(identity)));
  return config.azure->identities.at(0);
}

TEST(ConfigAzureIdentityTest, ClientSecretKeepsItsFile) {
  absl::StatusOr<AzureIdentityConfig> app = ParseApp(
      "        tenant_id: t\n        client_id: { password_file: /i }\n"
      "        client_secret: { password_file: /s }\n");
  ASSERT_OK(app);
  EXPECT_EQ(app->tenant_id, "t");
  EXPECT_EQ(app->client_id_file, "/i");
  const auto* secret = std::get_if<ClientSecretCredentialConfig>(&app->credential);
  ASSERT_NE(secret, nullptr);
  EXPECT_EQ(secret->client_secret_file, "/s");
}

TEST(ConfigAzureIdentityTest, ClientCertificateKeepsItsPair) {
  absl::StatusOr<AzureIdentityConfig> app = ParseApp(
      "        tenant_id: t\n        client_id: { password_file: /i }\n"
      "        client_certificate: { cert_file: /c.pem, key_file: /k.pem }\n"
      "        oauth_endpoint_url: https://login.example\n");
  ASSERT_OK(app);
  EXPECT_EQ(app->client_id_file, "/i");
  EXPECT_EQ(app->oauth_endpoint_url, "https://login.example");
  const auto* cert = std::get_if<ClientCertificateCredentialConfig>(&app->credential);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(cert->cert_file, "/c.pem");
  EXPECT_EQ(cert->key_file, "/k.pem");
}

// The identity's own fields stay beside the block: they are the fallbacks.
TEST(ConfigAzureIdentityTest, WorkloadIdentityKeepsItsFieldsApartFromTheIdentitys) {
  absl::StatusOr<AzureIdentityConfig> app = ParseApp(
      "        tenant_id: outer-tenant\n        client_id: { password_file: /i }\n"
      "        oauth_endpoint_url: https://outer.example\n"
      "        workload_identity: { client_id: c, tenant_id: t, token_file: /tok,\n"
      "                             authority_host: https://inner.example }\n");
  ASSERT_OK(app);
  EXPECT_EQ(app->tenant_id, "outer-tenant");
  EXPECT_EQ(app->client_id_file, "/i");
  EXPECT_EQ(app->oauth_endpoint_url, "https://outer.example");
  const auto* workload = std::get_if<WorkloadIdentityCredentialConfig>(&app->credential);
  ASSERT_NE(workload, nullptr);
  EXPECT_EQ(workload->client_id, "c");
  EXPECT_EQ(workload->tenant_id, "t");
  EXPECT_EQ(workload->token_file, "/tok");
  EXPECT_EQ(workload->authority_host, "https://inner.example");
}

TEST(ConfigAzureIdentityTest, ManagedIdentityKeepsItsFields) {
  absl::StatusOr<AzureIdentityConfig> app =
      ParseApp("        managed_identity: { client_id: c, endpoint: http://169.254.169.254 }\n");
  ASSERT_OK(app);
  const auto* managed = std::get_if<ManagedIdentityCredentialConfig>(&app->credential);
  ASSERT_NE(managed, nullptr);
  EXPECT_EQ(managed->client_id, "c");
  EXPECT_EQ(managed->endpoint, "http://169.254.169.254");
}

// Neither block has a required field, so the key alone selects the kind.
TEST(ConfigAzureIdentityTest, BareWorkloadOrManagedIdentityBlockSelectsTheKind) {
  absl::StatusOr<AzureIdentityConfig> workload = ParseApp("        workload_identity:\n");
  ASSERT_OK(workload);
  EXPECT_TRUE(std::holds_alternative<WorkloadIdentityCredentialConfig>(workload->credential));
  absl::StatusOr<AzureIdentityConfig> managed = ParseApp("        managed_identity:\n");
  ASSERT_OK(managed);
  const auto* fields = std::get_if<ManagedIdentityCredentialConfig>(&managed->credential);
  ASSERT_NE(fields, nullptr);
  EXPECT_EQ(fields->client_id, "");
  EXPECT_EQ(fields->endpoint, "");
}

}  // namespace
}  // namespace keybroker::server
