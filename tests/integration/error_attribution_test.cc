// Whose fault a failure is, through the real broker binary against the Key
// Vault / Entra ID emulator over TLS: a few rows of the table that
// tests/unit/server/key_broker_service_errors_test.cc pins with a fake
// network, here with the real transport, the real process and its log. The
// broker's own credential refused by Entra and an untrusted vault
// certificate are the service's (they alert); a revoked key is the
// customer's; a caller's deadline and a Rotate of a pinned key are the
// caller's. Only the customer's own action is ever logged as
// `customer_key_inaccessible`.
#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/azure_broker_config.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/integration/keyvault_emulator_process.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

constexpr char kSecret[] = "the right secret";

// What a row's broker is configured with.
enum class Setup { kGood, kWrongSecret, kUntrustedVault };

// What a row does to the emulator before its call (after the broker made
// an EDEK), and undoes after.
enum class Fault { kNone, kRevoke, kSlowUnwrap };

enum class Call { kGenerateDek, kUnwrapFresh, kUnwrapFreshWithin1500ms, kRotatePinned };

struct Row {
  std::string name;
  Setup setup;
  Fault fault;
  Call call;
  grpc::StatusCode code;
  std::string reason;
  std::string cause;
  bool customer_key_inaccessible;  // the diagnostic for the customer's own action
  std::string message_has = "";
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

class ErrorAttributionTest : public ::testing::TestWithParam<Row> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto emulator = StartEmulatorWithSecretPrincipal(dir_->path(), kSecret);
    ASSERT_OK(emulator);
    emulator_ = emulator->release();
    for (const char* name : {"cmk", "cmk-pinned"}) {
      absl::StatusOr<Json> created = emulator_->Control(
          "create-key", {{"host", "kv1"}, {"name", name}, {"kty", "RSA"}, {"size", 2048}});
      ASSERT_OK(created);
      if (std::string(name) == "cmk-pinned") {
        std::string kid = (*created)["key"]["kid"];
        pinned_version_ = new std::string(kid.substr(kid.rfind('/') + 1));
      }
    }
    ASSERT_EQ(::mkdir(dir_->File("wrong").c_str(), 0700), 0);
    WriteAll(dir_->File("wrong/client-id"), std::string(kAzureClientId) + "\n");
    WriteAll(dir_->File("wrong/client-secret"), "a secret Entra does not know\n");
  }

  static void TearDownTestSuite() {
    delete emulator_;
    delete pinned_version_;
    delete dir_;
  }

  void SetUp() override {
    const Row& row = GetParam();
    AzureBrokerConfigOptions options;
    options.kv_ca_file = row.setup == Setup::kUntrustedVault ? emulator_->entra_ca_file()
                                                             : emulator_->ca_file();
    options.secrets_dir = row.setup == Setup::kWrongSecret ? dir_->File("wrong") : dir_->path();
    options.more_settings = "audit_log: true\n";
    options.keys = absl::StrCat(
        AzureKeyConfig(*emulator_, "tenant-a", "kv1", "cmk", "app", false),
        AzureKeyConfig(*emulator_, "pinned", "kv1", absl::StrCat("cmk-pinned/", *pinned_version_),
                       "app", false));
    TempDir& dir = config_dir_;
    WriteAll(dir.File("keybroker.yaml"), AzureBrokerConfig(*emulator_, options));
    auto broker = BrokerProcess::Start({"--config", dir.File("keybroker.yaml")});
    ASSERT_OK(broker);
    broker_ = *std::move(broker);
    // Its start-up key checks have run (and failed, for a broken setup):
    // what they logged is part of what the row checks.
    ASSERT_TRUE(broker_->WaitForLogLine("key_checks_done", absl::Seconds(60)));
    stub_ = NewStub(broker_->address());
  }

  void TearDown() override {
    (void)emulator_->Control("clear-faults", Json::object());
    (void)emulator_->Control("grant", {{"host", "kv1"}, {"client_id", kAzureClientId}});
  }

  grpc::Status GenerateDek(v1::GenerateDekResponse* response) {
    v1::GenerateDekRequest request;
    request.set_key("tenant-a");
    (*request.mutable_context())["tenant"] = "acme";
    return stub_->GenerateDek(Ctx().get(), request, response);
  }

  grpc::Status Make(Call call, const std::string& edek) {
    v1::UnwrapRequest unwrap;
    unwrap.set_edek(edek);
    (*unwrap.mutable_context())["tenant"] = "acme";
    v1::UnwrapResponse unwrapped;
    switch (call) {
      case Call::kGenerateDek: {
        v1::GenerateDekResponse response;
        return GenerateDek(&response);
      }
      case Call::kUnwrapFresh:
        return stub_->Unwrap(Ctx().get(), unwrap, &unwrapped);
      case Call::kUnwrapFreshWithin1500ms: {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1500));
        return stub_->Unwrap(&context, unwrap, &unwrapped);
      }
      case Call::kRotatePinned: {
        v1::RotateRequest request;
        request.set_key("pinned");
        v1::RotateResponse response;
        return stub_->Rotate(Ctx().get(), request, &response);
      }
    }
    return grpc::Status(grpc::StatusCode::UNKNOWN, "no such call");
  }

  std::vector<Json> Events(const std::string& event) {
    std::vector<Json> found;
    for (const std::string& line : broker_->Lines()) {
      Json json = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (json.is_object() && json.value("event", "") == event) found.push_back(json);
    }
    return found;
  }

  // The audit line of the last call of `method`, once the broker wrote it.
  std::optional<Json> LastAudit(const std::string& method, size_t at_least) {
    for (absl::Time end = absl::Now() + absl::Seconds(15); absl::Now() < end;
         absl::SleepFor(absl::Milliseconds(50))) {
      std::vector<Json> audit;
      for (const Json& line : Events("audit")) {
        if (line.value("method", "") == method) audit.push_back(line);
      }
      if (audit.size() >= at_least) return audit.back();
    }
    return std::nullopt;
  }

  static TempDir* dir_;
  static KeyVaultEmulator* emulator_;
  static std::string* pinned_version_;
  TempDir config_dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<v1::KeyBroker::Stub> stub_;
};

TempDir* ErrorAttributionTest::dir_ = nullptr;
KeyVaultEmulator* ErrorAttributionTest::emulator_ = nullptr;
std::string* ErrorAttributionTest::pinned_version_ = nullptr;

std::string MethodOf(Call call) {
  switch (call) {
    case Call::kGenerateDek: return "GenerateDek";
    case Call::kRotatePinned: return "Rotate";
    default: return "Unwrap";
  }
}

TEST_P(ErrorAttributionTest, TheBrokerBlamesWhoCausedIt) {
  const Row& row = GetParam();
  std::string edek;
  if (row.call == Call::kUnwrapFresh || row.call == Call::kUnwrapFreshWithin1500ms) {
    v1::GenerateDekResponse dek;  // never unwrapped: no cache answers for the vault
    grpc::Status made = GenerateDek(&dek);
    ASSERT_TRUE(made.ok()) << made.error_message();
    edek = dek.edek();
  }
  switch (row.fault) {
    case Fault::kNone: break;
    case Fault::kRevoke:
      ASSERT_OK(emulator_->Control("revoke", {{"host", "kv1"}, {"client_id", kAzureClientId}}));
      break;
    case Fault::kSlowUnwrap:
      ASSERT_OK(emulator_->Control("latency", {{"host", "kv1"},
                                               {"ms", 5000},
                                               {"count", 1},
                                               {"path_contains", "unwrapkey"}}));
      break;
  }

  grpc::Status status = Make(row.call, edek);
  EXPECT_EQ(status.error_code(), row.code) << status.error_message();
  if (row.code != grpc::StatusCode::DEADLINE_EXCEEDED) {
    EXPECT_EQ(GrpcReasonOf(status), row.reason);  // a caller past its deadline hears gRPC's own
  }
  if (!row.message_has.empty()) EXPECT_THAT(status.error_message(), HasSubstr(row.message_has));

  std::optional<Json> audit = LastAudit(MethodOf(row.call), 1);
  ASSERT_TRUE(audit.has_value());
  EXPECT_EQ((*audit)["reason"], row.reason);
  EXPECT_EQ((*audit)["cause"], row.cause);
  EXPECT_EQ(Events("customer_key_inaccessible").empty(), !row.customer_key_inaccessible);
  if (row.setup == Setup::kWrongSecret) {
    // One line for the operator, naming the identity, however many calls.
    std::vector<Json> failed = Events("entra_token_failed");
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0]["identity"], "app");
    EXPECT_EQ(failed[0]["cause"], "service");
    EXPECT_THAT(failed[0]["error"].get<std::string>(), HasSubstr("AADSTS7000215"));
    // Provisioning is told the service failed, not that the key is gone.
    v1::DescribeKeyRequest describe;
    describe.set_key("tenant-a");
    v1::DescribeKeyResponse described;
    grpc::Status described_status = stub_->DescribeKey(Ctx().get(), describe, &described);
    EXPECT_EQ(described_status.error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  if (row.cause == "service") {
    EXPECT_THAT(status.error_message(), Not(HasSubstr("not accessible")));
  }
}

INSTANTIATE_TEST_SUITE_P(
    ThroughTheBinary, ErrorAttributionTest,
    ::testing::Values(
        Row{"WrongClientSecret", Setup::kWrongSecret, Fault::kNone, Call::kGenerateDek,
            grpc::StatusCode::UNAVAILABLE, "KMS_UNAVAILABLE", "service", false,
            "entra identity 'app'"},
        Row{"UntrustedVaultCertificate", Setup::kUntrustedVault, Fault::kNone,
            Call::kGenerateDek, grpc::StatusCode::UNAVAILABLE, "KMS_UNAVAILABLE", "service",
            false},
        Row{"RevokedByTheCustomer", Setup::kGood, Fault::kRevoke, Call::kUnwrapFresh,
            grpc::StatusCode::PERMISSION_DENIED, "KEY_NOT_ACCESSIBLE", "customer", true,
            "ForbiddenByRbac"},
        Row{"TheCallersDeadline", Setup::kGood, Fault::kSlowUnwrap, Call::kUnwrapFreshWithin1500ms,
            grpc::StatusCode::DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", "client", false},
        Row{"RotateOfAPinnedKey", Setup::kGood, Fault::kNone, Call::kRotatePinned,
            grpc::StatusCode::FAILED_PRECONDITION, "KEY_VERSION_PINNED", "client", false,
            "pinned to version"}),
    [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });

}  // namespace
}  // namespace keybroker::testing
