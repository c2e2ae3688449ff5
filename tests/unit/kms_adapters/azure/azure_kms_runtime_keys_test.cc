// AzureKms keys named at run time: added from a URI or an EDEK whose host a
// key source covers, bounded by least recent use, never for other hosts.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/error_reason.h"
#include "crypto/edek.h"
#include "crypto/encryption_context.h"
#include "crypto/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kms_adapters/azure/azure_kms.h"
#include "tests/fakes/fake_http_client.h"
#include "tests/fakes/fake_token_provider.h"
#include "tests/fakes/in_memory_key_vault.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::FakeHttpClient;
using ::keybroker::testing::FakeTokenProvider;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::InMemoryKeyVault;
using ::testing::ElementsAre;

constexpr char kCovered[] = "tenants.vault.azure.net";
constexpr char kConfiguredUrl[] = "https://tenants.vault.azure.net/keys/configured";

crypto::EncryptionContext Context() {
  return *crypto::EncryptionContext::FromPairs({{"tenant", "a"}});
}

std::string UrlOf(const std::string& name) {
  return absl::StrCat("https://", kCovered, "/keys/", name);
}

// Records the keys added and removed.
class KeyEvents : public KmsObserver {
 public:
  void KeyAdded(absl::string_view key_id, absl::string_view) override {
    absl::MutexLock lock(&mu_);
    events_.push_back(absl::StrCat("+", key_id));
  }
  void KeyRemoved(absl::string_view key_id) override {
    absl::MutexLock lock(&mu_);
    events_.push_back(absl::StrCat("-", key_id));
  }
  std::vector<std::string> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
};

class AzureKmsRuntimeKeysTest : public ::testing::Test {
 protected:
  AzureKmsRuntimeKeysTest() : http_(vault_.Handler()), client_(&http_) { Use(100); }

  void Use(size_t max_runtime_keys) {
    AzureKmsOptions options;
    options.metadata_ttl = absl::Minutes(10);
    options.max_runtime_keys = max_runtime_keys;
    options.key_sources = [this](const KeyId& id) -> std::optional<AzureKeyOptions> {
      if (id.host != kCovered) return std::nullopt;
      AzureKeyOptions key;
      key.kind = VaultKind::kVault;
      key.scope = "https://vault.azure.net/.default";
      key.tokens = &tokens_;
      return key;
    };
    kms_ = std::make_unique<AzureKms>(&client_, options, &events_);
  }

  std::string AddVaultKey(const std::string& name) {
    return vault_.AddVersion(kCovered, name, InMemoryKeyVault::Rsa());
  }

  absl::StatusOr<WrappedKey> Wrap(const std::string& key_id) {
    return kms_->Wrap(key_id, *crypto::RandomSecret(32), Context(), CallOptions());
  }
  absl::StatusOr<crypto::SecretBytes> Unwrap(const WrappedKey& wrapped) {
    absl::StatusOr<crypto::Edek> edek = crypto::DecodeEdek(wrapped.edek);
    if (!edek.ok()) return edek.status();
    return kms_->Unwrap(*edek, Context(), CallOptions());
  }

  size_t requests() const { return http_.requests().size(); }

  InMemoryKeyVault vault_;
  FakeHttpClient http_;
  KeyVaultClient client_;
  FakeTokenProvider tokens_;
  KeyEvents events_;
  std::unique_ptr<AzureKms> kms_;
};

TEST_F(AzureKmsRuntimeKeysTest, AUriOnACoveredHostResolvesWithoutARequest) {
  EXPECT_THAT(kms_->KeyIdForUri("https://TENANTS.vault.azure.net/keys/Tenant-A"),
              ::testing::Eq(absl::StatusOr<std::string>(UrlOf("tenant-a"))));
  std::string versioned = UrlOf("tenant-a") + "/0123456789abcdef0123456789abcdef";
  EXPECT_THAT(kms_->KeyIdForUri(versioned), ::testing::Eq(absl::StatusOr<std::string>(versioned)));
  EXPECT_THAT(kms_->KeyIdForUri("https://other.vault.azure.net/keys/k"),
              HasReason(ErrorReason::kKeyNotFound));
  EXPECT_THAT(kms_->KeyIdForUri("https://tenants.vault.azure.net/secrets/k"),
              HasReason(ErrorReason::kInvalidRequest));
  EXPECT_EQ(requests(), 0u);
  EXPECT_TRUE(events_.events().empty()) << "resolving keeps nothing";
}

TEST_F(AzureKmsRuntimeKeysTest, AKeyNamedByUriWrapsAndUnwraps) {
  std::string version = AddVaultKey("tenant-a");
  absl::StatusOr<WrappedKey> wrapped = Wrap(UrlOf("tenant-a"));
  ASSERT_OK(wrapped);
  EXPECT_EQ(wrapped->key_version, version);
  EXPECT_THAT(events_.events(), ElementsAre("+" + UrlOf("tenant-a")));
  absl::StatusOr<crypto::SecretBytes> dek = Unwrap(*wrapped);
  EXPECT_OK(dek);
  absl::StatusOr<KeyDescription> description = kms_->Describe(UrlOf("tenant-a"), CallOptions());
  ASSERT_OK(description);
  EXPECT_TRUE(description->customer_managed);
}

TEST_F(AzureKmsRuntimeKeysTest, AnEdekOfACoveredKeyIsUnwrappedByABrokerThatNeverSawIt) {
  AddVaultKey("tenant-a");
  absl::StatusOr<WrappedKey> wrapped = Wrap(UrlOf("tenant-a"));
  ASSERT_OK(wrapped);
  Use(100);  // another replica, or after a restart
  absl::StatusOr<crypto::Edek> edek = crypto::DecodeEdek(wrapped->edek);
  ASSERT_OK(edek);
  EXPECT_THAT(kms_->KeyIdOf(*edek), ::testing::Eq(absl::StatusOr<std::string>(UrlOf("tenant-a"))));
  EXPECT_OK(Unwrap(*wrapped));
}

TEST_F(AzureKmsRuntimeKeysTest, UncoveredHostsAreRefusedWithoutARequest) {
  vault_.AddVersion("other.vault.azure.net", "k", InMemoryKeyVault::Rsa());
  EXPECT_THAT(Wrap("https://other.vault.azure.net/keys/k"), HasReason(ErrorReason::kKeyNotFound));
  crypto::Edek edek;
  edek.kms = crypto::EdekKms::kAzure;
  edek.algorithm = crypto::EdekAlgorithm::kRsaOaep256;
  edek.key_name = "other.vault.azure.net/k";
  edek.key_version = "0123456789abcdef0123456789abcdef";
  edek.wrapped = std::string(256, 'x');
  EXPECT_THAT(kms_->Unwrap(edek, Context(), CallOptions()), HasReason(ErrorReason::kEdekInvalid));
  edek.key_name = "TENANTS.vault.azure.net/k";  // not how this broker names keys
  EXPECT_THAT(kms_->Unwrap(edek, Context(), CallOptions()), HasReason(ErrorReason::kEdekInvalid));
  EXPECT_EQ(requests(), 0u);
}

TEST_F(AzureKmsRuntimeKeysTest, TheLeastRecentlyUsedRuntimeKeyIsDroppedAndComesBackOnDemand) {
  Use(2);
  vault_.AddVersion(kCovered, "configured", InMemoryKeyVault::Rsa());
  AzureKeyOptions configured;
  configured.key_url = kConfiguredUrl;
  configured.scope = "https://vault.azure.net/.default";
  configured.tokens = &tokens_;
  ASSERT_OK(kms_->AddKey(configured));
  std::vector<WrappedKey> wrapped;
  for (const char* name : {"k1", "k2", "k3"}) {
    AddVaultKey(name);
    absl::StatusOr<WrappedKey> one = Wrap(UrlOf(name));
    ASSERT_OK(one);
    wrapped.push_back(*one);
  }
  ASSERT_OK(Wrap(kConfiguredUrl));
  // Same second of use for all: the first added goes first.
  EXPECT_THAT(events_.events(), ElementsAre("+" + UrlOf("k1"), "+" + UrlOf("k2"), "-" + UrlOf("k1"),
                                            "+" + UrlOf("k3")));
  for (const WrappedKey& one : wrapped) EXPECT_OK(Unwrap(one));
  EXPECT_OK(Wrap(UrlOf("k1")));
  std::vector<std::string> events = events_.events();
  EXPECT_EQ(
      std::count_if(events.begin(), events.end(),
                    [](const std::string& e) { return e[0] == '-'; }) +
          2,
      std::count_if(events.begin(), events.end(), [](const std::string& e) { return e[0] == '+'; }))
      << "never more than two runtime keys";
  for (const std::string& event : events) EXPECT_NE(event, "-" + std::string(kConfiguredUrl));
  EXPECT_THAT(kms_->KeysUsedWithin(absl::Minutes(1)), ::testing::Contains(kConfiguredUrl));
}

TEST_F(AzureKmsRuntimeKeysTest, ConcurrentCallsOverMoreKeysThanTheBoundAllSucceed) {
  Use(2);
  const std::vector<std::string> names = {"c1", "c2", "c3", "c4"};
  for (const std::string& name : names) AddVaultKey(name);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        absl::StatusOr<WrappedKey> wrapped = Wrap(UrlOf(names[(t + i) % names.size()]));
        if (!wrapped.ok() || !Unwrap(*wrapped).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace keybroker::kms::azure
