#include "server/metrics.h"

#include <string>

#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keybroker::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(BrokerMetricsTest, BuildInfoAndKeyGaugesArePresentFromTheStart) {
  BrokerMetrics metrics("1.2.3");
  std::string text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr("keybroker_build_info{version=\"1.2.3\"} 1"));
  EXPECT_THAT(text, HasSubstr("keybroker_keys_inaccessible{reason=\"KEY_NOT_ACCESSIBLE\"} 0"));
  EXPECT_THAT(text, HasSubstr("keybroker_rpcs_in_flight{method=\"Unwrap\"} 0"));
  EXPECT_THAT(text, HasSubstr("keybroker_cache_lookups_total{cache=\"unwrap\",result=\"hit\"} 0"));
}

TEST(BrokerMetricsTest, CountsRpcsByMethodCodeReasonAndCause) {
  BrokerMetrics metrics("dev");
  metrics.RpcStarted(RpcMethod::kUnwrap);
  EXPECT_THAT(metrics.Scrape(), HasSubstr("keybroker_rpcs_in_flight{method=\"Unwrap\"} 1"));
  metrics.RpcFinished(RpcMethod::kUnwrap, absl::OkStatus(), absl::Microseconds(300));
  for (int i = 0; i < 2; ++i) {
    metrics.RpcStarted(RpcMethod::kUnwrap);
    metrics.RpcFinished(RpcMethod::kUnwrap, MakeError(ErrorReason::kKeyNotAccessible, "revoked"),
                        absl::Milliseconds(20));
  }
  metrics.RpcStarted(RpcMethod::kGenerateDek);
  metrics.RpcFinished(RpcMethod::kGenerateDek, MakeError(ErrorReason::kKmsUnavailable, "503"),
                      absl::Seconds(1));

  std::string text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr("keybroker_rpcs_in_flight{method=\"Unwrap\"} 0"));
  EXPECT_THAT(text, HasSubstr("keybroker_rpc_requests_total{cause=\"none\",code=\"OK\","
                              "method=\"Unwrap\",reason=\"none\"} 1"));
  EXPECT_THAT(text, HasSubstr("keybroker_rpc_requests_total{cause=\"customer\","
                              "code=\"PERMISSION_DENIED\",method=\"Unwrap\","
                              "reason=\"KEY_NOT_ACCESSIBLE\"} 2"));
  EXPECT_THAT(text, HasSubstr("keybroker_rpc_requests_total{cause=\"service\","
                              "code=\"UNAVAILABLE\",method=\"GenerateDek\","
                              "reason=\"KMS_UNAVAILABLE\"} 1"));
  EXPECT_THAT(text, HasSubstr("keybroker_rpc_duration_seconds_count{code=\"PERMISSION_DENIED\","
                              "method=\"Unwrap\"} 2"));
  // 300 µs falls in the 0.0005 s bucket, not in the 0.00025 s one.
  EXPECT_THAT(text, HasSubstr("keybroker_rpc_duration_seconds_bucket{code=\"OK\",method=\"Unwrap\","
                              "le=\"0.00025\"} 0"));
  EXPECT_THAT(text, HasSubstr("keybroker_rpc_duration_seconds_bucket{code=\"OK\",method=\"Unwrap\","
                              "le=\"0.0005\"} 1"));
}

TEST(BrokerMetricsTest, StreamsAreInFlightWhileOpenAndCountedWithTheirCauseButNotTimed) {
  BrokerMetrics metrics("dev");
  EXPECT_THAT(metrics.Scrape(), HasSubstr("keybroker_rpcs_in_flight{method=\"WatchKeys\"} 0"));
  EXPECT_THAT(metrics.Scrape(),
              HasSubstr("keybroker_authorization_denied_total{method=\"WatchKeys\"} 0"));
  metrics.RpcStarted(RpcMethod::kWatchKeys);
  metrics.RpcStarted(RpcMethod::kWatchKeys);
  EXPECT_THAT(metrics.Scrape(), HasSubstr("keybroker_rpcs_in_flight{method=\"WatchKeys\"} 2"));
  metrics.StreamFinished(RpcMethod::kWatchKeys, absl::CancelledError(), ErrorCause::kClient);
  // A shutdown's UNAVAILABLE, which CauseOf would give the service.
  metrics.StreamFinished(RpcMethod::kWatchKeys, absl::UnavailableError("shutting down"),
                         ErrorCause::kNone);
  std::string text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr("keybroker_rpcs_in_flight{method=\"WatchKeys\"} 0"));
  EXPECT_THAT(text, HasSubstr("keybroker_rpc_requests_total{cause=\"client\",code=\"CANCELLED\","
                              "method=\"WatchKeys\",reason=\"none\"} 1"));
  EXPECT_THAT(text, HasSubstr("keybroker_rpc_requests_total{cause=\"none\","
                              "code=\"UNAVAILABLE\",method=\"WatchKeys\",reason=\"none\"} 1"));
  EXPECT_THAT(text, Not(HasSubstr("keybroker_rpc_duration_seconds_count{code=\"CANCELLED\"")));
  EXPECT_THAT(text, Not(HasSubstr("method=\"WatchKeys\",le=")));
}

TEST(BrokerMetricsTest, CountsKmsRequestsByOutcomeAndKeyringReloads) {
  BrokerMetrics metrics("dev");
  metrics.KmsRequestDone("azure_key_vault", "unwrapkey", absl::OkStatus(), absl::Milliseconds(40));
  metrics.KmsRequestDone("azure_key_vault", "unwrapkey",
                         MakeError(ErrorReason::kKmsThrottled, "429"), absl::Milliseconds(40));
  metrics.KmsRequestDone("local", "reload", absl::OkStatus(), absl::Milliseconds(1));
  metrics.KmsRequestDone("local", "reload", Internal("no reason attached either way"),
                         absl::Milliseconds(1));
  std::string text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr("keybroker_kms_requests_total{kms=\"azure_key_vault\","
                              "operation=\"unwrapkey\",outcome=\"OK\"} 1"));
  EXPECT_THAT(text, HasSubstr("keybroker_kms_requests_total{kms=\"azure_key_vault\","
                              "operation=\"unwrapkey\",outcome=\"KMS_THROTTLED\"} 1"));
  EXPECT_THAT(text, HasSubstr("keybroker_kms_request_duration_seconds_count{kms=\"azure_key_vault\","
                              "operation=\"unwrapkey\"} 2"));
  EXPECT_THAT(text, HasSubstr("keybroker_keyring_reloads_total{outcome=\"OK\"} 1"));
  EXPECT_THAT(text, HasSubstr("keybroker_keyring_reloads_total{outcome=\"INTERNAL\"} 1"));
}

TEST(BrokerMetricsTest, LabelValuesOutsideTheClosedSetsAreNeverCreated) {
  BrokerMetrics metrics("dev");
  metrics.KmsRequestDone("vault-of-someone-else", "unwrapkey", absl::OkStatus(),
                         absl::Milliseconds(1));
  metrics.KmsRequestDone("local", "exfiltrate\"}", absl::OkStatus(), absl::Milliseconds(1));
  metrics.CacheLookup("a-new-cache", true);
  std::string text = metrics.Scrape();
  EXPECT_THAT(text, Not(HasSubstr("vault-of-someone-else")));
  EXPECT_THAT(text, Not(HasSubstr("exfiltrate")));
  EXPECT_THAT(text, Not(HasSubstr("a-new-cache")));
}

TEST(BrokerMetricsTest, CountsCachesTokensAndKeys) {
  BrokerMetrics metrics("dev");
  metrics.UnwrapCacheLookup(true);
  metrics.UnwrapCacheLookup(false);
  metrics.UnwrapCacheLookup(true);
  metrics.CacheLookup("token", false);
  metrics.CacheLookup("unknown_version", true);
  metrics.TokenRefreshDone(absl::OkStatus());
  metrics.TokenRefreshDone(MakeError(ErrorReason::kKmsUnavailable, "entra down"));
  metrics.SetKeysConfigured(2, 1);
  metrics.SetKeysInaccessible(ErrorReason::kKeyDisabled, 1);
  metrics.SetKeyAccessible("tenant-a", false);
  std::string text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr("keybroker_cache_lookups_total{cache=\"unwrap\",result=\"hit\"} 2"));
  EXPECT_THAT(text, HasSubstr("keybroker_cache_lookups_total{cache=\"unwrap\",result=\"miss\"} 1"));
  EXPECT_THAT(text, HasSubstr("keybroker_cache_lookups_total{cache=\"token\",result=\"miss\"} 1"));
  EXPECT_THAT(text, HasSubstr(
                        "keybroker_cache_lookups_total{cache=\"unknown_version\",result=\"hit\"} 1"));
  EXPECT_THAT(text, HasSubstr("keybroker_token_refreshes_total{outcome=\"OK\"} 1"));
  EXPECT_THAT(text, HasSubstr("keybroker_token_refreshes_total{outcome=\"KMS_UNAVAILABLE\"} 1"));
  EXPECT_THAT(text, HasSubstr("keybroker_keys_configured{management=\"customer\"} 2"));
  EXPECT_THAT(text, HasSubstr("keybroker_keys_configured{management=\"service\"} 1"));
  EXPECT_THAT(text, HasSubstr("keybroker_keys_inaccessible{reason=\"KEY_DISABLED\"} 1"));
  EXPECT_THAT(text, HasSubstr("keybroker_key_accessible{alias=\"tenant-a\"} 0"));
}

}  // namespace
}  // namespace keybroker::server
