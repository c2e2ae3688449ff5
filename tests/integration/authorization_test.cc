// Authorization through the real broker over mutual TLS: several client
// identities (a SPIFFE URI SAN, a DNS SAN, a subject CN), each allowed what
// its rules say and refused everything else, for every RPC; the policy
// reloaded from the changed file and on SIGHUP, a bad policy refused.
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/broker_process.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/integration/http_get.h"
#include "tests/integration/prometheus_text.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_certificates.h"

namespace keybroker::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kProxy[] = "proxy";        // URI SAN spiffe://.../ns/kafka/sa/proxy
constexpr char kAdmin[] = "admin";        // URI SAN spiffe://.../ns/ops/sa/keyadmin
constexpr char kFhir[] = "fhir";          // DNS SAN fhir-data.fhir.svc only
constexpr char kLegacy[] = "legacy";      // subject CN legacy-app only
constexpr char kStranger[] = "stranger";  // URI SAN in a namespace no rule names
constexpr char kSetup[] = "setup";        // the test's own helper: everything

constexpr char kRules[] = R"(authorization:
  rules:
    - callers: ["spiffe://cluster.local/ns/kafka/sa/*"]
      operations: [GenerateDek, Unwrap]
      keys: ["kek-*"]
      context: { tenant: "*" }
    - callers: ["spiffe://cluster.local/ns/ops/sa/keyadmin"]
      operations: [Rotate, DescribeKey]
      keys: ["*"]
    - callers: ["fhir-data.fhir.svc"]
      operations: ["*"]
      keys: ["tenant-*"]
    - callers: ["legacy-app"]
      operations: [DescribeKey]
      keys: ["kek-orders"]
    - callers: ["setup-helper"]
      operations: ["*", Rotate]
      keys: ["*"]
)";

enum class Rpc { kGenerateDek, kWrap, kUnwrap, kRotate, kRewrap, kDescribeKey };
constexpr Rpc kAllRpcs[] = {Rpc::kGenerateDek, Rpc::kWrap,   Rpc::kUnwrap,
                            Rpc::kRotate,      Rpc::kRewrap, Rpc::kDescribeKey};

const char* NameOf(Rpc rpc) {
  switch (rpc) {
    case Rpc::kGenerateDek: return "GenerateDek";
    case Rpc::kWrap: return "Wrap";
    case Rpc::kUnwrap: return "Unwrap";
    case Rpc::kRotate: return "Rotate";
    case Rpc::kRewrap: return "Rewrap";
    case Rpc::kDescribeKey: return "DescribeKey";
  }
  return "";
}

// What the rules above allow: the expectation written out independently of
// the broker's matcher.
bool Allowed(const std::string& who, Rpc rpc, const std::string& key) {
  auto starts = [&key](const char* prefix) { return key.rfind(prefix, 0) == 0; };
  if (who == kSetup) return true;
  if (who == kProxy) return (rpc == Rpc::kGenerateDek || rpc == Rpc::kUnwrap) && starts("kek-");
  if (who == kAdmin) return rpc == Rpc::kRotate || rpc == Rpc::kDescribeKey;
  if (who == kFhir) return rpc != Rpc::kRotate && starts("tenant-");
  if (who == kLegacy) return rpc == Rpc::kDescribeKey && key == "kek-orders";
  return false;
}

// Makes the server's certificate and one client certificate per identity.
bool MakeIdentities(const std::string& dir) {
  return MakeCertificates(dir, "ca", "server") && MakeCertificates(dir, "client-ca", "unused") &&
         MakeCertificates(dir, "other-ca", "other") &&
         MakeLeafCertificate(dir, "client-ca", kProxy, "proxy-cn",
                             "URI:spiffe://cluster.local/ns/kafka/sa/proxy,DNS:proxy.kafka.svc") &&
         MakeLeafCertificate(dir, "client-ca", kAdmin, "admin-cn",
                             "URI:spiffe://cluster.local/ns/ops/sa/keyadmin") &&
         MakeLeafCertificate(dir, "client-ca", kFhir, "fhir-cn", "DNS:fhir-data.fhir.svc") &&
         MakeLeafCertificate(dir, "client-ca", kLegacy, "legacy-app", "") &&
         MakeLeafCertificate(dir, "client-ca", kStranger, "stranger-cn",
                             "URI:spiffe://cluster.local/ns/other/sa/proxy") &&
         MakeLeafCertificate(dir, "client-ca", kSetup, "setup-helper", "");
}

std::string Config(const std::string& dir, const std::string& rules,
                   const std::string& extra_keys = "") {
  return "listen: 127.0.0.1:0\nmetrics_listen: 127.0.0.1:0\n"
         "tls:\n  cert_file: " + dir + "/server.crt\n  key_file: " + dir + "/server.key\n"
         "  client_ca_file: " + dir + "/client-ca.crt\n"
         "kms:\n  local:\n    keyring_file: " + dir + "/keyring\n"
         "    master_key_file: " + dir + "/master-key\n"
         "keys:\n  - alias: kek-orders\n    local_key: k-orders\n"
         "  - alias: tenant-a\n    local_key: k-tenant-a\n" + extra_keys + rules;
}

std::unique_ptr<v1::KeyBroker::Stub> StubAs(const std::string& address, const std::string& dir,
                                            const std::string& who) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadAll(dir + "/ca.crt");
  if (!who.empty()) {
    options.pem_cert_chain = ReadAll(dir + "/" + who + ".crt");
    options.pem_private_key = ReadAll(dir + "/" + who + ".key");
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  return v1::KeyBroker::NewStub(
      grpc::CreateCustomChannel(address, grpc::SslCredentials(options), args));
}

void SetTenant(google::protobuf::Map<std::string, std::string>* context) {
  (*context)["tenant"] = "acme";
}

class AuthorizationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ASSERT_TRUE(MakeIdentities(dir_->path()));
    std::ofstream(dir_->File("master-key")) << std::string(64, '7');
    WriteAll(dir_->File("config.yaml"), Config(dir_->path(), kRules));
    auto broker = BrokerProcess::Start({"--config", dir_->File("config.yaml")});
    ASSERT_OK(broker);
    broker_ = broker->release();
    auto setup = StubAs(broker_->address(), dir_->path(), kSetup);
    for (const char* key : {"kek-orders", "tenant-a"}) {
      v1::GenerateDekRequest request;
      request.set_key(key);
      SetTenant(request.mutable_context());
      v1::GenerateDekResponse response;
      grpc::Status status = setup->GenerateDek(Ctx().get(), request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      (*edeks_)[key] = response.edek();
    }
  }
  static void TearDownTestSuite() {
    delete broker_;
    delete dir_;
  }

  // Calls `rpc` on `key` as `who`; for Unwrap and Rewrap, on an EDEK of `key`.
  static grpc::Status Call(v1::KeyBroker::Stub& stub, Rpc rpc, const std::string& key) {
    auto context = Ctx();
    switch (rpc) {
      case Rpc::kGenerateDek: {
        v1::GenerateDekRequest request;
        request.set_key(key);
        SetTenant(request.mutable_context());
        v1::GenerateDekResponse response;
        return stub.GenerateDek(context.get(), request, &response);
      }
      case Rpc::kWrap: {
        v1::WrapRequest request;
        request.set_key(key);
        request.set_plaintext(std::string(32, 'k'));
        SetTenant(request.mutable_context());
        v1::WrapResponse response;
        return stub.Wrap(context.get(), request, &response);
      }
      case Rpc::kUnwrap: {
        v1::UnwrapRequest request;
        request.set_edek((*edeks_)[key]);
        SetTenant(request.mutable_context());
        v1::UnwrapResponse response;
        return stub.Unwrap(context.get(), request, &response);
      }
      case Rpc::kRotate: {
        v1::RotateRequest request;
        request.set_key(key);
        v1::RotateResponse response;
        return stub.Rotate(context.get(), request, &response);
      }
      case Rpc::kRewrap: {
        v1::RewrapRequest request;
        request.set_edek((*edeks_)[key]);
        SetTenant(request.mutable_context());
        v1::RewrapResponse response;
        return stub.Rewrap(context.get(), request, &response);
      }
      case Rpc::kDescribeKey: {
        v1::DescribeKeyRequest request;
        request.set_key(key);
        v1::DescribeKeyResponse response;
        return stub.DescribeKey(context.get(), request, &response);
      }
    }
    return grpc::Status::CANCELLED;
  }

  static void ExpectDenied(const grpc::Status& status, const std::string& what) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << what;
    EXPECT_EQ(GrpcReasonOf(status), "CALLER_NOT_AUTHORIZED") << what << ": "
                                                              << status.error_message();
  }

  static TempDir* dir_;
  static BrokerProcess* broker_;
  static std::map<std::string, std::string>* edeks_;
};

TempDir* AuthorizationTest::dir_ = nullptr;
BrokerProcess* AuthorizationTest::broker_ = nullptr;
std::map<std::string, std::string>* AuthorizationTest::edeks_ =
    new std::map<std::string, std::string>();

TEST_F(AuthorizationTest, EachIdentityCanDoExactlyWhatItsRulesAllow) {
  for (const char* who : {kProxy, kAdmin, kFhir, kLegacy, kStranger, kSetup}) {
    auto stub = StubAs(broker_->address(), dir_->path(), who);
    for (Rpc rpc : kAllRpcs) {
      for (const std::string key : {"kek-orders", "tenant-a"}) {
        const std::string what = absl::StrCat(who, " ", NameOf(rpc), " ", key);
        grpc::Status status = Call(*stub, rpc, key);
        if (Allowed(who, rpc, key)) {
          EXPECT_TRUE(status.ok()) << what << ": " << status.error_message();
        } else {
          ExpectDenied(status, what);
        }
      }
    }
  }
}

TEST_F(AuthorizationTest, AnAliasOutsideTheRulesIsRefusedWhetherOrNotItExists) {
  // The proxy may use kek-*: an unknown kek-* alias is the ordinary NOT_FOUND.
  auto proxy = StubAs(broker_->address(), dir_->path(), kProxy);
  grpc::Status status = Call(*proxy, Rpc::kGenerateDek, "kek-missing");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GrpcReasonOf(status), "KEY_NOT_FOUND");
  // Outside its rules, an alias that exists and one that does not answer
  // alike, so that other tenants' aliases cannot be probed.
  grpc::Status exists = Call(*proxy, Rpc::kGenerateDek, "tenant-a");
  grpc::Status missing = Call(*proxy, Rpc::kGenerateDek, "tenant-missing");
  ExpectDenied(exists, "existing alias");
  ExpectDenied(missing, "missing alias");
  EXPECT_EQ(absl::StrReplaceAll(exists.error_message(), {{"tenant-a", "X"}}),
            absl::StrReplaceAll(missing.error_message(), {{"tenant-missing", "X"}}));
}

TEST_F(AuthorizationTest, TheContextARuleNamesMustBeCarried) {
  auto proxy = StubAs(broker_->address(), dir_->path(), kProxy);
  v1::GenerateDekRequest request;
  request.set_key("kek-orders");
  (*request.mutable_context())["topic"] = "orders";
  v1::GenerateDekResponse response;
  ExpectDenied(proxy->GenerateDek(Ctx().get(), request, &response), "no tenant");
}

TEST_F(AuthorizationTest, CallersWithoutAClientCertificateAreRefused) {
  auto nobody = StubAs(broker_->address(), dir_->path(), "");
  EXPECT_EQ(Call(*nobody, Rpc::kDescribeKey, "kek-orders").error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // A certificate from a CA the broker does not trust is no identity.
  auto other = StubAs(broker_->address(), dir_->path(), "other");
  EXPECT_EQ(Call(*other, Rpc::kDescribeKey, "kek-orders").error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(AuthorizationTest, DenialsAreAuditedAndCountedByMethod) {
  auto stranger = StubAs(broker_->address(), dir_->path(), kStranger);
  ExpectDenied(Call(*stranger, Rpc::kUnwrap, "tenant-a"), "stranger unwrap");
  ASSERT_TRUE(broker_->WaitForLogLine("spiffe://cluster.local/ns/other/sa/proxy",
                                      absl::Seconds(5)));
  bool audited = false;
  for (const std::string& line : broker_->Lines()) {
    nlohmann::json json = nlohmann::json::parse(line, nullptr, false);
    if (!json.is_object() || json["event"] != "audit" || json["method"] != "Unwrap" ||
        json["caller"] != "spiffe://cluster.local/ns/other/sa/proxy") {
      continue;
    }
    audited = true;
    EXPECT_EQ(json["decision"], "deny") << line;
    EXPECT_GE(json["policy_generation"].get<int>(), 1) << line;
    EXPECT_EQ(json["reason"], "CALLER_NOT_AUTHORIZED") << line;
    EXPECT_EQ(json["alias"], "tenant-a") << "decided on the EDEK's alias: " << line;
  }
  EXPECT_TRUE(audited);

  absl::StatusOr<HttpGetResponse> metrics = HttpGet(broker_->MetricsAddress(), "/metrics");
  ASSERT_OK(metrics);
  absl::StatusOr<PrometheusScrape> scrape = PrometheusScrape::Parse(metrics->body);
  ASSERT_OK(scrape);
  EXPECT_GE(scrape->Find("keybroker_authorization_denied_total", {{"method", "Unwrap"}}).value_or(0),
            1);
  EXPECT_GE(scrape->Sum("keybroker_rpc_requests_total",
                        {{"reason", "CALLER_NOT_AUTHORIZED"}, {"cause", "client"}}),
            1);
}

// WatchKeys is decided as DescribeKey, but refused, audited and counted as
// WatchKeys.
TEST_F(AuthorizationTest, WatchDenialsAreAuditedAndCountedAsWatchKeys) {
  auto stranger = StubAs(broker_->address(), dir_->path(), kStranger);
  grpc::ClientContext context;
  auto reader = OpenWatch(stranger.get(), &context, {"tenant-a"});
  v1::KeyEvent event;
  EXPECT_FALSE(reader->Read(&event));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(GrpcReasonOf(status), "CALLER_NOT_AUTHORIZED");
  ASSERT_TRUE(broker_->WaitForLogLine("\"method\":\"WatchKeys\"", absl::Seconds(5)));
  bool audited = false;
  for (const std::string& line : broker_->Lines()) {
    nlohmann::json json = nlohmann::json::parse(line, nullptr, false);
    if (!json.is_object() || json["event"] != "audit" || json["method"] != "WatchKeys" ||
        json["caller"] != "spiffe://cluster.local/ns/other/sa/proxy") {
      continue;
    }
    audited = true;
    EXPECT_EQ(json["stream"], "open") << line;
    EXPECT_EQ(json["decision"], "deny") << line;
    EXPECT_GE(json["policy_generation"].get<int>(), 1) << line;
    EXPECT_EQ(json["reason"], "CALLER_NOT_AUTHORIZED") << line;
    EXPECT_EQ(json["keys"], nlohmann::json::array({"tenant-a"})) << line;
  }
  EXPECT_TRUE(audited);

  absl::StatusOr<HttpGetResponse> metrics = HttpGet(broker_->MetricsAddress(), "/metrics");
  ASSERT_OK(metrics);
  absl::StatusOr<PrometheusScrape> scrape = PrometheusScrape::Parse(metrics->body);
  ASSERT_OK(scrape);
  EXPECT_EQ(scrape->Find("keybroker_authorization_denied_total", {{"method", "WatchKeys"}}), 1);
  EXPECT_EQ(scrape->Find("keybroker_rpc_requests_total", {{"method", "WatchKeys"},
                                                          {"code", "PERMISSION_DENIED"},
                                                          {"reason", "CALLER_NOT_AUTHORIZED"},
                                                          {"cause", "client"}}),
            1);
}

// An EDEK whose key no alias binds is refused before any KMS call: local
// keys too, which the keyring could otherwise still read.
TEST(AuthorizationUnboundKeyTest, AnEdekOfAKeyNoAliasBindsIsRefused) {
  TempDir dir;
  ASSERT_TRUE(MakeIdentities(dir.path()));
  std::ofstream(dir.File("master-key")) << std::string(64, '7');
  WriteAll(dir.File("config.yaml"),
           Config(dir.path(), kRules, "  - alias: retired\n    local_key: k-retired\n"));
  std::string edek;
  {
    auto broker = BrokerProcess::Start({"--config", dir.File("config.yaml")});
    ASSERT_OK(broker);
    auto setup = StubAs((*broker)->address(), dir.path(), kSetup);
    v1::GenerateDekRequest request;
    request.set_key("retired");
    v1::GenerateDekResponse response;
    ASSERT_TRUE(setup->GenerateDek(Ctx().get(), request, &response).ok());
    edek = response.edek();
  }
  WriteAll(dir.File("config.yaml"), Config(dir.path(), kRules));
  auto broker = BrokerProcess::Start({"--config", dir.File("config.yaml")});
  ASSERT_OK(broker);
  auto setup = StubAs((*broker)->address(), dir.path(), kSetup);
  v1::UnwrapRequest request;
  request.set_edek(edek);
  v1::UnwrapResponse response;
  grpc::Status status = setup->Unwrap(Ctx().get(), request, &response);
  EXPECT_EQ(GrpcReasonOf(status), "CALLER_NOT_AUTHORIZED") << status.error_message();
  EXPECT_TRUE(response.plaintext().empty());
}

// A unix-socket caller is "unix"; a rule's rate limit answers
// RESOURCE_EXHAUSTED (RATE_LIMITED) with a retry delay.
TEST(AuthorizationUnixTest, AUnixCallerIsUnixAndRateLimitsApply) {
  TempDir dir;
  std::ofstream(dir.File("master-key")) << std::string(64, '7');
  const std::string socket = dir.File("kb.sock");
  WriteAll(dir.File("config.yaml"),
           "listen: unix:" + socket + "\n"
           "kms:\n  local:\n    keyring_file: " + dir.File("keyring") + "\n"
           "    master_key_file: " + dir.File("master-key") + "\n"
           "keys:\n  - alias: default\n    local_key: k\n"
           "  - alias: second\n    local_key: k2\n  - alias: third\n    local_key: k3\n"
           "authorization:\n  rules:\n"
           "    - callers: [unix]\n      operations: [DescribeKey]\n      keys: ['*']\n"
           "      rate_per_second: 1\n");
  auto broker = BrokerProcess::Start({"--config", dir.File("config.yaml")});
  ASSERT_OK(broker);
  auto stub = NewStub("unix:" + socket);
  auto describe = [&stub] {
    v1::DescribeKeyRequest request;
    request.set_key("default");
    v1::DescribeKeyResponse response;
    return stub->DescribeKey(Ctx().get(), request, &response);
  };
  v1::GenerateDekRequest generate;
  generate.set_key("default");
  v1::GenerateDekResponse dek;
  grpc::Status denied = stub->GenerateDek(Ctx().get(), generate, &dek);
  EXPECT_EQ(GrpcReasonOf(denied), "CALLER_NOT_AUTHORIZED");
  EXPECT_THAT(denied.error_message(), HasSubstr("'unix'"));

  {
    // A watch of every key is decided key by key (as DescribeKey) without
    // spending the caller's rate: all three keys, and a token left after.
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    auto reader = OpenWatch(stub.get(), &context, {});
    std::set<std::string> watched;
    v1::KeyEvent event;
    while (watched.size() < 3 && reader->Read(&event)) watched.insert(event.key());
    EXPECT_EQ(watched, (std::set<std::string>{"default", "second", "third"}));
    context.TryCancel();
    static_cast<void>(reader->Finish());
  }
  EXPECT_TRUE(describe().ok());
  grpc::Status limited = describe();  // within the same second: the bucket is empty
  EXPECT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(GrpcReasonOf(limited), "RATE_LIMITED");
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(limited.error_details()));
  bool has_retry_info = false;
  for (const auto& detail : details.details()) {
    google::rpc::RetryInfo retry;
    if (detail.UnpackTo(&retry)) has_retry_info = retry.retry_delay().nanos() > 0 ||
                                                  retry.retry_delay().seconds() > 0;
  }
  EXPECT_TRUE(has_retry_info);
  absl::SleepFor(absl::Milliseconds(1100));
  EXPECT_TRUE(describe().ok()) << "a token back after a second";
}

class AuthorizationReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeIdentities(dir_.path()));
    std::ofstream(dir_.File("master-key")) << std::string(64, '7');
    WriteAll(dir_.File("config.yaml"), Config(dir_.path(), kRules));
    auto broker = BrokerProcess::Start({"--config", dir_.File("config.yaml")});
    ASSERT_OK(broker);
    broker_ = *std::move(broker);
    stranger_ = StubAs(broker_->address(), dir_.path(), kStranger);
  }

  // Waits until the stranger's DescribeKey gives `code`.
  bool StrangerEventuallyGets(grpc::StatusCode code) {
    for (int i = 0; i < 100; ++i) {
      v1::DescribeKeyRequest request;
      request.set_key("tenant-a");
      v1::DescribeKeyResponse response;
      if (stranger_->DescribeKey(Ctx().get(), request, &response).error_code() == code) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<v1::KeyBroker::Stub> stranger_;
};

constexpr char kStrangerMayDescribe[] = R"(
    - callers: ["spiffe://cluster.local/ns/other/*"]
      operations: [DescribeKey]
      keys: ["tenant-*"]
)";

TEST_F(AuthorizationReloadTest, AChangedFileIsTakenWithoutARestart) {
  ASSERT_TRUE(StrangerEventuallyGets(grpc::StatusCode::PERMISSION_DENIED));
  WriteAll(dir_.File("config.yaml"), Config(dir_.path(), kRules + std::string(kStrangerMayDescribe)));
  EXPECT_TRUE(StrangerEventuallyGets(grpc::StatusCode::OK));
  EXPECT_TRUE(broker_->WaitForLogLine("authorization_reloaded", absl::Seconds(1)));
}

TEST_F(AuthorizationReloadTest, ABadPolicyIsRefusedAndTheOldOneStays) {
  WriteAll(dir_.File("config.yaml"),
           Config(dir_.path(), kRules + std::string(kStrangerMayDescribe)));
  ASSERT_TRUE(StrangerEventuallyGets(grpc::StatusCode::OK));
  std::string bad = Config(dir_.path(), kRules + std::string(R"(
    - callers: ["*"]
      operations: [Everything]
      keys: ["*"]
)"));
  WriteAll(dir_.File("config.yaml"), bad);
  ASSERT_TRUE(broker_->WaitForLogLine("authorization_reload_failed", absl::Seconds(10)));
  EXPECT_TRUE(broker_->WaitForLogLine("authorization.rules[5].operations", absl::Seconds(1)));
  EXPECT_TRUE(StrangerEventuallyGets(grpc::StatusCode::OK)) << "the policy in force stays";
}

// Deny-by-default is turned off only by a restart: a file that would leave
// no policy (the section deleted, the file emptied while being written, the
// section's name misspelt) is refused, and the rules in force stay.
TEST_F(AuthorizationReloadTest, AFileThatWouldDropThePolicyIsRefusedAndTheRulesStay) {
  ASSERT_TRUE(StrangerEventuallyGets(grpc::StatusCode::PERMISSION_DENIED));
  auto failures = [&] {
    int count = 0;
    for (const std::string& line : broker_->Lines()) {
      if (absl::StrContains(line, "authorization_reload_failed")) ++count;
    }
    return count;
  };
  auto eventually_failures = [&](int count) {
    for (int i = 0; i < 100 && failures() < count; ++i) absl::SleepFor(absl::Milliseconds(100));
    return failures() >= count;
  };
  WriteAll(dir_.File("config.yaml"), Config(dir_.path(), ""));
  ASSERT_TRUE(eventually_failures(1));
  EXPECT_TRUE(broker_->WaitForLogLine("deny-by-default off takes a restart", absl::Seconds(1)));
  WriteAll(dir_.File("config.yaml"), "");
  ASSERT_TRUE(eventually_failures(2));
  WriteAll(dir_.File("config.yaml"),
           Config(dir_.path(), "authorizaton:\n  rules: []\n"));
  ASSERT_TRUE(eventually_failures(3));
  EXPECT_TRUE(broker_->WaitForLogLine("authorizaton", absl::Seconds(1)));
  ASSERT_EQ(kill(broker_->pid(), SIGHUP), 0);  // a forced reload is judged the same way
  ASSERT_TRUE(eventually_failures(4));
  EXPECT_TRUE(StrangerEventuallyGets(grpc::StatusCode::PERMISSION_DENIED));
  for (const std::string& line : broker_->Lines()) {
    EXPECT_FALSE(absl::StrContains(line, "every caller may use every key")) << line;
  }
}

TEST_F(AuthorizationReloadTest, SighupReloads) {
  // Written in place without a content change the poller would see first:
  // SIGHUP forces the reload even of an unchanged file.
  ASSERT_EQ(kill(broker_->pid(), SIGHUP), 0);
  ASSERT_TRUE(broker_->WaitForLogLine("\"trigger\":\"signal\"", absl::Seconds(10)));
  EXPECT_TRUE(StrangerEventuallyGets(grpc::StatusCode::PERMISSION_DENIED)) << "still serving";
}

}  // namespace
}  // namespace keybroker::testing
