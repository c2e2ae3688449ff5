// Whose fault each failure is, one row per fault: the real gRPC service on
// loopback over the real BrokerCore, AzureKms, KeyVaultClient, retrying and
// concurrency-limited HTTP clients, Entra credentials and token cache, the
// local keyring, metrics and key health; only the network under them is
// fake (Entra ID scripted, Key Vault an InMemoryKeyVault, connections that
// are refused or hang). Each row pins what the caller sees (gRPC code,
// ErrorInfo reason), whom the broker blames (the audit line's and the
// metrics' cause: customer, service or client), and whether the customer's
// key is marked inaccessible (key health), which only the customer's own
// actions may do (docs/operations.md, "Causes").
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "crypto/random.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "kms_adapters/azure/azure_kms.h"
#include "kms_adapters/azure/concurrency_limited_http_client.h"
#include "kms_adapters/azure/entra/client_secret_credential.h"
#include "kms_adapters/azure/entra/token_cache.h"
#include "kms_adapters/azure/entra/workload_identity_credential.h"
#include "kms_adapters/azure/key_vault_client.h"
#include "kms_adapters/azure/retrying_http_client.h"
#include "kms_adapters/local/keyring_file.h"
#include "kms_adapters/local/local_kms.h"
#include "server/blocking_executor.h"
#include "server/broker_core.h"
#include "server/key_broker_service.h"
#include "server/key_health.h"
#include "server/key_registry.h"
#include "server/metrics.h"
#include "tests/fakes/fake_token_provider.h"
#include "tests/fakes/in_memory_key_vault.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/integration/prometheus_text.h"
#include "tests/testing/files.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::server {
namespace {

namespace az = kms::azure;
using ::keybroker::testing::InMemoryKeyVault;
using ::keybroker::testing::JsonResponse;
using ::keybroker::testing::LogCapture;
using ::keybroker::testing::PrometheusScrape;
using ::keybroker::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kVaultHost[] = "vault-a.vault.azure.net";
constexpr char kKeyUrl[] = "https://vault-a.vault.azure.net/keys/cmk";
constexpr char kPinnedName[] = "cmk-pinned";
constexpr char kScope[] = "https://vault.azure.net/.default";
constexpr char kTenant[] = "11111111-2222-3333-4444-555555555555";
constexpr char kEntra[] = "https://login.microsoftonline.com";

// Entra's answers (keyvault-protocol.md §9.1, §9.4).
az::HttpResponse EntraToken() {
  return JsonResponse(200, R"({"token_type":"Bearer","expires_in":3599,"access_token":"token-1"})");
}
az::HttpResponse EntraError(int status, const std::string& error, int code) {
  return JsonResponse(status, absl::StrCat(R"({"error":")", error,
                                           R"(","error_description":"AADSTS)", code,
                                           R"(: about the app.","error_codes":[)", code,
                                           R"(],"trace_id":"t1","correlation_id":"c1"})"));
}

// The network under the broker's HTTP clients. Entra's token endpoint
// answers `entra`; a vault host is served by `vault`, or refuses the
// connection, or does not answer until the request's deadline has passed
// (and then fails as the real transport does: DEADLINE_EXCEEDED).
class FakeNetwork : public az::HttpClient {
 public:
  enum class VaultMode { kServe, kRefuse, kHang };

  explicit FakeNetwork(InMemoryKeyVault* vault) : vault_(vault) {}

  absl::StatusOr<az::HttpResponse> Send(const az::HttpRequest& request,
                                        absl::Time deadline) override {
    if (absl::StrContains(request.url, "/oauth2/v2.0/token")) {
      absl::MutexLock lock(&mu_);
      return entra_;
    }
    VaultMode mode;
    {
      absl::MutexLock lock(&mu_);
      mode = vault_mode_;
    }
    if (mode == VaultMode::kRefuse) {
      return absl::UnavailableError("http request to vault failed: connection refused");
    }
    if (mode == VaultMode::kHang) {
      absl::SleepFor(std::min(deadline - absl::Now(), absl::Seconds(10)));
      return absl::DeadlineExceededError("deadline exceeded waiting for the vault");
    }
    return vault_->Handler()(request);
  }

  void set_entra(az::HttpResponse answer) {
    absl::MutexLock lock(&mu_);
    entra_ = std::move(answer);
  }
  void set_vault_mode(VaultMode mode) {
    absl::MutexLock lock(&mu_);
    vault_mode_ = mode;
  }

 private:
  InMemoryKeyVault* const vault_;
  mutable absl::Mutex mu_;
  az::HttpResponse entra_ ABSL_GUARDED_BY(mu_) = EntraToken();
  VaultMode vault_mode_ ABSL_GUARDED_BY(mu_) = VaultMode::kServe;
};

// The broker's clients own their transport; the test keeps the network.
class Forward : public az::HttpClient {
 public:
  explicit Forward(az::HttpClient* to) : to_(to) {}
  absl::StatusOr<az::HttpResponse> Send(const az::HttpRequest& request,
                                        absl::Time deadline) override {
    return to_->Send(request, deadline);
  }

 private:
  az::HttpClient* const to_;
};

// As the broker wires a token cache to the Key Vault client.
class CachedTokens : public az::TokenProvider {
 public:
  explicit CachedTokens(std::unique_ptr<az::TokenCache> cache) : cache_(std::move(cache)) {}
  absl::StatusOr<crypto::SecretBytes> Token(absl::string_view scope,
                                            absl::Time deadline) override {
    return cache_->Token(scope, deadline);
  }
  void Invalidate(absl::string_view scope) override { cache_->Invalidate(scope); }

 private:
  std::unique_ptr<az::TokenCache> cache_;
};

// The broker's identity for the vault.
enum class Identity { kClientSecret, kWorkloadIdentity };

// The RPC a row makes.
enum class Call {
  kGenerateDek,          // on the customer key "tenant-a"
  kUnwrap,               // an EDEK of "tenant-a" made before the fault
  kUnwrapOtherContext,   // the same EDEK under another encryption context
  kGenerateDekUnknown,   // on an alias no configuration names
  kRotatePinned,         // "pinned": an Azure key pinned to one version
  kRotateLocal,          // "local": the read-only local keyring
  kUnwrapLocalAhead,     // a local EDEK one version above this replica's
  kUnwrapLocalFarAhead,  // a local EDEK ten versions above
  kGenerateDekDeadline,  // "tenant-a" with a 1 s deadline
};

enum class Cause { kClient, kCustomer, kService };

struct Row {
  std::string fault;
  Identity identity;
  std::function<void(class ServiceErrorsTest&)> inject;
  Call call;
  grpc::StatusCode code;
  std::string reason;
  Cause cause;
  // Whether key health marks "tenant-a" inaccessible, and with which reason.
  std::optional<ErrorReason> key_marked;
  std::string message_has = "";  // a substring the caller's message must have
  bool retry_info = false;       // the answer carries a google.rpc.RetryInfo
};

// gtest prints a failing row by its fault.
void PrintTo(const Row& row, std::ostream* os) { *os << row.fault; }

std::string CauseName(Cause cause) {
  switch (cause) {
    case Cause::kClient: return "client";
    case Cause::kCustomer: return "customer";
    case Cause::kService: return "service";
  }
  return "";
}

class ServiceErrorsTest : public ::testing::TestWithParam<Row> {
 public:
  InMemoryKeyVault& vault() { return vault_; }
  FakeNetwork& network() { return network_; }
  const std::string& token_file() const { return token_file_; }

  // Starts a GenerateDek of "tenant-a" with a 4 s deadline on another thread,
  // and returns once the broker has it: with the vault hanging, its key
  // metadata fetch is then in flight, and other calls of the key wait for it.
  void StartSlowGenerateDek() {
    background_ = std::thread([this] {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(4));
      v1::GenerateDekRequest request;
      request.set_key("tenant-a");
      (*request.mutable_context())["tenant"] = "acme";
      v1::GenerateDekResponse response;
      (void)stub_->GenerateDek(&context, request, &response);
    });
    absl::SleepFor(absl::Milliseconds(300));
  }

 protected:
  void SetUp() override {
    vault_.AddVersion(kVaultHost, "cmk", InMemoryKeyVault::Rsa(0));
    pinned_version_ = vault_.AddVersion(kVaultHost, kPinnedName, InMemoryKeyVault::Rsa(1));
    testing::WriteAll(token_file_, "eyJ.federated.token");
    ASSERT_NO_FATAL_FAILURE(OpenLocalKeyring());
    ASSERT_NO_FATAL_FAILURE(BuildBroker(GetParam().identity));
    ASSERT_NO_FATAL_FAILURE(MakeCustomerEdek());
  }

  void TearDown() override {
    if (background_.joinable()) background_.join();
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    executor_.reset();
  }

  // A read-only keyring at version 1 (the broker's), and a copy another
  // replica has already rotated twice, whose EDEKs this one has not seen.
  void OpenLocalKeyring() {
    master_ = *crypto::RandomSecret(32);
    kms::LocalKmsOptions writer;
    writer.keyring_file = dir_.File("keyring");
    writer.required_keys = {"svc"};
    ASSERT_OK(kms::LocalKms::Create(writer, master_.Clone()));
    testing::WriteAll(dir_.File("ahead"), testing::ReadAll(dir_.File("keyring")));
    kms::LocalKmsOptions ahead_options;
    ahead_options.keyring_file = dir_.File("ahead");
    ahead_options.required_keys = {"svc"};
    std::unique_ptr<kms::LocalKms> ahead = *kms::LocalKms::Create(ahead_options, master_.Clone());
    ASSERT_OK(ahead->Rotate("svc", {}));
    absl::StatusOr<kms::WrappedKey> wrapped =
        ahead->Wrap("svc", *crypto::RandomSecret(32), context_, {});
    ASSERT_OK(wrapped);
    ASSERT_EQ(wrapped->key_version, "2");
    local_edek_ahead_ = wrapped->edek;
    crypto::Edek far = *crypto::DecodeEdek(wrapped->edek);
    far.key_version = "11";
    local_edek_far_ahead_ = *crypto::EncodeEdek(far);
  }

  void BuildBroker(Identity identity) {
    registry_ = std::make_unique<KeyRegistry>();
    observers_ = std::make_unique<kms::KmsObserverList>(
        std::vector<kms::KmsObserver*>{&metrics_, &health_});
    // Entra: the broker's own identity, through the real credential.
    entra_http_ = std::make_unique<az::RetryingHttpClient>(std::make_unique<Forward>(&network_),
                                                           FastRetries());
    std::unique_ptr<az::Credential> credential;
    if (identity == Identity::kClientSecret) {
      az::ClientSecretCredential::Options options;
      options.tenant_id = kTenant;
      options.client_id = crypto::SecretBytes::CopyFrom("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
      options.client_secret = crypto::SecretBytes::CopyFrom("s3cret");
      options.authority_host = kEntra;
      auto created = az::ClientSecretCredential::Create(std::move(options), entra_http_.get(),
                                                        az::SystemClock());
      ASSERT_OK(created);
      credential = *std::move(created);
    } else {
      az::WorkloadIdentityCredential::Options options{"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                                                      kTenant, token_file_, kEntra};
      auto created =
          az::WorkloadIdentityCredential::Create(options, entra_http_.get(), az::SystemClock());
      ASSERT_OK(created);
      credential = *std::move(created);
    }
    az::TokenCache::Options cache_options;
    cache_options.observer = observers_.get();
    tokens_ = std::make_unique<CachedTokens>(std::make_unique<az::TokenCache>(
        "app", std::move(credential), az::SystemClock(), cache_options));
    // Key Vault: retries over a per-vault limit, as the broker stacks them.
    vault_http_ = std::make_unique<az::RetryingHttpClient>(
        std::make_unique<az::ConcurrencyLimitedHttpClient>(std::make_unique<Forward>(&network_), 8,
                                                           absl::Seconds(2)),
        FastRetries());
    client_ = std::make_unique<az::KeyVaultClient>(vault_http_.get(), observers_.get());
    auto azure = std::make_unique<az::AzureKms>(client_.get(), az::AzureKmsOptions(),
                                                observers_.get());
    ASSERT_OK(azure->AddKey({kKeyUrl, az::VaultKind::kVault, kScope, tokens_.get()}));
    pinned_url_ = absl::StrCat("https://", kVaultHost, "/keys/", kPinnedName, "/", pinned_version_);
    ASSERT_OK(azure->AddKey({pinned_url_, az::VaultKind::kVault, kScope, tokens_.get()}));
    ASSERT_OK(registry_->AddKms(std::move(azure)));
    kms::LocalKmsOptions local;
    local.keyring_file = dir_.File("keyring");
    local.read_only = true;
    local.required_keys = {"svc"};
    local.observer = observers_.get();
    ASSERT_OK(registry_->AddKms(*kms::LocalKms::Create(local, master_.Clone())));
    ASSERT_OK(registry_->Bind("tenant-a", crypto::EdekKms::kAzure, kKeyUrl));
    ASSERT_OK(registry_->Bind("pinned", crypto::EdekKms::kAzure, pinned_url_));
    ASSERT_OK(registry_->Bind("local", crypto::EdekKms::kLocal, "svc"));
    health_.Track(*registry_);

    core_ = std::make_unique<BrokerCore>(registry_.get(), nullptr, observers_.get());
    executor_ = std::make_unique<BlockingExecutor>(2, 16);
    service_ = std::make_unique<KeyBrokerService>(
        core_.get(), KeyBrokerService::Options{executor_.get(), &metrics_, nullptr, true});
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = testing::NewStub(absl::StrCat("127.0.0.1:", port));
  }

  static az::RetryPolicy FastRetries() {
    az::RetryPolicy policy;
    policy.max_attempts = 3;
    policy.base_backoff = absl::Milliseconds(1);
    policy.max_backoff = absl::Milliseconds(5);
    return policy;
  }

  // An EDEK of the customer key, made by another broker (its own client and
  // token provider): the broker under test has no token or metadata yet.
  void MakeCustomerEdek() {
    testing::FakeHttpClient http(vault_.Handler());
    testing::FakeTokenProvider tokens;
    az::KeyVaultClient client(&http);
    az::AzureKms maker(&client, az::AzureKmsOptions());
    ASSERT_OK(maker.AddKey({kKeyUrl, az::VaultKind::kVault, kScope, &tokens}));
    absl::StatusOr<kms::WrappedKey> wrapped =
        maker.Wrap(kKeyUrl, *crypto::RandomSecret(32), context_, {});
    ASSERT_OK(wrapped);
    customer_edek_ = wrapped->edek;
  }

  // Makes `call`; returns its status as the caller sees it.
  grpc::Status Make(Call call) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         (call == Call::kGenerateDekDeadline ? std::chrono::milliseconds(1000)
                                                             : std::chrono::seconds(20)));
    auto unwrap = [&](const std::string& edek, const std::string& tenant) {
      v1::UnwrapRequest request;
      request.set_edek(edek);
      (*request.mutable_context())["tenant"] = tenant;
      v1::UnwrapResponse response;
      return stub_->Unwrap(&context, request, &response);
    };
    auto rotate = [&](const std::string& alias) {
      v1::RotateRequest request;
      request.set_key(alias);
      v1::RotateResponse response;
      return stub_->Rotate(&context, request, &response);
    };
    v1::GenerateDekRequest generate;
    (*generate.mutable_context())["tenant"] = "acme";
    v1::GenerateDekResponse generated;
    switch (call) {
      case Call::kGenerateDek:
      case Call::kGenerateDekDeadline:
        generate.set_key("tenant-a");
        return stub_->GenerateDek(&context, generate, &generated);
      case Call::kGenerateDekUnknown:
        generate.set_key("tenant-z");
        return stub_->GenerateDek(&context, generate, &generated);
      case Call::kUnwrap: return unwrap(customer_edek_, "acme");
      case Call::kUnwrapOtherContext: return unwrap(customer_edek_, "globex");
      case Call::kRotatePinned: return rotate("pinned");
      case Call::kRotateLocal: return rotate("local");
      case Call::kUnwrapLocalAhead: return unwrap(local_edek_ahead_, "acme");
      case Call::kUnwrapLocalFarAhead: return unwrap(local_edek_far_ahead_, "acme");
    }
    return grpc::Status(grpc::StatusCode::UNKNOWN, "no such call");
  }

  // The audit line of the call, once the server has written it.
  std::optional<nlohmann::json> AuditLine() {
    for (absl::Time end = absl::Now() + absl::Seconds(10); absl::Now() < end;
         absl::SleepFor(absl::Milliseconds(10))) {
      std::vector<nlohmann::json> lines = log_.Events("audit");
      if (!lines.empty()) return lines.back();
    }
    return std::nullopt;
  }

  LogCapture log_;
  TempDir dir_;
  std::string token_file_ = dir_.File("federated-token");
  InMemoryKeyVault vault_;
  FakeNetwork network_{&vault_};
  std::string pinned_version_, pinned_url_;
  crypto::SecretBytes master_;
  crypto::EncryptionContext context_ = *crypto::EncryptionContext::FromPairs({{"tenant", "acme"}});
  std::string customer_edek_, local_edek_ahead_, local_edek_far_ahead_;

  BrokerMetrics metrics_{"test"};
  KeyHealth health_{&metrics_};
  std::unique_ptr<kms::KmsObserverList> observers_;
  std::unique_ptr<az::HttpClient> entra_http_, vault_http_;
  std::unique_ptr<CachedTokens> tokens_;
  std::unique_ptr<az::KeyVaultClient> client_;
  std::unique_ptr<KeyRegistry> registry_;
  std::unique_ptr<BrokerCore> core_;
  std::unique_ptr<BlockingExecutor> executor_;
  std::unique_ptr<KeyBrokerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::KeyBroker::Stub> stub_;
  std::thread background_;
};

std::string MethodOf(Call call) {
  switch (call) {
    case Call::kGenerateDek:
    case Call::kGenerateDekUnknown:
    case Call::kGenerateDekDeadline:
      return "GenerateDek";
    case Call::kRotatePinned:
    case Call::kRotateLocal:
      return "Rotate";
    default:
      return "Unwrap";
  }
}

TEST_P(ServiceErrorsTest, TheFaultIsBlamedOnWhoCausedIt) {
  const Row& row = GetParam();
  row.inject(*this);
  grpc::Status status = Make(row.call);

  EXPECT_EQ(status.error_code(), row.code) << status.error_message();
  if (!row.message_has.empty()) {
    EXPECT_THAT(status.error_message(), HasSubstr(row.message_has));
  }
  google::rpc::Status details;
  bool has_retry_info = false;
  if (row.code != grpc::StatusCode::DEADLINE_EXCEEDED) {
    // (A caller past its deadline has stopped listening: gRPC answered it.)
    EXPECT_EQ(testing::GrpcReasonOf(status), row.reason);
    ASSERT_TRUE(details.ParseFromString(status.error_details()));
    for (const auto& detail : details.details()) {
      has_retry_info = has_retry_info || detail.Is<google::rpc::RetryInfo>();
    }
    EXPECT_EQ(has_retry_info, row.retry_info);
  }

  std::optional<nlohmann::json> audit = AuditLine();
  ASSERT_TRUE(audit.has_value()) << "no audit line";
  EXPECT_EQ((*audit)["method"], MethodOf(row.call));
  EXPECT_EQ((*audit)["reason"], row.reason);
  EXPECT_EQ((*audit)["cause"], CauseName(row.cause));
  absl::StatusOr<PrometheusScrape> scrape = PrometheusScrape::Parse(metrics_.Scrape());
  ASSERT_OK(scrape);
  EXPECT_EQ(scrape->Sum("keybroker_rpc_requests_total",
                        {{"method", MethodOf(row.call)},
                         {"reason", row.reason},
                         {"cause", CauseName(row.cause)}}),
            1.0);

  // Only the customer's own action marks their key inaccessible.
  EXPECT_EQ(health_.InaccessibleReason("tenant-a"), row.key_marked);
  EXPECT_EQ(log_.Events("customer_key_inaccessible").size(), row.key_marked ? 1u : 0u);
  if (row.cause == Cause::kService) {
    EXPECT_THAT(status.error_message(), Not(HasSubstr("not accessible")));
  }
}

void NoFault(ServiceErrorsTest&) {}

std::function<void(ServiceErrorsTest&)> VaultFails(const std::string& op, int status,
                                                   const std::string& code,
                                                   const std::string& inner = "") {
  return [=](ServiceErrorsTest& t) { t.vault().Fail(op, status, code, inner, /*count=*/-1); };
}

std::function<void(ServiceErrorsTest&)> EntraAnswers(az::HttpResponse answer) {
  return [answer](ServiceErrorsTest& t) { t.network().set_entra(answer); };
}

std::function<void(ServiceErrorsTest&)> VaultMode(FakeNetwork::VaultMode mode) {
  return [mode](ServiceErrorsTest& t) { t.network().set_vault_mode(mode); };
}

using Code = grpc::StatusCode;
constexpr Identity kSecret = Identity::kClientSecret;

std::vector<Row> Rows() {
  az::HttpResponse entra_throttled = EntraError(429, "temporarily_unavailable", 90055);
  return {
      // --- The customer's own actions on their key: no alert. -----------
      {"403 ForbiddenByRbac: role assignment removed", kSecret,
       VaultFails("unwrapkey", 403, "Forbidden", "ForbiddenByRbac"), Call::kUnwrap,
       Code::PERMISSION_DENIED, "KEY_NOT_ACCESSIBLE", Cause::kCustomer,
       ErrorReason::kKeyNotAccessible},
      {"403 ForbiddenByPolicy: access policy without the operation", kSecret,
       VaultFails("get", 403, "Forbidden", "ForbiddenByPolicy"), Call::kGenerateDek,
       Code::PERMISSION_DENIED, "KEY_NOT_ACCESSIBLE", Cause::kCustomer,
       ErrorReason::kKeyNotAccessible},
      {"403 ForbiddenByFirewall: the vault's network ACL", kSecret,
       VaultFails("unwrapkey", 403, "Forbidden", "ForbiddenByFirewall"), Call::kUnwrap,
       Code::PERMISSION_DENIED, "KEY_NOT_ACCESSIBLE", Cause::kCustomer,
       ErrorReason::kKeyNotAccessible},
      {"401 after a fresh token: the vault refuses the identity", kSecret,
       VaultFails("get", 401, "Unauthorized"), Call::kGenerateDek, Code::PERMISSION_DENIED,
       "KEY_NOT_ACCESSIBLE", Cause::kCustomer, ErrorReason::kKeyNotAccessible},
      // A version disabled to retire it: the key serves on, so it is not marked.
      {"403 KeyDisabled on unwrap: a retired version", kSecret,
       VaultFails("unwrapkey", 403, "Forbidden", "KeyDisabled"), Call::kUnwrap,
       Code::FAILED_PRECONDITION, "KEY_DISABLED", Cause::kCustomer, std::nullopt},
      {"403 KeyDisabled on the key's current version", kSecret,
       VaultFails("get", 403, "Forbidden", "KeyDisabled"), Call::kGenerateDek,
       Code::FAILED_PRECONDITION, "KEY_DISABLED", Cause::kCustomer, ErrorReason::kKeyDisabled},
      {"404 KeyNotFound: the key was deleted", kSecret, VaultFails("get", 404, "KeyNotFound"),
       Call::kGenerateDek, Code::NOT_FOUND, "KEY_NOT_FOUND", Cause::kCustomer,
       ErrorReason::kKeyNotFound},

      // --- What the broker's operator controls: alerts. -----------------
      {"Entra: wrong client secret (AADSTS7000215)", kSecret,
       EntraAnswers(EntraError(401, "invalid_client", 7000215)), Call::kGenerateDek,
       Code::UNAVAILABLE, "KMS_UNAVAILABLE", Cause::kService, std::nullopt,
       "entra identity 'app'"},
      {"Entra: expired client secret (AADSTS7000222)", kSecret,
       EntraAnswers(EntraError(401, "invalid_client", 7000222)), Call::kUnwrap, Code::UNAVAILABLE,
       "KMS_UNAVAILABLE", Cause::kService, std::nullopt, "refused the broker's own credential"},
      {"Entra: application not in the tenant (AADSTS700016)", kSecret,
       EntraAnswers(EntraError(400, "unauthorized_client", 700016)), Call::kGenerateDek,
       Code::UNAVAILABLE, "KMS_UNAVAILABLE", Cause::kService, std::nullopt,
       "no access token for the broker"},
      {"Entra: no federated credential matches (AADSTS70021)", Identity::kWorkloadIdentity,
       EntraAnswers(EntraError(400, "invalid_request", 70021)), Call::kGenerateDek,
       Code::UNAVAILABLE, "KMS_UNAVAILABLE", Cause::kService, std::nullopt, "AADSTS70021"},
      {"workload identity: the federated token file is gone", Identity::kWorkloadIdentity,
       [](ServiceErrorsTest& t) { std::remove(t.token_file().c_str()); }, Call::kUnwrap,
       Code::UNAVAILABLE, "KMS_UNAVAILABLE", Cause::kService, std::nullopt,
       "federated token file"},
      {"Entra: down (503 after retries)", kSecret,
       EntraAnswers(EntraError(503, "temporarily_unavailable", 90033)), Call::kGenerateDek,
       Code::UNAVAILABLE, "KMS_UNAVAILABLE", Cause::kService, std::nullopt},
      {"Entra: throttling (429 after retries)", kSecret, EntraAnswers(entra_throttled),
       Call::kGenerateDek, Code::RESOURCE_EXHAUSTED, "KMS_THROTTLED", Cause::kService,
       std::nullopt},
      {"vault: 500 after retries", kSecret, VaultFails("unwrapkey", 500, "InternalServerError"),
       Call::kUnwrap, Code::UNAVAILABLE, "KMS_UNAVAILABLE", Cause::kService, std::nullopt},
      {"vault: throttling (429 after retries)", kSecret, VaultFails("get", 429, "Throttled"),
       Call::kGenerateDek, Code::RESOURCE_EXHAUSTED, "KMS_THROTTLED", Cause::kService,
       std::nullopt, "", /*retry_info=*/true},
      {"vault: connection refused", kSecret, VaultMode(FakeNetwork::VaultMode::kRefuse),
       Call::kUnwrap, Code::UNAVAILABLE, "KMS_UNAVAILABLE", Cause::kService, std::nullopt},
      {"vault: 400 to a request the broker should not have sent", kSecret,
       VaultFails("get", 400, "BadParameter"), Call::kGenerateDek, Code::INTERNAL, "INTERNAL",
       Cause::kService, std::nullopt},
      {"local keyring: an EDEK of a version this replica has not loaded", kSecret, NoFault,
       Call::kUnwrapLocalAhead, Code::UNAVAILABLE, "KEY_VERSION_NOT_YET_LOADED", Cause::kService,
       std::nullopt, "version 2", /*retry_info=*/true},

      // --- What the caller did: no alert. -------------------------------
      {"the caller's deadline passes while the vault does not answer", kSecret,
       VaultMode(FakeNetwork::VaultMode::kHang), Call::kGenerateDekDeadline,
       Code::DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", Cause::kClient, std::nullopt},
      // gRPC reports a passed deadline as a cancellation to the server: a
      // call that waited for another call's fetch must not be audited as
      // CANCELLED with no reason.
      {"the caller's deadline passes while another call fetches the key", kSecret,
       [](ServiceErrorsTest& t) {
         t.network().set_vault_mode(FakeNetwork::VaultMode::kHang);
         t.StartSlowGenerateDek();
       },
       Call::kGenerateDekDeadline, Code::DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", Cause::kClient,
       std::nullopt},
      {"vault: 400 BadParameter on unwrapkey (a bad EDEK)", kSecret,
       VaultFails("unwrapkey", 400, "BadParameter"), Call::kUnwrap, Code::INVALID_ARGUMENT,
       "EDEK_INVALID", Cause::kClient, std::nullopt},
      {"an EDEK under another encryption context", kSecret, NoFault, Call::kUnwrapOtherContext,
       Code::INVALID_ARGUMENT, "EDEK_INVALID", Cause::kClient, std::nullopt},
      {"Rotate of a key pinned to one version", kSecret, NoFault, Call::kRotatePinned,
       Code::FAILED_PRECONDITION, "KEY_VERSION_PINNED", Cause::kClient, std::nullopt,
       "pinned to version"},
      {"Rotate on a read-only keyring", kSecret, NoFault, Call::kRotateLocal,
       Code::FAILED_PRECONDITION, "KEYRING_READ_ONLY", Cause::kClient, std::nullopt},
      {"local keyring: an EDEK ten versions above the current one", kSecret, NoFault,
       Call::kUnwrapLocalFarAhead, Code::INVALID_ARGUMENT, "EDEK_INVALID", Cause::kClient,
       std::nullopt},
      {"an alias no configuration names", kSecret, NoFault, Call::kGenerateDekUnknown,
       Code::NOT_FOUND, "KEY_NOT_FOUND", Cause::kClient, std::nullopt},
  };
}

std::string RowName(const ::testing::TestParamInfo<Row>& info) {
  std::string name;
  bool upper = true;
  for (char c : info.param.fault) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      name += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      upper = false;
    } else {
      upper = true;
    }
  }
  return absl::StrCat(info.index, "_", name);
}

INSTANTIATE_TEST_SUITE_P(EveryFault, ServiceErrorsTest, ::testing::ValuesIn(Rows()), RowName);

}  // namespace
}  // namespace keybroker::server
