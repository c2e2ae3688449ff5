// The broker's observability against the Key Vault / Managed HSM emulator
// over TLS: what /metrics counts after real traffic (Key Vault requests,
// cache hits, token refreshes, configured keys), a customer revoking access
// (one diagnostic line with Key Vault's request id, customer-caused metrics,
// probes still healthy) and restoring it, a Key Vault outage (the service's
// fault, the key not reported inaccessible), one audit line per RPC, and no
// secret (nor any bearer token the emulator issued) anywhere in the log.
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/azure_broker_config.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/integration/http_get.h"
#include "tests/integration/keyvault_emulator_process.h"
#include "tests/integration/prometheus_text.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using Json = nlohmann::json;

constexpr int kTtlSeconds = 2;  // metadata and unwrap cache: the revocation bound
// The client secret of the broker's identity: it must never be logged.
constexpr char kClientSecret[] = "obs-Client+Secret/Value=42";
// A vault RSA key (revoked and restored) and a Managed HSM RSA key (its
// Key Vault fails), on separate hosts so that revoking one leaves the other.
constexpr char kVaultAlias[] = "obs-vault";
constexpr char kHsmAlias[] = "obs-hsm";
constexpr char kRpcs[] = "keybroker_rpc_requests_total";
constexpr char kKmsRequests[] = "keybroker_kms_requests_total";

// What one RPC should leave in its audit line.
struct ExpectedAudit {
  std::string method, alias, version, outcome, reason;
};

// Whose fault each reason the tests meet is, as the BYOK design says.
std::string CauseOfReason(const std::string& reason) {
  static const std::map<std::string, std::string> causes = {
      {"", "none"},
      {"KEY_NOT_ACCESSIBLE", "customer"},
      {"KMS_UNAVAILABLE", "service"},
  };
  auto it = causes.find(reason);
  return it == causes.end() ? "unexpected reason " + reason : it->second;
}

std::string CodeName(grpc::StatusCode code) {
  static const char* const names[] = {
      "OK",       "CANCELLED",          "UNKNOWN",           "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",    "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",      "UNAVAILABLE",       "DATA_LOSS",
      "UNAUTHENTICATED"};
  int index = static_cast<int>(code);
  return index >= 0 && index < 17 ? names[index] : "?";
}

class AzureObservabilityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto emulator = StartEmulatorWithSecretPrincipal(dir_->path(), kClientSecret);
    ASSERT_OK(emulator);
    emulator_ = emulator->release();
    ASSERT_OK(emulator_->Control(
        "create-key", {{"host", "kv1"}, {"name", kVaultAlias}, {"kty", "RSA"}, {"size", 2048}}));
    ASSERT_OK(emulator_->Control(
        "create-key",
        {{"host", "hsm1"}, {"name", kHsmAlias}, {"kty", "RSA-HSM"}, {"size", 2048}}));
  }

  static void TearDownTestSuite() {
    delete emulator_;
    delete dir_;
  }

  // A broker of its own for each test, so that counters, gauges and log
  // lines start from nothing.
  void SetUp() override {
    ASSERT_NE(emulator_, nullptr);
    ASSERT_OK(emulator_->Control("clear-faults", Json::object()));
    ASSERT_OK(emulator_->Control("grant", {{"host", "kv1"}, {"client_id", kAzureClientId}}));
    ASSERT_OK(emulator_->Control(
        "set-host", {{"host", "kv1"}, {"permission_model", "rbac"}, {"firewall_deny", false}}));
    ASSERT_OK(emulator_->Control("reset-counts", Json::object()));
    std::string keys =
        absl::StrCat(AzureKeyConfig(*emulator_, kVaultAlias, "kv1", kVaultAlias, "app", false),
                     AzureKeyConfig(*emulator_, kHsmAlias, "hsm1", kHsmAlias, "app", true));
    AzureBrokerConfigOptions options;
    options.kv_ca_file = emulator_->ca_file();
    options.cache_ttl_seconds = kTtlSeconds;
    options.secrets_dir = dir_->path();
    options.keys = keys;
    options.more_settings = "metrics_listen: 127.0.0.1:0\n";
    WriteAll(broker_dir_.File("keybroker.yaml"), AzureBrokerConfig(*emulator_, options));
    auto broker = BrokerProcess::Start({"--config", broker_dir_.File("keybroker.yaml")});
    ASSERT_OK(broker);
    broker_ = *std::move(broker);
    ASSERT_TRUE(broker_->WaitForLogLine("key_checks_done", absl::Seconds(60)));
    std::vector<Json> listening = Events("metrics_listening");
    ASSERT_EQ(listening.size(), 1u);
    metrics_address_ = listening[0]["address"];
    ASSERT_THAT(metrics_address_, MatchesRegex("127\\.0\\.0\\.1:[1-9][0-9]*"));
    stub_ = NewStub(broker_->address());
  }

  void TearDown() override {
    if (broker_ == nullptr) return;
    ExpectOneAuditLinePerRpc();
    ExpectNoSecretInTheLog();
    if (HasFailure() || std::getenv("OBS_DUMP") != nullptr) {
      std::cerr << "The broker's log:\n" << absl::StrJoin(broker_->Lines(), "\n") << "\n";
      std::cerr << "/metrics:\n";
      PrometheusScrape scrape = Scrape();
      for (const PrometheusSample& sample : scrape.samples()) std::cerr << ToString(sample) << "\n";
    }
  }

  // --- RPCs, each remembered for the audit and secret checks ---------------------------

  grpc::Status GenerateDek(const std::string& alias, v1::GenerateDekResponse* response) {
    v1::GenerateDekRequest request;
    request.set_key(alias);
    (*request.mutable_context())["tenant"] = "acme";
    grpc::Status status = stub_->GenerateDek(Ctx().get(), request, response);
    Remember("GenerateDek", alias, response->key_version(), status);
    if (status.ok()) dek_plaintexts_.push_back(response->plaintext());
    return status;
  }

  // n fresh DEKs of `alias` (never unwrapped, so not in the unwrap cache).
  std::vector<v1::GenerateDekResponse> FreshDeks(const std::string& alias, int n) {
    std::vector<v1::GenerateDekResponse> deks(n);
    for (auto& dek : deks) {
      grpc::Status status = GenerateDek(alias, &dek);
      EXPECT_TRUE(status.ok()) << status.error_message();
    }
    return deks;
  }

  grpc::Status Unwrap(const std::string& alias, const v1::GenerateDekResponse& dek) {
    v1::UnwrapRequest request;
    request.set_edek(dek.edek());
    (*request.mutable_context())["tenant"] = "acme";
    v1::UnwrapResponse response;
    grpc::Status status = stub_->Unwrap(Ctx(std::chrono::seconds(30)).get(), request, &response);
    Remember("Unwrap", alias, response.key_version(), status);
    if (status.ok()) {
      EXPECT_EQ(response.plaintext(), dek.plaintext());
      EXPECT_EQ(response.key_version(), dek.key_version());
    }
    return status;
  }

  void Remember(const std::string& method, const std::string& alias, const std::string& version,
                const grpc::Status& status) {
    expected_audit_.push_back(
        {method, alias, version, CodeName(status.error_code()), GrpcReasonOf(status)});
  }

  // --- the broker's log and its HTTP endpoints -------------------------------------------

  // The broker's log lines of `event`, parsed (every line must be JSON).
  std::vector<Json> Events(const std::string& event) const {
    std::vector<Json> events;
    for (const std::string& line : broker_->Lines()) {
      Json json = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      EXPECT_TRUE(json.is_object()) << "not a JSON log line: " << line;
      if (json.is_object() && json.value("event", "") == event) events.push_back(json);
    }
    return events;
  }

  PrometheusScrape Scrape() const {
    absl::StatusOr<HttpGetResponse> response = HttpGet(metrics_address_, "/metrics");
    EXPECT_OK(response);
    if (!response.ok()) return {};
    EXPECT_EQ(response->status, 200);
    EXPECT_THAT(response->headers["content-type"], ::testing::StartsWith("text/plain"));
    absl::StatusOr<PrometheusScrape> scrape = PrometheusScrape::Parse(response->body);
    EXPECT_OK(scrape);
    return scrape.ok() ? *std::move(scrape) : PrometheusScrape();
  }

  int ProbeStatus(const std::string& path) const {
    absl::StatusOr<HttpGetResponse> response = HttpGet(metrics_address_, path);
    EXPECT_OK(response);
    return response.ok() ? response->status : -1;
  }

  // The counter of Key Vault requests on `kms` for `operation` ending `outcome`.
  static double KmsRequests(const PrometheusScrape& scrape, const std::string& kms,
                            const std::string& operation, const std::string& outcome) {
    return scrape.Sum(kKmsRequests,
                      {{"kms", kms}, {"operation", operation}, {"outcome", outcome}});
  }

  static double Gauge(const PrometheusScrape& scrape, const std::string& name,
                      const PrometheusLabels& labels) {
    std::optional<double> value = scrape.Find(name, labels);
    EXPECT_TRUE(value.has_value()) << name << " has no series " << ::testing::PrintToString(labels);
    return value.value_or(-1);
  }

  // Audit lines are buffered (written within about 50 ms): waits for them,
  // then checks one per RPC, in the order made, with every field.
  void ExpectOneAuditLinePerRpc() {
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (Events("audit").size() < expected_audit_.size() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    absl::SleepFor(absl::Milliseconds(200));  // and no more than that
    std::vector<Json> audit = Events("audit");
    ASSERT_EQ(audit.size(), expected_audit_.size());
    for (size_t i = 0; i < audit.size(); ++i) {
      const Json& line = audit[i];
      const ExpectedAudit& expected = expected_audit_[i];
      SCOPED_TRACE(line.dump());
      for (const char* field :
           {"caller", "peer", "method", "alias", "version", "outcome", "reason", "cause"}) {
        EXPECT_TRUE(line.contains(field) && line[field].is_string()) << field;
      }
      ASSERT_TRUE(line.contains("latency_ms") && line["latency_ms"].is_number());
      EXPECT_GE(line["latency_ms"].get<double>(), 0);
      EXPECT_EQ(line.value("level", ""), "info");
      EXPECT_EQ(line.value("caller", ""), "anonymous");
      EXPECT_THAT(line.value("peer", ""), HasSubstr("127.0.0.1"));
      EXPECT_EQ(line.value("method", ""), expected.method);
      EXPECT_EQ(line.value("alias", ""), expected.alias);
      EXPECT_EQ(line.value("outcome", ""), expected.outcome);
      EXPECT_EQ(line.value("reason", ""), expected.reason);
      EXPECT_EQ(line.value("cause", ""), CauseOfReason(expected.reason));
      if (expected.outcome == "OK") {
        EXPECT_EQ(line.value("version", ""), expected.version);
        EXPECT_EQ(expected.version.size(), 32u);
      }
    }
  }

  // No DEK handed out (base64 or hex), nor the identity's client secret (as
  // written, or form-encoded as in the token request), nor any bearer token
  // the emulator issued (to this broker or an earlier one), in any log line.
  void ExpectNoSecretInTheLog() const {
    std::string log = absl::StrJoin(broker_->Lines(), "\n");
    std::vector<std::string> secrets = {kClientSecret, "obs-Client%2BSecret%2FValue%3D42"};
    absl::StatusOr<std::vector<std::string>> tokens = emulator_->IssuedTokens();
    ASSERT_OK(tokens);
    EXPECT_FALSE(tokens->empty()) << "the broker fetched a token at start-up";
    secrets.insert(secrets.end(), tokens->begin(), tokens->end());
    for (const std::string& dek : dek_plaintexts_) {
      ASSERT_EQ(dek.size(), 32u);
      std::string hex = absl::BytesToHexString(dek);
      std::string base64 = absl::Base64Escape(dek);
      secrets.insert(secrets.end(), {hex, absl::AsciiStrToUpper(hex), base64,
                                     absl::WebSafeBase64Escape(dek),
                                     base64.substr(0, base64.find('='))});
    }
    for (const std::string& secret : secrets) {
      EXPECT_FALSE(absl::StrContains(log, secret)) << "the broker logged " << secret;
    }
  }

  static TempDir* dir_;
  static KeyVaultEmulator* emulator_;
  TempDir broker_dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::string metrics_address_;
  std::unique_ptr<v1::KeyBroker::Stub> stub_;
  std::vector<ExpectedAudit> expected_audit_;
  std::vector<std::string> dek_plaintexts_;
};

TempDir* AzureObservabilityTest::dir_ = nullptr;
KeyVaultEmulator* AzureObservabilityTest::emulator_ = nullptr;

TEST_F(AzureObservabilityTest, TrafficIsCountedAsKeyVaultSeesIt) {
  PrometheusScrape start = Scrape();
  EXPECT_GE(start.Sum("keybroker_token_refreshes_total", {{"outcome", "OK"}}), 1)
      << "the start-up key checks fetched a token";
  EXPECT_EQ(Gauge(start, "keybroker_keys_configured", {{"management", "customer"}}), 2);
  EXPECT_EQ(Gauge(start, "keybroker_keys_configured", {{"management", "service"}}), 0);
  EXPECT_EQ(Gauge(start, "keybroker_key_accessible", {{"alias", kVaultAlias}}), 1);
  EXPECT_EQ(Gauge(start, "keybroker_key_accessible", {{"alias", kHsmAlias}}), 1);
  for (const char* reason : {"KEY_NOT_ACCESSIBLE", "KEY_DISABLED", "KEY_NOT_FOUND"}) {
    EXPECT_EQ(Gauge(start, "keybroker_keys_inaccessible", {{"reason", reason}}), 0) << reason;
  }

  std::vector<v1::GenerateDekResponse> deks = FreshDeks(kVaultAlias, 3);
  std::vector<v1::GenerateDekResponse> hsm_deks = FreshDeks(kHsmAlias, 1);
  for (const auto& dek : deks) ASSERT_TRUE(Unwrap(kVaultAlias, dek).ok());  // cold
  ASSERT_TRUE(Unwrap(kHsmAlias, hsm_deks[0]).ok());                         // cold
  PrometheusScrape cold = Scrape();
  for (const auto& dek : deks) ASSERT_TRUE(Unwrap(kVaultAlias, dek).ok());  // warm
  PrometheusScrape warm = Scrape();

  // Each cold Unwrap is one unwrapkey request, as the vault counted; a warm
  // one makes none and is an unwrap cache hit.
  EXPECT_EQ(KmsRequests(cold, "azure_key_vault", "unwrapkey", "OK"), 3);
  EXPECT_EQ(KmsRequests(cold, "azure_managed_hsm", "unwrapkey", "OK"), 1);
  EXPECT_EQ(emulator_->Count("kv1", "unwrapkey"), 3);
  EXPECT_EQ(KmsRequests(warm, "azure_key_vault", "unwrapkey", "OK"), 3);
  EXPECT_EQ(emulator_->Count("kv1", "unwrapkey"), 3);
  auto unwrap_cache = [](const PrometheusScrape& s, const char* result) {
    return s.Sum("keybroker_cache_lookups_total", {{"cache", "unwrap"}, {"result", result}});
  };
  EXPECT_EQ(unwrap_cache(cold, "miss") - unwrap_cache(start, "miss"), 4);
  EXPECT_EQ(unwrap_cache(cold, "hit") - unwrap_cache(start, "hit"), 0);
  EXPECT_EQ(unwrap_cache(warm, "hit") - unwrap_cache(cold, "hit"), 3);
  EXPECT_EQ(unwrap_cache(warm, "miss"), unwrap_cache(cold, "miss"));

  // The key metadata reads (start-up checks, GenerateDek past the TTL): one
  // counted request per request the vault saw.
  EXPECT_GE(KmsRequests(warm, "azure_key_vault", "get_key", "OK"), 1);
  EXPECT_EQ(KmsRequests(warm, "azure_key_vault", "get_key", "OK"), emulator_->Count("kv1", "get_key"));
  EXPECT_EQ(KmsRequests(warm, "azure_managed_hsm", "get_key", "OK"),
            emulator_->Count("hsm1", "get_key"));
  EXPECT_EQ(warm.Sum(kKmsRequests, {}) - warm.Sum(kKmsRequests, {{"outcome", "OK"}}), 0)
      << "no request failed";
  EXPECT_EQ(warm.Sum("keybroker_token_refreshes_total", {{"outcome", "OK"}}),
            emulator_->Count("entra", "token"));
  EXPECT_EQ(warm.Sum("keybroker_token_refreshes_total", {}),
            warm.Sum("keybroker_token_refreshes_total", {{"outcome", "OK"}}));

  PrometheusLabels ok = {{"code", "OK"}, {"reason", "none"}, {"cause", "none"}};
  PrometheusLabels generate = ok, unwrap = ok;
  generate["method"] = "GenerateDek";
  unwrap["method"] = "Unwrap";
  EXPECT_EQ(warm.Find(kRpcs, generate), 4);
  EXPECT_EQ(warm.Find(kRpcs, unwrap), 7);
  EXPECT_EQ(warm.Sum(kRpcs), 11) << "nothing else was counted";
  EXPECT_EQ(warm.Find("keybroker_rpc_duration_seconds_count", {{"method", "Unwrap"}, {"code", "OK"}}),
            7);
  EXPECT_EQ(Gauge(warm, "keybroker_rpcs_in_flight", {{"method", "Unwrap"}}), 0);
}

TEST_F(AzureObservabilityTest, RevokedKeyIsDiagnosedAsTheCustomersAndRestoredKeyRecovers) {
  // Made while access lasts, never unwrapped: not in the unwrap cache, so
  // the first Unwrap after the revocation asks the vault and is refused at
  // once (well within the revocation bound).
  std::vector<v1::GenerateDekResponse> fresh = FreshDeks(kVaultAlias, 2);
  PrometheusScrape before = Scrape();

  ASSERT_OK(emulator_->Control("clear-requests", Json::object()));  // the vault's responses from now
  ASSERT_OK(emulator_->Control("revoke", {{"host", "kv1"}, {"client_id", kAzureClientId}}));
  struct Restore {
    ~Restore() { (void)emulator_->Control("grant", {{"host", "kv1"}, {"client_id", kAzureClientId}}); }
  } restore;
  grpc::Status denied = Unwrap(kVaultAlias, fresh[0]);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED) << denied.error_message();
  EXPECT_EQ(GrpcReasonOf(denied), "KEY_NOT_ACCESSIBLE");
  grpc::Status again = Unwrap(kVaultAlias, fresh[1]);
  EXPECT_EQ(GrpcReasonOf(again), "KEY_NOT_ACCESSIBLE");

  // One diagnostic line, however many calls fail.
  ASSERT_TRUE(broker_->WaitForLogLine("customer_key_inaccessible", absl::Seconds(5)));
  std::vector<Json> inaccessible = Events("customer_key_inaccessible");
  ASSERT_EQ(inaccessible.size(), 1u);
  const Json& line = inaccessible[0];
  SCOPED_TRACE(line.dump());
  EXPECT_EQ(line.value("level", ""), "warn");
  EXPECT_EQ(line.value("alias", ""), kVaultAlias);
  EXPECT_EQ(line.value("key_id", ""), emulator_->Url("kv1") + "/keys/" + kVaultAlias);
  EXPECT_EQ(line.value("version", ""), fresh[0].key_version());
  EXPECT_EQ(line.value("reason", ""), "KEY_NOT_ACCESSIBLE");
  EXPECT_EQ(line.value("cause", ""), "customer");
  // The request id is the x-ms-request-id the vault sent with its first
  // refusal (401/403) of a request on the key, as the emulator logged it.
  absl::StatusOr<std::vector<EmulatorResponse>> responses = emulator_->Responses();
  ASSERT_OK(responses);
  std::vector<EmulatorResponse> refused;
  std::string sent;  // every response since the revocation, for failure messages
  for (const EmulatorResponse& response : *responses) {
    absl::StrAppend(&sent, "\n  ", response.host, " ", response.method, " ", response.path, " ",
                    response.status, " ", response.request_id);
    bool on_key = response.path == absl::StrCat("/keys/", kVaultAlias) ||
                  absl::StartsWith(response.path, absl::StrCat("/keys/", kVaultAlias, "/"));
    if (response.host == "kv1" && on_key && (response.status == 401 || response.status == 403)) {
      refused.push_back(response);
    }
  }
  ASSERT_FALSE(refused.empty()) << "the vault refused nothing on the key; it sent:" << sent;
  EXPECT_EQ(line.value("kms_request_id", ""), refused[0].request_id)
      << "not the id of the vault's first refusal; it sent:" << sent;
  EXPECT_THAT(denied.error_message(), HasSubstr(refused[0].request_id))
      << "the caller's error names the same Key Vault request";

  PrometheusScrape during = Scrape();
  EXPECT_EQ(Gauge(during, "keybroker_keys_inaccessible", {{"reason", "KEY_NOT_ACCESSIBLE"}}), 1);
  EXPECT_EQ(Gauge(during, "keybroker_key_accessible", {{"alias", kVaultAlias}}), 0);
  EXPECT_EQ(Gauge(during, "keybroker_key_accessible", {{"alias", kHsmAlias}}), 1);
  EXPECT_EQ(during.Find(kRpcs, {{"method", "Unwrap"},
                                {"code", "PERMISSION_DENIED"},
                                {"reason", "KEY_NOT_ACCESSIBLE"},
                                {"cause", "customer"}}),
            2);
  EXPECT_EQ(during.Sum(kRpcs, {{"cause", "service"}}), before.Sum(kRpcs, {{"cause", "service"}}))
      << "a customer's revoked key is not the service's fault";
  EXPECT_EQ(KmsRequests(during, "azure_key_vault", "unwrapkey", "KEY_NOT_ACCESSIBLE"), 2);
  EXPECT_EQ(ProbeStatus("/readyz"), 200) << "one customer's key never makes the broker unready";
  EXPECT_EQ(ProbeStatus("/healthz"), 200);

  ASSERT_OK(emulator_->Control("grant", {{"host", "kv1"}, {"client_id", kAzureClientId}}));
  grpc::Status restored = Unwrap(kVaultAlias, fresh[1]);  // refused before: nothing lost
  EXPECT_TRUE(restored.ok()) << restored.error_message();
  ASSERT_TRUE(broker_->WaitForLogLine("customer_key_recovered", absl::Seconds(5)));
  std::vector<Json> recovered = Events("customer_key_recovered");
  ASSERT_EQ(recovered.size(), 1u);
  EXPECT_EQ(recovered[0].value("alias", ""), kVaultAlias);
  EXPECT_EQ(recovered[0].value("key_id", ""), line.value("key_id", ""));
  EXPECT_EQ(recovered[0].value("previous_reason", ""), "KEY_NOT_ACCESSIBLE");
  EXPECT_EQ(recovered[0].value("cause", ""), "customer");
  PrometheusScrape after = Scrape();
  EXPECT_EQ(Gauge(after, "keybroker_keys_inaccessible", {{"reason", "KEY_NOT_ACCESSIBLE"}}), 0);
  EXPECT_EQ(Gauge(after, "keybroker_key_accessible", {{"alias", kVaultAlias}}), 1);
  EXPECT_EQ(Events("customer_key_inaccessible").size(), 1u);
}

// Key Vault refuses a caller in other words than RBAC's: an access policy
// without the permission, or a firewall that does not let the broker in
// (§7.2). Both are the customer's doing, like a removed role.
TEST_F(AzureObservabilityTest, AccessPolicyAndFirewallRefusalsAreTheCustomersToo) {
  struct Variant {
    std::string inner_code;
    std::vector<std::pair<std::string, Json>> refuse, restore;  // control calls
  };
  const std::vector<Variant> variants = {
      {"ForbiddenByPolicy",
       {{"set-host", {{"host", "kv1"}, {"permission_model", "access_policy"}}},
        {"revoke",
         {{"host", "kv1"}, {"client_id", kAzureClientId}, {"operations", {"unwrapkey"}}}}},
       {{"grant", {{"host", "kv1"}, {"client_id", kAzureClientId}}},
        {"set-host", {{"host", "kv1"}, {"permission_model", "rbac"}}}}},
      {"ForbiddenByFirewall",
       {{"set-host", {{"host", "kv1"}, {"firewall_deny", true}}}},
       {{"set-host", {{"host", "kv1"}, {"firewall_deny", false}}}}},
      {"ForbiddenByFirewall",  // the same refusal injected, for one request path only
       {{"fault", {{"host", "kv1"}, {"status", 403}, {"forbidden", "firewall"}, {"count", -1},
                   {"path_contains", "unwrapkey"}}}},
       {{"clear-faults", Json::object()}}},
  };
  PrometheusScrape before = Scrape();
  for (const Variant& variant : variants) {
    SCOPED_TRACE(variant.inner_code);
    std::vector<v1::GenerateDekResponse> fresh = FreshDeks(kVaultAlias, 1);
    for (const auto& [endpoint, body] : variant.refuse) {
      ASSERT_OK(emulator_->Control(endpoint, body));
    }
    grpc::Status denied = Unwrap(kVaultAlias, fresh[0]);
    for (const auto& [endpoint, body] : variant.restore) {
      ASSERT_OK(emulator_->Control(endpoint, body));
    }
    EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED) << denied.error_message();
    EXPECT_EQ(GrpcReasonOf(denied), "KEY_NOT_ACCESSIBLE");
    EXPECT_THAT(denied.error_message(), HasSubstr("HTTP 403 Forbidden/" + variant.inner_code));
    grpc::Status restored = Unwrap(kVaultAlias, fresh[0]);  // nothing lost
    EXPECT_TRUE(restored.ok()) << restored.error_message();
  }
  PrometheusScrape after = Scrape();
  EXPECT_EQ(after.Find(kRpcs, {{"method", "Unwrap"},
                               {"code", "PERMISSION_DENIED"},
                               {"reason", "KEY_NOT_ACCESSIBLE"},
                               {"cause", "customer"}}),
            3);
  EXPECT_EQ(after.Sum(kRpcs, {{"cause", "service"}}), before.Sum(kRpcs, {{"cause", "service"}}));
  ASSERT_TRUE(broker_->WaitForLogLine("customer_key_inaccessible", absl::Seconds(5)));
  for (const Json& line : Events("customer_key_inaccessible")) {
    EXPECT_EQ(line.value("reason", ""), "KEY_NOT_ACCESSIBLE");
    EXPECT_EQ(line.value("cause", ""), "customer");
  }
  // The operator's log says which refusal it was (key_vault_errors.h).
  std::vector<std::string> inner_codes;
  for (const Json& line : Events("key_vault_error")) {
    inner_codes.push_back(line.value("inner_code", ""));
  }
  EXPECT_THAT(inner_codes, ::testing::IsSupersetOf({"ForbiddenByPolicy", "ForbiddenByFirewall"}));
}

TEST_F(AzureObservabilityTest, KeyVaultOutageIsTheServicesFaultNotTheKeys) {
  std::vector<v1::GenerateDekResponse> fresh = FreshDeks(kHsmAlias, 3);
  PrometheusScrape before = Scrape();
  ASSERT_OK(emulator_->Control(
      "fault", {{"host", "hsm1"}, {"status", 503}, {"count", -1}, {"path_contains", kHsmAlias}}));
  struct Clear {
    ~Clear() { (void)emulator_->Control("clear-faults", Json::object()); }
  } clear;
  for (int i = 0; i < 2; ++i) {
    grpc::Status status = Unwrap(kHsmAlias, fresh[i]);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    EXPECT_EQ(GrpcReasonOf(status), "KMS_UNAVAILABLE");
  }

  PrometheusScrape during = Scrape();
  EXPECT_EQ(during.Find(kRpcs, {{"method", "Unwrap"},
                                {"code", "UNAVAILABLE"},
                                {"reason", "KMS_UNAVAILABLE"},
                                {"cause", "service"}}),
            2);
  // One counted request per call, however many attempts the vault saw.
  EXPECT_EQ(KmsRequests(during, "azure_managed_hsm", "unwrapkey", "KMS_UNAVAILABLE") -
                KmsRequests(before, "azure_managed_hsm", "unwrapkey", "KMS_UNAVAILABLE"),
            2);
  EXPECT_GT(emulator_->Count("hsm1", "unwrapkey"), 2) << "the broker retried 503s";
  EXPECT_EQ(during.Sum(kRpcs, {{"cause", "customer"}}), 0);
  EXPECT_EQ(during.Sum("keybroker_keys_inaccessible"), 0) << "an outage says nothing of the key";
  EXPECT_EQ(Gauge(during, "keybroker_key_accessible", {{"alias", kHsmAlias}}), 1);
  EXPECT_EQ(ProbeStatus("/readyz"), 200);
  EXPECT_EQ(ProbeStatus("/healthz"), 200);

  ASSERT_OK(emulator_->Control("clear-faults", Json::object()));
  grpc::Status status = Unwrap(kHsmAlias, fresh[2]);
  EXPECT_TRUE(status.ok()) << status.error_message();
  absl::SleepFor(absl::Milliseconds(300));  // info lines are buffered
  EXPECT_TRUE(Events("customer_key_inaccessible").empty());
  EXPECT_TRUE(Events("customer_key_recovered").empty());
}

}  // namespace
}  // namespace keybroker::testing
