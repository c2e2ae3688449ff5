#include "server/config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::server {
namespace {

using ::keybroker::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kFull[] = R"(
listen: 0.0.0.0:50051
metrics_listen: 0.0.0.0:9090
log_level: debug
tls:
  cert_file: /etc/keybroker/tls/tls.crt
  key_file: /etc/keybroker/tls/tls.key
  client_ca_file: /etc/keybroker/tls/ca.crt
cache:
  metadata_ttl_seconds: 10
  unwrap_ttl_seconds: 20
  unwrap_max_entries: 500
kms:
  local:
    keyring_file: /var/lib/keybroker/keyring
    master_key_file: /etc/keybroker/master-key
    read_only: true
    reload_interval_seconds: 3
keys:
  - alias: default
    local_key: service-default
  - alias: other
    local_key: other-key
)";

TEST(ConfigTest, ParsesEveryField) {
  absl::StatusOr<Config> config = ParseConfig(kFull);
  ASSERT_OK(config);
  EXPECT_EQ(config->listen, "0.0.0.0:50051");
  EXPECT_EQ(config->metrics_listen, "0.0.0.0:9090");
  EXPECT_EQ(config->log_level, "debug");
  ASSERT_TRUE(config->tls.has_value());
  EXPECT_EQ(config->tls->client_ca_file, "/etc/keybroker/tls/ca.crt");
  EXPECT_EQ(config->cache.metadata_ttl_seconds, 10);
  EXPECT_EQ(config->cache.unwrap_ttl_seconds, 20);
  EXPECT_EQ(config->cache.unwrap_max_entries, 500);
  ASSERT_TRUE(config->local.has_value());
  EXPECT_EQ(config->local->keyring_file, "/var/lib/keybroker/keyring");
  EXPECT_EQ(config->local->master_key_file, "/etc/keybroker/master-key");
  EXPECT_TRUE(config->local->read_only);
  EXPECT_EQ(config->local->reload_interval_seconds, 3);
  ASSERT_EQ(config->keys.size(), 2u);
  EXPECT_EQ(config->keys[1].alias, "other");
  EXPECT_EQ(config->keys[1].local_key, "other-key");
}

TEST(ConfigTest, ReadsALocalKeysDecryptionFloor) {
  absl::StatusOr<Config> config = ParseConfig(
      "listen: 127.0.0.1:1\nkms: { local: { keyring_file: /k } }\n"
      "keys: [{alias: a, local_key: b, min_decryption_version: 3}, {alias: c, local_key: d}]");
  ASSERT_OK(config);
  EXPECT_EQ(config->keys[0].min_decryption_version, 3);
  EXPECT_EQ(config->keys[1].min_decryption_version, 0);
}

TEST(ConfigTest, DefaultsApplyWhenOmitted) {
  absl::StatusOr<Config> config = ParseConfig(R"(
listen: unix:/run/keybroker/keybroker.sock
kms: { local: { keyring_file: /k } }
keys: [ { alias: a, local_key: b } ]
)");
  ASSERT_OK(config);
  EXPECT_EQ(config->cache.unwrap_ttl_seconds, 30);
  EXPECT_EQ(config->log_level, "info");
  EXPECT_FALSE(config->tls.has_value());
  EXPECT_FALSE(config->local->read_only);
  EXPECT_EQ(config->local->reload_interval_seconds, 10);
}

struct BadCase {
  const char* yaml;
  const char* message;  // must appear in the error
};

// Names the case by its expected message in test listings.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.message; }

class BadConfigTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfigTest, IsRejectedNamingTheField) {
  EXPECT_THAT(ParseConfig(GetParam().yaml),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().message)));
}


INSTANTIATE_TEST_SUITE_P(
    Cases, BadConfigTest,
    ::testing::Values(
        BadCase{"listen: a:1\nlisten_typo: 1\nkeys: [{alias: a, local_key: b}]\n"
                "kms: { local: { keyring_file: /k } }",
                "listen_typo is not a known field"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k, master_key: x } }\n"
                "keys: [{alias: a, local_key: b}]",
                "kms.local.master_key is not a known field"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k } }\n"
                "keys: [{alias: a, local_key: b, colour: red}]",
                "keys[0].colour is not a known field"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k } }\ncache: { unwrap_ttl_seconds: -1 }\n"
                "keys: [{alias: a, local_key: b}]",
                "cache.unwrap_ttl_seconds must be a positive integer"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k, read_only: maybe } }\n"
                "keys: [{alias: a, local_key: b}]",
                "kms.local.read_only must be true or false"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k, reload_interval_seconds: 0 } }\n"
                "keys: [{alias: a, local_key: b}]",
                "kms.local.reload_interval_seconds must be a positive integer"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k, reload_interval_seconds: 1.5 } }\n"
                "keys: [{alias: a, local_key: b}]",
                "kms.local.reload_interval_seconds must be a positive integer"},
        BadCase{"listen: a:1\nkms: { local: {} }\nkeys: [{alias: a, local_key: b}]",
                "kms.local.keyring_file is required"},
        BadCase{"kms: { local: { keyring_file: /k } }\nkeys: [{alias: a, local_key: b}]",
                "listen is required"},
        BadCase{"listen: nonsense\nkms: { local: { keyring_file: /k } }\n"
                "keys: [{alias: a, local_key: b}]",
                "listen must be host:port"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k } }\nkeys: []", "keys must bind"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k } }\n"
                "keys: [{alias: a, local_key: b}, {alias: a, local_key: c}]",
                "keys[1].alias 'a' is bound twice"},
        BadCase{"listen: a:1\nkeys: [{alias: a, local_key: b}]",
                "keys[0].local_key needs a kms.local section"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k } }\nkeys: [{local_key: b}]",
                "keys[0].alias is required"},
        BadCase{"listen: a:1\nlog_level: loud\nkms: { local: { keyring_file: /k } }\n"
                "keys: [{alias: a, local_key: b}]",
                "log_level must be"},
        BadCase{"listen: a:1\ntls: { cert_file: /c }\nkms: { local: { keyring_file: /k } }\n"
                "keys: [{alias: a, local_key: b}]",
                "tls needs both cert_file and key_file"},
        BadCase{"listen: [a, b]\n", "listen must be a string"},
        BadCase{"- just\n- a list\n", "must be a mapping"},
        BadCase{"listen: a:1\n  bad: indentation\n :", "not valid YAML"},
        // Found by config_fuzz (tests/fuzz/regressions/config/): a key given
        // twice, or a second document, was accepted with one of the two
        // silently dropped.
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k } }\n"
                "keys: [{alias: a, local_key: b}]\nkms: { local: { keyring_file: /other } }",
                "kms is given twice"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k, keyring_file: /other } }\n"
                "keys: [{alias: a, local_key: b}]",
                "kms.local.keyring_file is given twice"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k } }\n"
                "keys: [{alias: a, local_key: b, local_key: c}]",
                "keys[0].local_key is given twice"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k } }\n"
                "keys: [{alias: a, local_key: b}]\n"
                "authorization: { rules: [{callers: [x], keys: [a], context: {t: a, t: b}}] }",
                "authorization.rules[0].context.t is given twice"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k } }\n"
                "keys: [{alias: a, local_key: b}]\n---\nlisten: b:2\n",
                "more than one YAML document"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k } }\n"
                "keys: [{alias: a, local_key: b, min_decryption_version: 0}]",
                "keys[0].min_decryption_version must be a positive integer"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k } }\n"
                "keys: [{alias: a, local_key: b, min_decryption_version: 4294967296}]",
                "keys[0].min_decryption_version is not a version number"},
        BadCase{"listen: a:1\nkms: { local: { keyring_file: /k } }\n"
                "keys: [{alias: a, local_key: b, min_decryption_version: 2},\n"
                "       {alias: c, local_key: b, min_decryption_version: 3}]",
                "keys[1].min_decryption_version differs from keys[0].min_decryption_version"},
        BadCase{"listen: a:1\nkms: { azure: { identities: { app: { tenant_id: t, client_id: "
                "{ password_file: /i }, client_secret: { password_file: /s } } } } }\n"
                "keys: [{alias: a, azure_key: 'https://v.vault.azure.net/keys/k', "
                "identity: app, min_decryption_version: 2}]",
                "keys[0].min_decryption_version applies to local_key only"}));

// Found by config_fuzz (tests/fuzz/regressions/config/endless_documents):
// yaml-cpp's LoadAll yields empty documents from this text forever, so
// looking for a second document must stop at two.
TEST(ConfigTest, TextOfEndlessEmptyDocumentsIsRefusedPromptly) {
  const std::string text(",127.n\xff\xff\xff: \xc2\xc2\xc2\xc2\x0f\0\0\0\0\0\0\0\xc2k..\n", 28);
  EXPECT_THAT(ParseConfig(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("more than one YAML document")));
}

TEST(ConfigTest, EmbeddedDefaultBindsDefaultAlias) {
  Config config = EmbeddedDefaultConfig("127.0.0.1:0", "/data");
  EXPECT_OK(ValidateConfig(config));
  ASSERT_EQ(config.keys.size(), 1u);
  EXPECT_EQ(config.keys[0].alias, "default");
  EXPECT_EQ(config.local->keyring_file, "/data/keyring");
  EXPECT_EQ(config.local->master_key_file, "/data/master-key");
}

TEST(ConfigTest, MissingFileIsReported) {
  EXPECT_THAT(LoadConfigFile("/nonexistent/keybroker.yaml"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("cannot read configuration")));
}

}  // namespace
}  // namespace keybroker::server
