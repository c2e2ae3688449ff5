// The access probe and WatchKeys against the Key Vault emulator over TLS,
// with long cache TTLs (30 s): a revocation is noticed within the probe
// interval (1 s here), cached unwraps go at once, WatchKeys streams say so,
// and restoring access restores everything. Through the SDK too: with its
// default caches (a DEK encrypts for 5 minutes, unwraps are cached 30 s),
// 20 revocations under traffic are each refused within the probe interval
// plus one request, and the figures are printed. A key pinned to a version
// is marked when the customer disables that version, and restored.
#include <algorithm>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "gtest/gtest.h"
#include "keybroker/sdk/client.h"
#include "keybroker/sdk/encryptor.h"
#include "keybroker/sdk/error_info.h"
#include "tests/integration/azure_broker_suite.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/integration/keyvault_emulator_process.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {
namespace {

using Json = nlohmann::json;

constexpr int kProbeSeconds = 1;
constexpr int kTtlSeconds = 30;  // far beyond what the test waits
// The bound the probe promises: its interval, plus the probe request and
// slack for a loaded test machine.
const absl::Duration kBound = absl::Seconds(kProbeSeconds) + absl::Seconds(4);

// Reads a WatchKeys stream on a thread of its own.
class EventReader {
 public:
  EventReader(v1::KeyBroker::Stub* stub, std::vector<std::string> keys) {
    reader_ = OpenWatch(stub, &context_, keys);
    thread_ = std::thread([this] {
      v1::KeyEvent event;
      while (reader_->Read(&event)) {
        absl::MutexLock lock(&mu_);
        events_.push_back(event);
      }
      grpc::Status status = reader_->Finish();
      absl::MutexLock lock(&mu_);
      status_ = status;
      done_ = true;
    });
  }
  ~EventReader() {
    context_.TryCancel();
    thread_.join();
  }

  // The next event, or nullopt after `timeout` (or when the stream ended).
  std::optional<v1::KeyEvent> Next(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !events_.empty() || done_; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    if (events_.empty()) return std::nullopt;
    v1::KeyEvent event = events_.front();
    events_.pop_front();
    return event;
  }

  // The stream's status once it ended, after up to `timeout`.
  std::optional<grpc::Status> Ended(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_; };
    mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
    if (!done_) return std::nullopt;
    return status_;
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::KeyEvent>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  std::deque<v1::KeyEvent> events_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

class AccessProbeTest : public AzureBrokerSuite<AccessProbeTest> {
 protected:
  static void SetUpTestSuite() {
    StartEmulator("probe-secret");
    ASSERT_OK(emulator_->Control("create-key",
                                 {{"host", "kv1"}, {"name", "rsa"}, {"kty", "RSA"}, {"size", 2048}}));
    ASSERT_OK(emulator_->Control(
        "create-key", {{"host", "hsm1"}, {"name", "aes"}, {"kty", "oct-HSM"}, {"size", 256}}));
    AzureBrokerConfigOptions options;
    options.kv_ca_file = emulator_->ca_file();
    options.cache_ttl_seconds = kTtlSeconds;
    options.secrets_dir = dir_->path();
    options.more_cache = absl::StrCat(", access_probe_seconds: ", kProbeSeconds);
    // Keys of kv1 may also be named at run time, by URI.
    options.more_azure = absl::StrCat("    key_sources:\n      - vaults: [\"",
                                      absl::StripPrefix(emulator_->Url("kv1"), "https://"),
                                      "\"]\n        identity: app\n");
    options.more_kms = "  local:\n    keyring_file: " + dir_->File("keyring") +
                       "\n    master_key_file: " + dir_->File("master-key") + "\n";
    options.keys = AzureKeyConfig(*emulator_, "rsa", "kv1", "rsa", "app", false) +
                   AzureKeyConfig(*emulator_, "aes", "hsm1", "aes", "app", true) +
                   "  - alias: service\n    local_key: service\n";
    WriteAll(dir_->File("master-key"), std::string(64, 'a'));
    StartBroker(AzureBrokerConfig(*emulator_, options));
  }

  static void Revoke() {
    ASSERT_OK(emulator_->Control("revoke", {{"host", "kv1"}, {"client_id", kAzureClientId}}));
    ASSERT_OK(emulator_->Control("revoke", {{"host", "hsm1"}, {"client_id", kAzureClientId}}));
  }
  static void Grant() {
    ASSERT_OK(emulator_->Control("grant", {{"host", "kv1"}, {"client_id", kAzureClientId}}));
    ASSERT_OK(emulator_->Control("grant", {{"host", "hsm1"}, {"client_id", kAzureClientId}}));
  }
};

TEST_F(AccessProbeTest, WatchKeysOpensWithEachKeysState) {
  EventReader events(stub_.get(), {"rsa", "service"});
  std::optional<v1::KeyEvent> rsa = events.Next(absl::Seconds(10));
  std::optional<v1::KeyEvent> service = events.Next(absl::Seconds(10));
  ASSERT_TRUE(rsa.has_value() && service.has_value());
  EXPECT_EQ(rsa->key(), "rsa");
  EXPECT_TRUE(rsa->accessible());
  EXPECT_TRUE(rsa->initial());
  EXPECT_EQ(rsa->edek_key_name(), absl::StrCat(emulator_->Url("kv1").substr(8), "/rsa"));
  EXPECT_EQ(service->key(), "service");
  EXPECT_TRUE(service->accessible());
  EXPECT_EQ(service->edek_key_name(), "service");
  EXPECT_FALSE(events.Next(absl::Milliseconds(300)).has_value()) << "nothing changed";
}

TEST_F(AccessProbeTest, UnknownKeysAreRefused) {
  EventReader events(stub_.get(), {"rsa", "no-such-key"});
  std::optional<grpc::Status> status = events.Ended(absl::Seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GrpcReasonOf(*status), "KEY_NOT_FOUND");
}

TEST_F(AccessProbeTest, ARevocationIsNoticedWithinTheProbeIntervalWhateverTheTtls) {
  v1::GenerateDekResponse rsa, aes;
  ASSERT_TRUE(GenerateDek("rsa", &rsa).ok());
  ASSERT_TRUE(GenerateDek("aes", &aes).ok());
  std::string plaintext;
  // Unwrapped once: cached for the 30 s TTL.
  ASSERT_TRUE(Unwrap(rsa.edek(), &plaintext).ok());
  ASSERT_TRUE(Unwrap(aes.edek(), &plaintext).ok());
  EventReader events(stub_.get(), {});
  for (int i = 0; i < 3; ++i) {
    std::optional<v1::KeyEvent> initial = events.Next(absl::Seconds(10));
    ASSERT_TRUE(initial.has_value());
    EXPECT_TRUE(initial->initial());
  }

  Revoke();
  const absl::Time revoked = absl::Now();
  std::map<std::string, v1::KeyEvent> changes;
  while (changes.size() < 2) {
    std::optional<v1::KeyEvent> event = events.Next(kBound - (absl::Now() - revoked));
    ASSERT_TRUE(event.has_value()) << "no event within " << kBound;
    changes[event->key()] = *event;
  }
  for (const auto& [alias, event] : changes) {
    EXPECT_FALSE(event.accessible()) << alias;
    EXPECT_FALSE(event.initial()) << alias;
    EXPECT_EQ(event.reason(), "KEY_NOT_ACCESSIBLE") << alias;
  }
  // Long before the TTLs: the cached unwraps and the RSA public key are gone.
  EXPECT_EQ(GrpcReasonOf(Unwrap(rsa.edek(), &plaintext)), "KEY_NOT_ACCESSIBLE");
  EXPECT_EQ(GrpcReasonOf(Unwrap(aes.edek(), &plaintext)), "KEY_NOT_ACCESSIBLE");
  v1::GenerateDekResponse denied;
  EXPECT_EQ(GrpcReasonOf(GenerateDek("rsa", &denied)), "KEY_NOT_ACCESSIBLE");
  EXPECT_LT(absl::Now() - revoked, absl::Seconds(kTtlSeconds));

  Grant();
  changes.clear();
  const absl::Time granted = absl::Now();
  while (changes.size() < 2) {
    std::optional<v1::KeyEvent> event = events.Next(kBound - (absl::Now() - granted));
    ASSERT_TRUE(event.has_value()) << "no recovery event within " << kBound;
    changes[event->key()] = *event;
  }
  for (const auto& [alias, event] : changes) EXPECT_TRUE(event.accessible()) << alias;
  ASSERT_TRUE(Unwrap(rsa.edek(), &plaintext).ok());
  EXPECT_EQ(plaintext, rsa.plaintext());
  ASSERT_TRUE(Unwrap(aes.edek(), &plaintext).ok());
  EXPECT_EQ(plaintext, aes.plaintext());
}

// A key pinned to a version (its URL names one): that version is its
// current one, so the customer disabling it makes the key inaccessible
// (KEY_DISABLED), which the probe notices, key health logs and WatchKeys
// tells, however long the metadata TTL; enabling it again makes the key
// accessible. Its own broker: the key is used, so probed, and the suite's
// revocations must not see it.
class PinnedKeyProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto emulator = StartEmulatorWithSecretPrincipal(dir_.path(), "pinned-secret");
    ASSERT_OK(emulator);
    emulator_ = *std::move(emulator);
    absl::StatusOr<Json> created = emulator_->Control(
        "create-key", {{"host", "kv1"}, {"name", "cmk"}, {"kty", "RSA"}, {"size", 2048}});
    ASSERT_OK(created);
    const std::string kid = (*created)["key"]["kid"];
    version_ = kid.substr(kid.rfind('/') + 1);
    AzureBrokerConfigOptions options;
    options.kv_ca_file = emulator_->ca_file();
    options.cache_ttl_seconds = kTtlSeconds;
    options.secrets_dir = dir_.path();
    options.more_cache = absl::StrCat(", access_probe_seconds: ", kProbeSeconds);
    // Keys of kv1 may also be named at run time, by URI.
    options.more_azure = absl::StrCat("    key_sources:\n      - vaults: [\"",
                                      absl::StripPrefix(emulator_->Url("kv1"), "https://"),
                                      "\"]\n        identity: app\n");
    options.keys =
        AzureKeyConfig(*emulator_, "pinned", "kv1", absl::StrCat("cmk/", version_), "app", false);
    WriteAll(dir_.File("keybroker.yaml"), AzureBrokerConfig(*emulator_, options));
    auto broker = BrokerProcess::Start({"--config", dir_.File("keybroker.yaml")});
    ASSERT_OK(broker);
    broker_ = *std::move(broker);
    ASSERT_TRUE(broker_->WaitForLogLine("key_checks_done", absl::Seconds(60)));
    stub_ = NewStub(broker_->address());
  }

  grpc::Status GenerateDek() {
    v1::GenerateDekRequest request;
    request.set_key("pinned");
    (*request.mutable_context())["tenant"] = "acme";
    v1::GenerateDekResponse response;
    return stub_->GenerateDek(Ctx().get(), request, &response);
  }

  void SetEnabled(bool enabled) {
    ASSERT_OK(emulator_->Control(
        "set-attributes",
        {{"host", "kv1"}, {"name", "cmk"}, {"version", version_}, {"enabled", enabled}}));
  }

  // The broker's log lines of `event` so far.
  std::vector<Json> Events(const std::string& event) {
    std::vector<Json> events;
    for (const std::string& line : broker_->Lines()) {
      Json json = Json::parse(line, nullptr, false);
      if (json.is_object() && json["event"] == event) events.push_back(json);
    }
    return events;
  }

  TempDir dir_;
  std::unique_ptr<KeyVaultEmulator> emulator_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<v1::KeyBroker::Stub> stub_;
  std::string version_;
};

TEST_F(PinnedKeyProbeTest, DisablingThePinnedVersionMarksTheKeyAndEnablingItRestoresIt) {
  EventReader events(stub_.get(), {"pinned"});
  std::optional<v1::KeyEvent> initial = events.Next(absl::Seconds(10));
  ASSERT_TRUE(initial.has_value());
  EXPECT_TRUE(initial->accessible());
  ASSERT_TRUE(GenerateDek().ok());  // used: the probe asks about it from now on

  SetEnabled(false);
  const absl::Time disabled = absl::Now();
  std::optional<v1::KeyEvent> down = events.Next(kBound);
  ASSERT_TRUE(down.has_value()) << "no event within " << kBound;
  EXPECT_FALSE(down->accessible());
  EXPECT_FALSE(down->initial());
  EXPECT_EQ(down->reason(), "KEY_DISABLED");
  EXPECT_LT(absl::Now() - disabled, absl::Seconds(kTtlSeconds)) << "the probe, not the TTL";
  grpc::Status refused = GenerateDek();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(GrpcReasonOf(refused), "KEY_DISABLED");
  ASSERT_TRUE(broker_->WaitForLogLine("customer_key_inaccessible", absl::Seconds(5)));
  std::vector<Json> inaccessible = Events("customer_key_inaccessible");
  ASSERT_EQ(inaccessible.size(), 1u);
  EXPECT_EQ(inaccessible[0]["alias"], "pinned");
  EXPECT_EQ(inaccessible[0]["version"], version_);
  EXPECT_EQ(inaccessible[0]["reason"], "KEY_DISABLED");
  EXPECT_EQ(inaccessible[0]["cause"], "customer");

  SetEnabled(true);
  std::optional<v1::KeyEvent> up = events.Next(kBound);
  ASSERT_TRUE(up.has_value()) << "no recovery event within " << kBound;
  EXPECT_TRUE(up->accessible());
  EXPECT_TRUE(GenerateDek().ok());
  ASSERT_TRUE(broker_->WaitForLogLine("customer_key_recovered", absl::Seconds(5)));
  EXPECT_EQ(Events("customer_key_recovered").size(), 1u);
  EXPECT_FALSE(events.Next(absl::Milliseconds(1500)).has_value())
      << "one event each way, not one per probe";
  EXPECT_EQ(Events("customer_key_inaccessible").size(), 1u);
}

std::string SdkReason(const absl::Status& status) {
  std::optional<sdk::ErrorInfo> info = sdk::ErrorInfoOf(status);
  return info.has_value() ? info->reason : "";
}

// An application's SDK on the suite's broker, with default settings (a DEK
// encrypts for 5 minutes, unwraps are cached 30 s), and one record it sealed
// and opened (so cached in the SDK and the broker).
struct SdkWithRecord {
  std::unique_ptr<sdk::Client> client;
  std::unique_ptr<sdk::Encryptor> encryptor;
  std::string alias;
  std::string aad;
  std::string record;
  std::string sealed;
};

absl::StatusOr<SdkWithRecord> NewSdkWithRecord(const std::string& address,
                                               const std::string& alias, const std::string& aad,
                                               const std::string& record) {
  SdkWithRecord sdk{.alias = alias, .aad = aad, .record = record};
  sdk::ClientOptions client_options;
  client_options.target = address;
  ASSIGN_OR_RETURN(sdk.client, sdk::Client::Create(client_options));
  ASSIGN_OR_RETURN(sdk.encryptor, sdk::Encryptor::Create(sdk.client.get(), {}));
  ASSIGN_OR_RETURN(sdk.sealed, sdk.encryptor->Encrypt(alias, record, aad));
  RETURN_IF_ERROR(sdk.encryptor->Decrypt(sdk.sealed, aad).status());
  return sdk;
}

// Traffic, as an application makes it: encrypts new records and reads the
// old one until both are refused (KEY_NOT_ACCESSIBLE), for up to `give_up`.
// Returns how long that took, or nullopt if they never both were.
std::optional<absl::Duration> TrafficUntilRefused(SdkWithRecord& sdk, absl::Duration give_up) {
  const absl::Time revoked = absl::Now();
  bool encrypt_refused = false, decrypt_refused = false;
  while (!(encrypt_refused && decrypt_refused) && absl::Now() - revoked < give_up) {
    absl::StatusOr<std::string> encrypted = sdk.encryptor->Encrypt(sdk.alias, sdk.record, sdk.aad);
    if (!encrypted.ok()) {
      EXPECT_EQ(SdkReason(encrypted.status()), "KEY_NOT_ACCESSIBLE") << encrypted.status();
      encrypt_refused = true;
    }
    absl::StatusOr<std::string> decrypted = sdk.encryptor->Decrypt(sdk.sealed, sdk.aad);
    if (!decrypted.ok()) {
      EXPECT_EQ(SdkReason(decrypted.status()), "KEY_NOT_ACCESSIBLE") << decrypted.status();
      decrypt_refused = true;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (!(encrypt_refused && decrypt_refused)) return std::nullopt;
  return absl::Now() - revoked;
}

// Once access is back, the old record reads back whole (nothing was lost).
void ExpectRestored(SdkWithRecord& sdk) {
  absl::StatusOr<std::string> back;
  const absl::Time granted = absl::Now();
  do {
    absl::SleepFor(absl::Milliseconds(20));
    back = sdk.encryptor->Decrypt(sdk.sealed, sdk.aad);
  } while (!back.ok() && absl::Now() - granted < absl::Seconds(30));
  ASSERT_OK(back);
  EXPECT_EQ(*back, sdk.record);
}

// A bound for the SDK tests to fail on: the probe interval plus one request,
// with room for a loaded (sanitized) test machine.
const absl::Duration kSdkBound = absl::Seconds(kProbeSeconds) + absl::Seconds(3);

// A key named at run time (by URI, as a customer gives it at onboarding)
// reaches the SDK's watch of every key too: its revocation stops Encrypt and
// Decrypt within the probe interval plus one request, not the SDK's TTLs
// (max_dek_age 5 min, decrypt_cache_ttl 30 s), and its restoration loses
// nothing.
TEST_F(AccessProbeTest, ARevocationOfAKeyNamedByUriReachesTheSdkWithinTheProbeInterval) {
  ASSERT_OK(emulator_->Control(
      "create-key", {{"host", "kv1"}, {"name", "by-uri"}, {"kty", "RSA"}, {"size", 2048}}));
  absl::StatusOr<SdkWithRecord> sdk = NewSdkWithRecord(
      broker_->address(), emulator_->Url("kv1") + "/keys/by-uri", "tenant-uri", "uuuu");
  ASSERT_OK(sdk);
  Revoke();
  std::optional<absl::Duration> took = TrafficUntilRefused(*sdk, absl::Seconds(25));
  Grant();
  ASSERT_TRUE(took.has_value()) << "never refused";
  EXPECT_LE(*took, kSdkBound);
  ExpectRestored(*sdk);
}

TEST_F(AccessProbeTest, TwentyRevocationsReachTheSdkWithinTheProbeIntervalPlusOneRequest) {
  absl::StatusOr<SdkWithRecord> sdk =
      NewSdkWithRecord(broker_->address(), "rsa", "tenant-acme", std::string(1024, 'r'));
  ASSERT_OK(sdk);
  constexpr int kRevocations = 20;
  std::vector<absl::Duration> took;
  for (int i = 0; i < kRevocations; ++i) {
    Revoke();
    std::optional<absl::Duration> refused = TrafficUntilRefused(*sdk, absl::Seconds(30));
    ASSERT_TRUE(refused.has_value()) << "revocation " << i << " never refused";
    took.push_back(*refused);
    EXPECT_LE(took.back(), kSdkBound) << "revocation " << i;
    Grant();
    ExpectRestored(*sdk);
    ASSERT_OK(sdk->encryptor->Encrypt(sdk->alias, sdk->record, sdk->aad).status());
  }
  std::sort(took.begin(), took.end());
  std::printf(
      "revocation through the SDK, %d times, default SDK and broker TTLs, "
      "cache.access_probe_seconds %d: time to the first refusal of both Encrypt and Decrypt "
      "p50 %s, max %s (bound: the probe interval plus one request)\n",
      kRevocations, kProbeSeconds, absl::FormatDuration(took[took.size() / 2]).c_str(),
      absl::FormatDuration(took.back()).c_str());
}

}  // namespace
}  // namespace keybroker::testing
