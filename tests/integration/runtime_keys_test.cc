// Customer keys named at run time (issue 13, part 1), against the Key Vault
// emulator: a broker configured with a key source and no `keys:` entry uses
// a key created in the vault after it started, by its URI, without a
// restart; refuses URIs on hosts no source covers without sending anything
// there; reports a key it cannot reach as inaccessible; keeps at most
// max_runtime_keys of them (a dropped one comes back on demand); tells the
// last use of each of their versions on DescribeKey by URI; never puts a URI
// in a metric label; and decides authorization rules on key URIs.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/azure_broker_suite.h"
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

using ::testing::MatchesRegex;
using Json = nlohmann::json;

constexpr int kMaxRuntimeKeys = 2;

class RuntimeKeysTest : public AzureBrokerSuite<RuntimeKeysTest> {
 protected:
  static void SetUpTestSuite() {
    StartEmulator("runtime-secret");
    StartBroker(RuntimeKeysConfig("metrics_listen: 127.0.0.1:0\n"), "metrics_listening");
  }

  // A broker whose only key source is kv1: hsm1 is a vault the identity
  // could reach, but no source names it. `more_settings` are top-level lines.
  static std::string RuntimeKeysConfig(const std::string& more_settings) {
    AzureBrokerConfigOptions options;
    options.kv_ca_file = emulator_->ca_file();
    options.secrets_dir = dir_->path();
    options.more_settings = more_settings;
    options.more_azure =
        absl::StrCat("    key_sources:\n      - vaults: [\"", Host("kv1"),
                     "\"]\n        identity: app\n    max_runtime_keys: ", kMaxRuntimeKeys, "\n");
    return AzureBrokerConfig(*emulator_, options);
  }

  void SetUp() override {
    AzureBrokerSuite::SetUp();
    ASSERT_OK(emulator_->Control("grant", {{"host", "kv1"}, {"client_id", kAzureClientId}}));
  }

  // "127.0.0.1:PORT" of the emulator's `name`.
  static std::string Host(const std::string& name) {
    return std::string(absl::StripPrefix(emulator_->Url(name), "https://"));
  }
  static std::string KeyUri(const std::string& host, const std::string& name) {
    return absl::StrCat(emulator_->Url(host), "/keys/", name);
  }
  // Creates an RSA key in the vault, after the broker started.
  static void CreateKey(const std::string& host, const std::string& name) {
    ASSERT_OK(emulator_->Control("create-key",
                                 {{"host", host}, {"name", name}, {"kty", "RSA"}, {"size", 2048}}));
  }

  // Unwraps `dek`'s EDEK and checks it gives back its plaintext.
  void ExpectUnwraps(const v1::GenerateDekResponse& dek) {
    v1::UnwrapRequest request;
    request.set_edek(dek.edek());
    (*request.mutable_context())["tenant"] = "acme";
    v1::UnwrapResponse response;
    grpc::Status status = stub_->Unwrap(Ctx(kRpcDeadline).get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.plaintext(), dek.plaintext());
    EXPECT_EQ(response.key_version(), dek.key_version());
  }
  // The vault responses `host` gave so far.
  static size_t ResponsesOf(const std::string& host) {
    absl::StatusOr<std::vector<EmulatorResponse>> responses = emulator_->Responses();
    EXPECT_OK(responses);
    if (!responses.ok()) return 0;
    size_t count = 0;
    for (const EmulatorResponse& response : *responses) count += response.host == host ? 1 : 0;
    return count;
  }
};

TEST_F(RuntimeKeysTest, AKeyCreatedAfterStartIsDescribedByItsUri) {
  CreateKey("kv1", "tenant-a");
  v1::DescribeKeyResponse response;
  grpc::Status status = DescribeKey(KeyUri("kv1", "tenant-a"), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.accessible()) << response.reason();
  EXPECT_EQ(response.kms(), "azure_key_vault");
  EXPECT_EQ(response.algorithm(), "RSA-OAEP-256");
  EXPECT_TRUE(response.customer_managed());
  EXPECT_THAT(response.key_version(), MatchesRegex("[0-9a-f]{32}"));
}

TEST_F(RuntimeKeysTest, GenerateDekByUriAndUnwrapItsEdek) {
  CreateKey("kv1", "tenant-b");
  v1::GenerateDekResponse dek;
  grpc::Status status = GenerateDek(KeyUri("kv1", "tenant-b"), &dek);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(dek.plaintext().size(), 32u);
  ExpectUnwraps(dek);
  // The same key written with another case is the same key.
  std::string upper = absl::StrCat(emulator_->Url("kv1"), "/keys/TENANT-B");
  v1::GenerateDekResponse again;
  status = GenerateDek(upper, &again);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(again.key_version(), dek.key_version());
  ExpectUnwraps(again);
}

TEST_F(RuntimeKeysTest, AUriOnAHostNoSourceCoversIsKeyNotFoundAndSendsNothing) {
  CreateKey("hsm1", "elsewhere");
  const size_t before = ResponsesOf("hsm1");
  v1::DescribeKeyResponse described;
  grpc::Status status = DescribeKey(KeyUri("hsm1", "elsewhere"), &described);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  EXPECT_EQ(GrpcReasonOf(status), "KEY_NOT_FOUND");
  v1::GenerateDekResponse dek;
  status = GenerateDek(KeyUri("hsm1", "elsewhere"), &dek);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  EXPECT_EQ(GrpcReasonOf(status), "KEY_NOT_FOUND");
  EXPECT_EQ(ResponsesOf("hsm1"), before) << "nothing may be sent to a host no source covers";
}

TEST_F(RuntimeKeysTest, AMalformedUriIsAnInvalidRequest) {
  v1::GenerateDekResponse dek;
  grpc::Status status = GenerateDek(absl::StrCat(emulator_->Url("kv1"), "/secrets/x"), &dek);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(GrpcReasonOf(status), "INVALID_REQUEST");
}

TEST_F(RuntimeKeysTest, AKeyTheIdentityCannotReachIsDescribedInaccessible) {
  CreateKey("kv1", "tenant-revoked");
  ASSERT_OK(emulator_->Control("revoke", {{"host", "kv1"}, {"client_id", kAzureClientId}}));
  v1::DescribeKeyResponse response;
  grpc::Status status = DescribeKey(KeyUri("kv1", "tenant-revoked"), &response);
  ASSERT_OK(emulator_->Control("grant", {{"host", "kv1"}, {"client_id", kAzureClientId}}));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.accessible());
  EXPECT_EQ(response.reason(), "KEY_NOT_ACCESSIBLE");
  // Access given back: accessible at once (DescribeKey asks the vault).
  status = DescribeKey(KeyUri("kv1", "tenant-revoked"), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.accessible()) << response.reason();
}

TEST_F(RuntimeKeysTest, MoreKeysThanTheBoundAllKeepWorking) {
  std::vector<v1::GenerateDekResponse> deks;
  for (const char* name : {"lru-1", "lru-2", "lru-3"}) {
    CreateKey("kv1", name);
    v1::GenerateDekResponse dek;
    grpc::Status status = GenerateDek(KeyUri("kv1", name), &dek);
    ASSERT_TRUE(status.ok()) << name << ": " << status.error_message();
    deks.push_back(dek);
  }
  // lru-1 was dropped for lru-3: each comes back when used.
  for (const v1::GenerateDekResponse& dek : deks) ExpectUnwraps(dek);
  for (const char* name : {"lru-1", "lru-2", "lru-3"}) {
    v1::GenerateDekResponse dek;
    grpc::Status status = GenerateDek(KeyUri("kv1", name), &dek);
    ASSERT_TRUE(status.ok()) << name << ": " << status.error_message();
    ExpectUnwraps(dek);
  }
}

TEST_F(RuntimeKeysTest, DescribeKeyOnTheUriTellsTheLastUseOfEachVersion) {
  const int64_t start = absl::ToUnixSeconds(absl::Now());
  CreateKey("kv1", "tenant-inventory");
  const std::string uri = KeyUri("kv1", "tenant-inventory");
  v1::GenerateDekResponse dek;
  grpc::Status status = GenerateDek(uri, &dek);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ExpectUnwraps(dek);
  // The version the EDEK is under: listed by the vault, and used here.
  auto version_of = [&](const v1::DescribeKeyResponse& described) -> const v1::KeyVersionInfo* {
    for (const v1::KeyVersionInfo& version : described.versions()) {
      if (version.key_version() == dek.key_version()) return &version;
    }
    ADD_FAILURE() << "no version " << dek.key_version() << " in " << described.DebugString();
    return nullptr;
  };
  v1::DescribeKeyResponse described;
  status = DescribeKey(uri, &described);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::KeyVersionInfo* version = version_of(described);
  ASSERT_NE(version, nullptr);
  EXPECT_TRUE(version->listed());
  ASSERT_TRUE(version->has_last_used());
  EXPECT_GE(version->last_used().seconds(), start);
  EXPECT_LE(version->last_used().seconds(), absl::ToUnixSeconds(absl::Now()));

  // Two more keys drop it (kMaxRuntimeKeys), and its uses with it ...
  for (const char* name : {"inventory-2", "inventory-3"}) {
    CreateKey("kv1", name);
    v1::GenerateDekResponse other;
    status = GenerateDek(KeyUri("kv1", name), &other);
    ASSERT_TRUE(status.ok()) << name << ": " << status.error_message();
  }
  status = DescribeKey(uri, &described);
  ASSERT_TRUE(status.ok()) << status.error_message();
  version = version_of(described);
  ASSERT_NE(version, nullptr);
  EXPECT_FALSE(version->has_last_used()) << "dropped with the key";
  // ... and an Unwrap of its EDEK alone is a use again.
  ExpectUnwraps(dek);
  status = DescribeKey(uri, &described);
  ASSERT_TRUE(status.ok()) << status.error_message();
  version = version_of(described);
  ASSERT_NE(version, nullptr);
  EXPECT_TRUE(version->has_last_used());
}

TEST_F(RuntimeKeysTest, NoMetricLabelCarriesAUri) {
  CreateKey("kv1", "tenant-metrics");
  v1::GenerateDekResponse dek;
  ASSERT_TRUE(GenerateDek(KeyUri("kv1", "tenant-metrics"), &dek).ok());
  ExpectUnwraps(dek);
  std::string address;
  for (const std::string& line : broker_->Lines()) {
    Json json = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (json.is_object() && json.value("event", "") == "metrics_listening") {
      address = json["address"];
    }
  }
  ASSERT_FALSE(address.empty());
  absl::StatusOr<HttpGetResponse> response = HttpGet(address, "/metrics");
  ASSERT_OK(response);
  absl::StatusOr<PrometheusScrape> scrape = PrometheusScrape::Parse(response->body);
  ASSERT_OK(scrape);
  EXPECT_GT(scrape->Sum("keybroker_rpc_requests_total"), 0);
  for (const PrometheusSample& sample : scrape->samples()) {
    for (const auto& [name, value] : sample.labels) {
      EXPECT_FALSE(absl::StrContains(value, "https://") || absl::StrContains(value, "/keys/") ||
                   absl::StrContains(value, Host("kv1")))
          << ToString(sample);
    }
  }
}

TEST_F(RuntimeKeysTest, AuthorizationRulesMatchKeyUrisForKeysAndEdeks) {
  CreateKey("kv1", "tenant-auth");
  CreateKey("kv1", "other-auth");
  // An EDEK under a key the rules below do not cover, made by the broker
  // without rules.
  v1::GenerateDekResponse other;
  ASSERT_TRUE(GenerateDek(KeyUri("kv1", "other-auth"), &other).ok());

  WriteAll(dir_->File("ruled.yaml"),
           RuntimeKeysConfig("authorization:\n  rules:\n    - callers: [\"*\"]\n"
                             "      operations: [GenerateDek, Unwrap, DescribeKey]\n"
                             "      keys: [\"https://127.0.0.1:*/keys/tenant-*\"]\n"));
  auto ruled = BrokerProcess::Start({"--config", dir_->File("ruled.yaml")});
  ASSERT_OK(ruled);
  stub_ = NewStub((*ruled)->address());
  v1::GenerateDekResponse dek;
  grpc::Status status = GenerateDek(KeyUri("kv1", "tenant-auth"), &dek);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ExpectUnwraps(dek);  // decided on the URI of the EDEK's key
  // However the URI is written, and with a version.
  status = GenerateDek(absl::StrCat(emulator_->Url("kv1"), "/keys/TENANT-AUTH/", dek.key_version()),
                       &dek);
  EXPECT_TRUE(status.ok()) << status.error_message();

  status = GenerateDek(KeyUri("kv1", "other-auth"), &dek);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_EQ(GrpcReasonOf(status), "CALLER_NOT_AUTHORIZED");
  v1::UnwrapRequest request;
  request.set_edek(other.edek());
  (*request.mutable_context())["tenant"] = "acme";
  v1::UnwrapResponse response;
  status = stub_->Unwrap(Ctx(kRpcDeadline).get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_EQ(GrpcReasonOf(status), "CALLER_NOT_AUTHORIZED");
}

// A key URI that names a configured key is that key: it is decided on the
// key's alias, as the key's EDEKs are, so a rule for URIs does not reach a
// configured key its alias is not granted, and the alias's rule covers the
// key however it is named.
TEST_F(RuntimeKeysTest, AUriOfAConfiguredKeyIsDecidedOnItsAlias) {
  CreateKey("kv1", "configured-auth");
  auto config = [&](const std::string& rule_keys) {
    AzureBrokerConfigOptions options;
    options.kv_ca_file = emulator_->ca_file();
    options.secrets_dir = dir_->path();
    options.keys = AzureKeyConfig(*emulator_, "kek-configured", "kv1", "configured-auth", "app",
                                  /*managed_hsm=*/false);
    options.more_azure = absl::StrCat("    key_sources:\n      - vaults: [\"", Host("kv1"),
                                      "\"]\n        identity: app\n");
    options.more_settings = absl::StrCat(
        "authorization:\n  rules:\n    - callers: [\"*\"]\n"
        "      operations: [GenerateDek, Unwrap, DescribeKey]\n      keys: [\"",
        rule_keys, "\"]\n");
    return AzureBrokerConfig(*emulator_, options);
  };
  const std::string uri = KeyUri("kv1", "configured-auth");

  WriteAll(dir_->File("uris-only.yaml"), config("https://127.0.0.1:*/keys/*"));
  auto uris_only = BrokerProcess::Start({"--config", dir_->File("uris-only.yaml")});
  ASSERT_OK(uris_only);
  stub_ = NewStub((*uris_only)->address());
  v1::GenerateDekResponse dek;
  grpc::Status status = GenerateDek(uri, &dek);
  EXPECT_EQ(GrpcReasonOf(status), "CALLER_NOT_AUTHORIZED") << status.error_message();
  status = GenerateDek(absl::StrCat(uri, "/", "0123456789abcdef0123456789abcdef"), &dek);
  EXPECT_EQ(GrpcReasonOf(status), "CALLER_NOT_AUTHORIZED") << "with a version too";
  CreateKey("kv1", "runtime-auth");
  status = GenerateDek(KeyUri("kv1", "runtime-auth"), &dek);
  EXPECT_TRUE(status.ok()) << "a key no alias binds is still decided on its URI: "
                           << status.error_message();

  WriteAll(dir_->File("alias.yaml"), config("kek-configured"));
  auto alias = BrokerProcess::Start({"--config", dir_->File("alias.yaml")});
  ASSERT_OK(alias);
  stub_ = NewStub((*alias)->address());
  status = GenerateDek(uri, &dek);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ExpectUnwraps(dek);
}

}  // namespace
}  // namespace keybroker::testing
