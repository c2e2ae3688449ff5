// The configuration's trust-boundary fields: authorization rules, the
// plaintext rule, TLS versions and request bounds.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::server {
namespace {

using ::keybroker::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kKeys[] = R"(
kms:
  local:
    keyring_file: /var/lib/keybroker/keyring
keys:
  - alias: default
    local_key: service-default
)";

absl::StatusOr<Config> Parse(const std::string& head) { return ParseConfig(head + kKeys); }

TEST(ConfigAuthorizationTest, ParsesRules) {
  absl::StatusOr<Config> config = Parse(R"(
listen: 127.0.0.1:50051
authorization:
  rules:
    - callers: ["spiffe://cluster.local/ns/kafka/sa/*"]
      operations: [GenerateDek, Unwrap]
      keys: ["kek-*"]
      context: { tenant: "*" }
      rate_per_second: 2.5
    - callers: ["spiffe://cluster.local/ns/ops/sa/keyadmin"]
      operations: [Rotate, DescribeKey]
      keys: ["*"]
)");
  ASSERT_OK(config);
  ASSERT_TRUE(config->authorization.has_value());
  const auto& rules = config->authorization->rules;
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_THAT(rules[0].callers, ::testing::ElementsAre("spiffe://cluster.local/ns/kafka/sa/*"));
  EXPECT_THAT(rules[0].operations, ::testing::ElementsAre("GenerateDek", "Unwrap"));
  EXPECT_THAT(rules[0].keys, ::testing::ElementsAre("kek-*"));
  ASSERT_EQ(rules[0].context.size(), 1u);
  EXPECT_EQ(rules[0].context[0].first, "tenant");
  EXPECT_EQ(rules[0].context[0].second, "*");
  EXPECT_DOUBLE_EQ(rules[0].rate_per_second, 2.5);
  EXPECT_DOUBLE_EQ(rules[1].rate_per_second, 0);
}

TEST(ConfigAuthorizationTest, AbsentMeansNoPolicyEmptyMeansDenyAll) {
  absl::StatusOr<Config> config = Parse("listen: 127.0.0.1:50051\n");
  ASSERT_OK(config);
  EXPECT_FALSE(config->authorization.has_value());
  config = Parse("listen: 127.0.0.1:50051\nauthorization:\n  rules: []\n");
  ASSERT_OK(config);
  ASSERT_TRUE(config->authorization.has_value());
  EXPECT_TRUE(config->authorization->rules.empty());
}

TEST(ConfigAuthorizationTest, MistakesNameTheField) {
  EXPECT_THAT(Parse("listen: 127.0.0.1:1\nauthorization:\n  rules:\n    - callers: [a]\n"
                    "      operations: [Unwarp]\n      keys: ['*']\n")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("authorization.rules[0].operations")));
  EXPECT_THAT(Parse("listen: 127.0.0.1:1\nauthorization:\n  rules:\n    - callers: a\n"
                    "      operations: ['*']\n      keys: ['*']\n")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("authorization.rules[0].callers must be a list")));
  EXPECT_THAT(Parse("listen: 127.0.0.1:1\nauthorization:\n  rules:\n    - callers: [a]\n"
                    "      operations: ['*']\n      keys: ['*']\n      caller: [b]\n")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("authorization.rules[0].caller is not a known field")));
  EXPECT_THAT(Parse("listen: 127.0.0.1:1\nauthorization:\n  rules:\n    - callers: [a]\n"
                    "      operations: ['*']\n      keys: ['*']\n      rate_per_second: -1\n")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("authorization.rules[0].rate_per_second")));
  EXPECT_THAT(Parse("listen: 127.0.0.1:1\nauthorization:\n  rule: []\n").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("authorization.rule is not a known field")));
}

TEST(ConfigSecureDefaultsTest, PlaintextOnTheNetworkNeedsTheExplicitSetting) {
  absl::StatusOr<Config> config = Parse("listen: 0.0.0.0:50051\n");
  EXPECT_THAT(config.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("insecure_plaintext: true")));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("add a tls section"));
  EXPECT_FALSE(Parse("listen: 10.1.2.3:50051\n").ok());
  EXPECT_FALSE(Parse("listen: '[::]:50051'\n").ok());
  EXPECT_FALSE(Parse("listen: keybroker.example:50051\n").ok());

  config = Parse("listen: 0.0.0.0:50051\ninsecure_plaintext: true\n");
  ASSERT_OK(config);
  EXPECT_TRUE(config->insecure_plaintext);
  for (const char* local : {"127.0.0.1:50051", "127.9.9.9:1", "localhost:50051", "'[::1]:50051'",
                            "unix:/run/keybroker/keybroker.sock"}) {
    EXPECT_OK(Parse(std::string("listen: ") + local + "\n")) << local;
  }
  EXPECT_OK(Parse("listen: 0.0.0.0:50051\ntls:\n  cert_file: /c\n  key_file: /k\n"));
}

TEST(ConfigSecureDefaultsTest, TlsMinVersionAndReload) {
  absl::StatusOr<Config> config =
      Parse("listen: 0.0.0.0:1\ntls:\n  cert_file: /c\n  key_file: /k\n");
  ASSERT_OK(config);
  EXPECT_EQ(config->tls->min_version, "1.2");
  EXPECT_EQ(config->tls->reload_interval_seconds, 60);
  config = Parse(
      "listen: 0.0.0.0:1\ntls:\n  cert_file: /c\n  key_file: /k\n  min_version: '1.3'\n"
      "  reload_interval_seconds: 5\n");
  ASSERT_OK(config);
  EXPECT_EQ(config->tls->min_version, "1.3");
  EXPECT_EQ(config->tls->reload_interval_seconds, 5);
  EXPECT_THAT(
      Parse("listen: 0.0.0.0:1\ntls:\n  cert_file: /c\n  key_file: /k\n  min_version: '1.1'\n")
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tls.min_version")));
}

TEST(ConfigSecureDefaultsTest, DefaultsAreTheSafeOnes) {
  absl::StatusOr<Config> config = Parse("listen: 127.0.0.1:1\n");
  ASSERT_OK(config);
  EXPECT_FALSE(config->reflection);
  EXPECT_FALSE(config->insecure_plaintext);
  EXPECT_FALSE(config->allow_core_dumps);
  EXPECT_EQ(config->max_request_bytes, 64 * 1024);
  EXPECT_EQ(config->max_pending_kms_calls, 1024);
  EXPECT_EQ(config->cache.unknown_version_ttl_seconds, 60);
  config = Parse(
      "listen: unix:/tmp/k.sock\nreflection: true\nallow_core_dumps: true\n"
      "max_request_bytes: 1048576\nmax_pending_kms_calls: 10\nunix_socket_group: kafka\n");
  ASSERT_OK(config);
  EXPECT_TRUE(config->reflection);
  EXPECT_TRUE(config->allow_core_dumps);
  EXPECT_EQ(config->max_request_bytes, 1048576);
  EXPECT_EQ(config->max_pending_kms_calls, 10);
  EXPECT_EQ(config->unix_socket_group, "kafka");
  EXPECT_THAT(Parse("listen: 127.0.0.1:1\nmax_request_bytes: 100\n").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_request_bytes")));
}

}  // namespace
}  // namespace keybroker::server
