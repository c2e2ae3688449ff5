// The real broker against the Key Vault / Managed HSM / Entra ID emulator over
// TLS: every RPC with RSA keys of each size and with Managed HSM AES keys,
// local RSA wraps unwrapped by the vault, key versions picked up, access
// revoked and restored, throttling and faults survived, token refresh, TLS
// trust, and EDEKs naming unconfigured keys refused without a request.
#include <atomic>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/azure_broker_suite.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/integration/keyvault_emulator_process.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr const char* kTenant = kAzureTenant;
constexpr const char* kClientId = kAzureClientId;
constexpr int kTtlSeconds = 2;  // metadata and unwrap cache: the revocation bound

struct Key {
  std::string alias, host, name, kty;
  int size;
};

const std::vector<Key>& Keys() {
  static const std::vector<Key> keys = {
      {"rsa2048", "kv1", "rsa2048", "RSA", 2048},  {"rsa3072", "kv1", "rsa3072", "RSA", 3072},
      {"rsa4096", "kv1", "rsa4096", "RSA", 4096},  {"hsm-rsa", "hsm1", "hsm-rsa", "RSA-HSM", 2048},
      {"hsm-aes", "hsm1", "hsm-aes", "oct-HSM", 256},
  };
  return keys;
}

// Keys reached through the other credential kinds (one identity each).
struct IdentityKey {
  std::string alias, host, name, kty, identity;
  int size;
};

const std::vector<IdentityKey>& IdentityKeys() {
  static const std::vector<IdentityKey> keys = {
      {"cert-key", "kv1", "cert-key", "RSA", "cert-app", 2048},
      {"wi-key", "kv1", "wi-key", "RSA", "wi-app", 2048},
      {"mi-aes", "hsm1", "mi-aes", "oct-HSM", "mi-app", 256},
  };
  return keys;
}

constexpr char kCertClientId[] = "cccccccc-0000-0000-0000-000000000001";
constexpr char kWorkloadClientId[] = "cccccccc-0000-0000-0000-000000000002";
constexpr char kManagedClientId[] = "cccccccc-0000-0000-0000-000000000003";
constexpr int kWorkloadTokenLifetime = 4;

class AzureTest : public AzureBrokerSuite<AzureTest> {
 protected:
  static void SetUpTestSuite() {
    StartEmulator("s3cret value+/=");
    for (const Key& key : Keys()) {
      ASSERT_OK(emulator_->Control(
          "create-key",
          {{"host", key.host}, {"name", key.name}, {"kty", key.kty}, {"size", key.size}}));
    }
    for (const IdentityKey& key : IdentityKeys()) {
      ASSERT_OK(emulator_->Control(
          "create-key",
          {{"host", key.host}, {"name", key.name}, {"kty", key.kty}, {"size", key.size}}));
    }
    RegisterOtherIdentities();
    StartBroker(Config(emulator_->ca_file()));
  }

  void SetUp() override {
    AzureBrokerSuite::SetUp();
    ASSERT_OK(emulator_->Control("clear-faults", Json::object()));
  }

  // A certificate identity, a workload identity (federated token file, short
  // tokens) and a managed identity, each with its own principal.
  static void RegisterOtherIdentities() {
    std::string script = "set -e; cd '" + dir_->path() + "'; " +
                         "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=cert-app "
                         "-keyout cert-app.key -out cert-app.crt 2>/dev/null";
    ASSERT_EQ(std::system(script.c_str()), 0);
    ASSERT_OK(emulator_->Control("register-principal",
                                 {{"client_id", kCertClientId},
                                  {"certificate_pem", ReadAll(dir_->File("cert-app.crt"))},
                                  {"hosts", {"kv1"}}}));
    WriteAll(dir_->File("cert-client-id"), kCertClientId);
    WriteAll(dir_->File("federated-token"), "eyJ.federated.token-for-wi-app");
    ASSERT_OK(emulator_->Control("register-principal",
                                 {{"client_id", kWorkloadClientId},
                                  {"federated_token", "eyJ.federated.token-for-wi-app"},
                                  {"token_lifetime_seconds", kWorkloadTokenLifetime},
                                  {"hosts", {"kv1"}}}));
    ASSERT_OK(emulator_->Control("register-principal", {{"client_id", kManagedClientId},
                                                        {"managed_identity", true},
                                                        {"hosts", {"hsm1"}}}));
  }

  static std::string OtherIdentitiesConfig() {
    std::string entra = emulator_->Url("entra");
    std::string ca = emulator_->entra_ca_file();
    return absl::StrCat(
        "      cert-app:\n"
        "        tenant_id: ", kTenant, "\n"
        "        client_id: { password_file: ", dir_->File("cert-client-id"), " }\n"
        "        client_certificate: { cert_file: ", dir_->File("cert-app.crt"),
        ", key_file: ", dir_->File("cert-app.key"), " }\n"
        "        oauth_endpoint_url: ", entra, "\n"
        "        tls: { ca_file: ", ca, " }\n"
        "      wi-app:\n"
        "        workload_identity: { client_id: ", kWorkloadClientId, ", tenant_id: ", kTenant,
        ", token_file: ", dir_->File("federated-token"), ", authority_host: ", entra, " }\n"
        "        tls: { ca_file: ", ca, " }\n"
        "      mi-app:\n"
        "        managed_identity: { client_id: ", kManagedClientId, ", endpoint: ", entra, " }\n"
        "        tls: { ca_file: ", ca, " }\n");
  }

  // The broker configuration; `kv_ca` is the CA trusted for the vaults.
  static std::string Config(const std::string& kv_ca) {
    std::string keys;
    for (const Key& key : Keys()) {
      absl::StrAppend(&keys, AzureKeyConfig(*emulator_, key.alias, key.host, key.name, "app",
                                            key.host != "kv1"));
    }
    for (const IdentityKey& key : IdentityKeys()) {
      absl::StrAppend(&keys, AzureKeyConfig(*emulator_, key.alias, key.host, key.name,
                                            key.identity, key.host != "kv1",
                                            key.host != "kv1" ? "    hsm_random: true\n" : ""));
    }
    AzureBrokerConfigOptions options;
    options.kv_ca_file = kv_ca;
    options.cache_ttl_seconds = kTtlSeconds;
    options.secrets_dir = dir_->path();
    options.more_identities = OtherIdentitiesConfig();
    options.keys = keys;
    return AzureBrokerConfig(*emulator_, options);
  }

  v1::DescribeKeyResponse Describe(const std::string& alias, grpc::Status* status = nullptr) {
    v1::DescribeKeyResponse response;
    grpc::Status s = DescribeKey(alias, &response);
    if (status != nullptr) *status = s;
    return response;
  }

  static void WaitPastTheBound() { absl::SleepFor(absl::Seconds(kTtlSeconds) + absl::Milliseconds(300)); }
};

TEST_F(AzureTest, EveryRpcWithEveryKeyKind) {
  for (const Key& key : Keys()) {
    SCOPED_TRACE(key.alias);
    v1::GenerateDekResponse dek;
    ASSERT_TRUE(GenerateDek(key.alias, &dek).ok());
    EXPECT_EQ(dek.plaintext().size(), 32u);
    EXPECT_EQ(dek.key_version().size(), 32u) << "Key Vault's own version id";
    std::string plaintext;
    ASSERT_TRUE(Unwrap(dek.edek(), &plaintext).ok());
    EXPECT_EQ(plaintext, dek.plaintext());
    grpc::Status wrong = Unwrap(dek.edek(), &plaintext, "other-tenant");
    EXPECT_EQ(wrong.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(GrpcReasonOf(wrong), "EDEK_INVALID");

    v1::WrapRequest wrap;
    wrap.set_key(key.alias);
    wrap.set_plaintext(std::string(48, 'k'));
    (*wrap.mutable_context())["tenant"] = "acme";
    v1::WrapResponse wrapped;
    ASSERT_TRUE(stub_->Wrap(Ctx().get(), wrap, &wrapped).ok());
    ASSERT_TRUE(Unwrap(wrapped.edek(), &plaintext).ok());
    EXPECT_EQ(plaintext, wrap.plaintext());

    v1::RewrapRequest rewrap;
    rewrap.set_edek(dek.edek());
    (*rewrap.mutable_context())["tenant"] = "acme";
    v1::RewrapResponse rewrapped;
    ASSERT_TRUE(stub_->Rewrap(Ctx().get(), rewrap, &rewrapped).ok());
    ASSERT_TRUE(Unwrap(rewrapped.edek(), &plaintext).ok());
    EXPECT_EQ(plaintext, dek.plaintext());

    v1::DescribeKeyResponse described = Describe(key.alias);
    EXPECT_TRUE(described.accessible());
    EXPECT_TRUE(described.customer_managed());
    EXPECT_EQ(described.key_version(), dek.key_version());
    EXPECT_EQ(described.algorithm(), key.kty == "oct-HSM" ? "AES-256-GCM" : "RSA-OAEP-256");
    EXPECT_EQ(described.quantum_resistant(), key.kty == "oct-HSM");
    EXPECT_EQ(described.kms(), key.host == "kv1" ? "azure_key_vault" : "azure_managed_hsm");
  }
}

TEST_F(AzureTest, RsaWrapsAreLocalAndUnwrapsAreCached) {
  ASSERT_TRUE(Describe("rsa2048").accessible());  // fresh metadata: a full TTL ahead
  v1::GenerateDekResponse dek;
  ASSERT_OK(emulator_->Control("reset-counts", Json::object()));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(GenerateDek("rsa2048", &dek).ok());
  EXPECT_EQ(emulator_->Count("kv1", "wrapkey"), 0);
  EXPECT_EQ(emulator_->Count("kv1", "get_key"), 0);
  std::string plaintext;
  ASSERT_TRUE(Unwrap(dek.edek(), &plaintext).ok());
  ASSERT_TRUE(Unwrap(dek.edek(), &plaintext).ok());
  EXPECT_EQ(emulator_->Count("kv1", "unwrapkey"), 1) << "the second unwrap is a cache hit";
  EXPECT_EQ(plaintext, dek.plaintext());
}

TEST_F(AzureTest, CustomersNewVersionIsPickedUpWithinTheTtlAndAtOnceAfterRotate) {
  v1::GenerateDekResponse before;
  ASSERT_TRUE(GenerateDek("rsa3072", &before).ok());
  absl::StatusOr<Json> added =
      emulator_->Control("add-version", {{"host", "kv1"}, {"name", "rsa3072"}});
  ASSERT_OK(added);
  std::string kid = (*added)["key"]["kid"];
  std::string new_version = kid.substr(kid.rfind('/') + 1);
  // The vault names itself, as Key Vault does, not by the URL the broker was
  // configured with (127.0.0.1:port): the broker takes only the version.
  EXPECT_EQ(kid, "https://kv1.vault.azure.net/keys/rsa3072/" + new_version);
  WaitPastTheBound();
  v1::GenerateDekResponse after;
  ASSERT_TRUE(GenerateDek("rsa3072", &after).ok());
  EXPECT_EQ(after.key_version(), new_version);
  std::string plaintext;
  ASSERT_TRUE(Unwrap(before.edek(), &plaintext).ok()) << "old versions still unwrap";
  EXPECT_EQ(plaintext, before.plaintext());

  v1::RotateRequest rotate;
  rotate.set_key("rsa3072");
  v1::RotateResponse rotated;
  ASSERT_TRUE(stub_->Rotate(Ctx().get(), rotate, &rotated).ok());
  EXPECT_NE(rotated.key_version(), new_version);
  ASSERT_TRUE(GenerateDek("rsa3072", &after).ok());
  EXPECT_EQ(after.key_version(), rotated.key_version()) << "no wait after Rotate";
}

TEST_F(AzureTest, RevokedAccessDeniesWithinTheBoundAndRestoringItLosesNothing) {
  std::vector<v1::GenerateDekResponse> made(3);
  for (auto& dek : made) ASSERT_TRUE(GenerateDek("rsa4096", &dek).ok());
  v1::GenerateDekResponse aes;
  ASSERT_TRUE(GenerateDek("hsm-aes", &aes).ok());
  std::string plaintext;
  // Unwrapped once: the broker's unwrap cache holds them when access goes.
  for (const auto& dek : made) ASSERT_TRUE(Unwrap(dek.edek(), &plaintext).ok());
  ASSERT_TRUE(Unwrap(aes.edek(), &plaintext).ok());

  ASSERT_OK(emulator_->Control("revoke", {{"host", "kv1"}, {"client_id", kClientId}}));
  ASSERT_OK(emulator_->Control("revoke", {{"host", "hsm1"}, {"client_id", kClientId}}));
  WaitPastTheBound();
  v1::GenerateDekResponse denied;
  grpc::Status status = GenerateDek("rsa4096", &denied);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(GrpcReasonOf(status), "KEY_NOT_ACCESSIBLE");
  for (const auto& dek : made) {
    EXPECT_EQ(GrpcReasonOf(Unwrap(dek.edek(), &plaintext)), "KEY_NOT_ACCESSIBLE");
  }
  v1::WrapRequest wrap;
  wrap.set_key("hsm-aes");
  wrap.set_plaintext("0123456789abcdef");
  v1::WrapResponse wrapped;
  EXPECT_EQ(GrpcReasonOf(stub_->Wrap(Ctx().get(), wrap, &wrapped)), "KEY_NOT_ACCESSIBLE");
  EXPECT_EQ(GrpcReasonOf(Unwrap(aes.edek(), &plaintext)), "KEY_NOT_ACCESSIBLE");
  v1::DescribeKeyResponse described = Describe("rsa4096", &status);
  EXPECT_TRUE(status.ok());
  EXPECT_FALSE(described.accessible());
  EXPECT_EQ(described.reason(), "KEY_NOT_ACCESSIBLE");

  ASSERT_OK(emulator_->Control("grant", {{"host", "kv1"}, {"client_id", kClientId}}));
  ASSERT_OK(emulator_->Control("grant", {{"host", "hsm1"}, {"client_id", kClientId}}));
  for (const auto& dek : made) {
    ASSERT_TRUE(Unwrap(dek.edek(), &plaintext).ok());
    EXPECT_EQ(plaintext, dek.plaintext());
  }
  ASSERT_TRUE(Unwrap(aes.edek(), &plaintext).ok());
  EXPECT_EQ(plaintext, aes.plaintext());
  EXPECT_TRUE(GenerateDek("rsa4096", &denied).ok());
}

TEST_F(AzureTest, ThrottlingServerErrorsAndDroppedConnectionsAreRetried) {
  v1::GenerateDekResponse dek;
  ASSERT_TRUE(GenerateDek("hsm-aes", &dek).ok());
  ASSERT_OK(emulator_->Control("reset-counts", Json::object()));
  ASSERT_OK(emulator_->Control(
      "fault", {{"host", "hsm1"}, {"status", 429}, {"retry_after", 1}, {"count", 1}}));
  ASSERT_OK(emulator_->Control("fault", {{"host", "hsm1"}, {"status", 503}, {"count", 1}}));
  ASSERT_OK(emulator_->Control("drop", {{"host", "hsm1"}, {"count", 1}}));
  std::string plaintext;
  grpc::Status status = Unwrap(dek.edek(), &plaintext, "acme");
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(plaintext, dek.plaintext());
  EXPECT_EQ(emulator_->Count("hsm1", "decrypt"), 4) << "429, 503, dropped, then served";
}

TEST_F(AzureTest, ThrottlingThatOutlastsRetriesIsResourceExhausted) {
  v1::GenerateDekResponse dek;
  ASSERT_TRUE(GenerateDek("hsm-rsa", &dek).ok());
  ASSERT_OK(emulator_->Control("fault", {{"host", "hsm1"}, {"status", 429}, {"count", -1}}));
  std::string plaintext;
  grpc::Status status = Unwrap(dek.edek(), &plaintext);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(GrpcReasonOf(status), "KMS_THROTTLED");
  ASSERT_OK(emulator_->Control("clear-faults", Json::object()));
  ASSERT_OK(emulator_->Control("fault", {{"host", "hsm1"}, {"status", 500}, {"count", -1}}));
  status = Unwrap(dek.edek(), &plaintext, "other");  // not cached
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GrpcReasonOf(status), "KMS_UNAVAILABLE");
}

TEST_F(AzureTest, ExpiredTokensAreRefreshed) {
  v1::GenerateDekResponse dek;
  ASSERT_TRUE(GenerateDek("hsm-aes", &dek).ok());
  int tokens = emulator_->Count("entra", "token");
  ASSERT_OK(emulator_->Control("expire-tokens", Json::object()));
  std::string plaintext;
  grpc::Status status = Unwrap(dek.edek(), &plaintext, "acme");
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(emulator_->Count("entra", "token"), tokens) << "a 401 forced a new token";
}

TEST_F(AzureTest, DisabledKeysAreReportedAsSuch) {
  ASSERT_OK(emulator_->Control("set-attributes",
                               {{"host", "kv1"}, {"name", "rsa2048"}, {"enabled", false}}));
  // Enabled again whatever happens below: other tests use the key.
  struct Restore {
    ~Restore() {
      (void)emulator_->Control("set-attributes",
                               {{"host", "kv1"}, {"name", "rsa2048"}, {"enabled", true}});
    }
  } restore;
  grpc::Status status;
  v1::DescribeKeyResponse described = Describe("rsa2048", &status);
  EXPECT_TRUE(status.ok());
  EXPECT_FALSE(described.accessible());
  EXPECT_EQ(described.reason(), "KEY_DISABLED");
  v1::GenerateDekResponse dek;
  status = GenerateDek("rsa2048", &dek);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(GrpcReasonOf(status), "KEY_DISABLED");
  ASSERT_OK(emulator_->Control("set-attributes",
                               {{"host", "kv1"}, {"name", "rsa2048"}, {"enabled", true}}));
  EXPECT_TRUE(Describe("rsa2048").accessible());
}

// Key Vault was seen encrypting under a disabled key (keyvault-protocol.md
// §7.2), and the emulator does the same: the broker must refuse from the
// key's attributes before it asks the Managed HSM to wrap anything.
TEST_F(AzureTest, ADisabledManagedHsmKeyIsRefusedByTheBrokerNotLeftToTheHsm) {
  ASSERT_OK(emulator_->Control("set-attributes",
                               {{"host", "hsm1"}, {"name", "hsm-aes"}, {"enabled", false}}));
  struct Restore {
    ~Restore() {
      (void)emulator_->Control("set-attributes",
                               {{"host", "hsm1"}, {"name", "hsm-aes"}, {"enabled", true}});
    }
  } restore;
  WaitPastTheBound();  // the broker's copy of the key's attributes is stale by now
  ASSERT_OK(emulator_->Control("reset-counts", Json::object()));
  v1::GenerateDekResponse dek;
  grpc::Status status = GenerateDek("hsm-aes", &dek);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_EQ(GrpcReasonOf(status), "KEY_DISABLED");
  EXPECT_GE(emulator_->Count("hsm1", "get_key"), 1) << "the broker read the key's attributes";
  EXPECT_EQ(emulator_->Count("hsm1", "encrypt"), 0) << "and asked the HSM to wrap nothing";
  ASSERT_OK(emulator_->Control("set-attributes",
                               {{"host", "hsm1"}, {"name", "hsm-aes"}, {"enabled", true}}));
  WaitPastTheBound();
  EXPECT_TRUE(GenerateDek("hsm-aes", &dek).ok());
}

TEST_F(AzureTest, EdekNamingAnUnconfiguredKeySendsNoRequest) {
  v1::GenerateDekResponse dek;
  ASSERT_TRUE(GenerateDek("rsa2048", &dek).ok());
  std::string edek = dek.edek();
  // Byte 3 is the key name length, then "127.0.0.1:PORT/rsa2048": rename the key.
  size_t at = edek.find("rsa2048");
  ASSERT_NE(at, std::string::npos);
  edek.replace(at, 7, "rsa2049");
  ASSERT_OK(emulator_->Control("reset-counts", Json::object()));
  std::string plaintext;
  grpc::Status status = Unwrap(edek, &plaintext);
  EXPECT_EQ(GrpcReasonOf(status), "EDEK_INVALID");
  absl::StatusOr<Json> counts = emulator_->Control("counts");
  ASSERT_OK(counts);
  for (const auto& [host, operations] : counts->items()) {
    EXPECT_TRUE(operations.empty()) << host << ": " << operations.dump();
  }
}

TEST_F(AzureTest, TheCallersDeadlineBoundsKeyVaultAndASlowVaultDelaysNoOther) {
  v1::GenerateDekResponse slow_dek, fast_dek;
  ASSERT_TRUE(GenerateDek("hsm-rsa", &slow_dek, "deadline").ok());
  ASSERT_TRUE(GenerateDek("rsa2048", &fast_dek, "deadline").ok());
  ASSERT_OK(emulator_->Control("latency", {{"host", "hsm1"}, {"ms", 4000}, {"count", 20}}));
  std::thread slow_calls([&] {
    for (int i = 0; i < 4; ++i) {
      v1::UnwrapRequest request;
      request.set_edek(slow_dek.edek());
      (*request.mutable_context())["tenant"] = "deadline";
      v1::UnwrapResponse response;
      absl::Time start = absl::Now();
      grpc::Status status =
          stub_->Unwrap(Ctx(std::chrono::seconds(1)).get(), request, &response);
      EXPECT_FALSE(status.ok());
      EXPECT_LT(absl::Now() - start, absl::Milliseconds(1800)) << "the deadline bounds the call";
    }
  });
  absl::SleepFor(absl::Milliseconds(200));
  absl::Time start = absl::Now();
  std::string plaintext;
  ASSERT_TRUE(Unwrap(fast_dek.edek(), &plaintext, "deadline").ok());
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(800)) << "another vault is not held up";
  slow_calls.join();
  ASSERT_OK(emulator_->Control("clear-faults", Json::object()));
}

TEST_F(AzureTest, ACancelledCallStopsRetryingKeyVault) {
  v1::GenerateDekResponse dek;
  ASSERT_TRUE(GenerateDek("hsm-aes", &dek, "cancel").ok());
  ASSERT_OK(emulator_->Control("reset-counts", Json::object()));
  // Unanswered for good: the broker would try 4 times, a second apart.
  ASSERT_OK(emulator_->Control(
      "fault", {{"host", "hsm1"}, {"status", 503}, {"retry_after", 1}, {"count", -1}}));
  v1::UnwrapRequest request;
  request.set_edek(dek.edek());
  (*request.mutable_context())["tenant"] = "cancel";
  v1::UnwrapResponse response;
  std::unique_ptr<grpc::ClientContext> context = Ctx(std::chrono::seconds(30));
  std::thread canceller([&context] {
    absl::SleepFor(absl::Milliseconds(300));
    context->TryCancel();
  });
  grpc::Status status = stub_->Unwrap(context.get(), request, &response);
  canceller.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  absl::SleepFor(absl::Milliseconds(2500));  // time for the retries it would have made
  EXPECT_LE(emulator_->Count("hsm1", "decrypt"), 1) << "no retry after the cancellation";
  ASSERT_OK(emulator_->Control("clear-faults", Json::object()));
  std::string plaintext;
  ASSERT_TRUE(Unwrap(dek.edek(), &plaintext, "cancel").ok());
  EXPECT_EQ(plaintext, dek.plaintext());
}

TEST_F(AzureTest, CertificateWorkloadAndManagedIdentitiesWork) {
  for (const IdentityKey& key : IdentityKeys()) {
    SCOPED_TRACE(key.alias);
    v1::GenerateDekResponse dek;
    ASSERT_TRUE(GenerateDek(key.alias, &dek).ok());
    std::string plaintext;
    grpc::Status status = Unwrap(dek.edek(), &plaintext);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(plaintext, dek.plaintext());
  }
  EXPECT_GT(emulator_->Count("entra", "imds"), 0);
  EXPECT_GT(emulator_->Count("hsm1", "rng"), 0) << "mi-aes draws DEKs from the HSM";
}

TEST_F(AzureTest, TokensAreRefreshedBeforeTheyExpire) {
  // A fresh token of 4 s: reused at first, refreshed from half its life,
  // never used in its last tenth.
  ASSERT_OK(emulator_->Control("expire-tokens", {{"client_id", kWorkloadClientId}}));
  ASSERT_TRUE(Describe("wi-key").accessible());
  int before = emulator_->Count("entra", "token");
  ASSERT_TRUE(Describe("wi-key").accessible());
  EXPECT_EQ(emulator_->Count("entra", "token"), before) << "a fresh token is reused";
  absl::SleepFor(absl::Milliseconds(kWorkloadTokenLifetime * 1000 * 65 / 100));
  grpc::Status status;
  EXPECT_TRUE(Describe("wi-key", &status).accessible()) << status.error_message();
  EXPECT_GT(emulator_->Count("entra", "token"), before);
}

TEST_F(AzureTest, ThrottlingBurstsAreSurvived) {
  std::vector<v1::GenerateDekResponse> deks(40);
  for (auto& dek : deks) ASSERT_TRUE(GenerateDek("rsa2048", &dek, "burst").ok());
  // Fewer 429s than a request's attempts (4): however the 8 threads' requests
  // interleave, none can meet a 429 at every attempt, so every one must
  // succeed. (With more, one unlucky request on a loaded machine could.)
  ASSERT_OK(emulator_->Control("fault", {{"host", "kv1"}, {"status", 429}, {"count", 3}}));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto stub = NewStub(broker_->address());
      for (size_t i = t; i < deks.size(); i += 8) {
        v1::UnwrapRequest request;
        request.set_edek(deks[i].edek());
        (*request.mutable_context())["tenant"] = "burst";
        v1::UnwrapResponse response;
        grpc::Status status = stub->Unwrap(Ctx(std::chrono::seconds(20)).get(), request, &response);
        if (!status.ok() || response.plaintext() != deks[i].plaintext()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(AzureTest, InsecureTlsIsRefusedUnlessExplicitlyAllowed) {
  TempDir dir;
  std::string config = Config(emulator_->entra_ca_file());  // the wrong CA...
  config.replace(config.find("key_vault_tls: {"), 16, "key_vault_tls: { insecure_skip_verify: true,");
  WriteAll(dir.File("keybroker.yaml"), config);
  std::string output;
  EXPECT_EQ(BrokerProcess::RunToExit({"--config", dir.File("keybroker.yaml")}, &output), 1);
  EXPECT_THAT(output, HasSubstr("KEYBROKER_ALLOW_INSECURE_TLS"));

  auto broker = BrokerProcess::Start({"--config", dir.File("keybroker.yaml")},
                                     {"KEYBROKER_ALLOW_INSECURE_TLS=1"});
  ASSERT_OK(broker);
  EXPECT_THAT((*broker)->Lines(), ::testing::Contains(HasSubstr("insecure_tls")));
  auto stub = NewStub((*broker)->address());
  v1::DescribeKeyRequest request;
  request.set_key("rsa2048");
  v1::DescribeKeyResponse response;
  EXPECT_TRUE(stub->DescribeKey(Ctx().get(), request, &response).ok()) << "...not checked";
}

TEST_F(AzureTest, UntrustedVaultCertificateFailsTheConnection) {
  TempDir dir;
  std::string config = Config(emulator_->entra_ca_file());  // the wrong CA for the vaults
  WriteAll(dir.File("keybroker.yaml"), config);
  auto broker = BrokerProcess::Start({"--config", dir.File("keybroker.yaml")});
  ASSERT_OK(broker);
  auto stub = NewStub((*broker)->address());
  v1::DescribeKeyRequest request;
  request.set_key("rsa2048");
  v1::DescribeKeyResponse response;
  grpc::Status status = stub->DescribeKey(Ctx().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GrpcReasonOf(status), "KMS_UNAVAILABLE");
}

}  // namespace
}  // namespace keybroker::testing
