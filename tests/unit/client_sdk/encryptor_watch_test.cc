// The Encryptor over the real Client, its WatchKeys stream and a scripted
// broker on a loopback port: a revocation the broker announces makes the
// next Encrypt ask for a DEK and the next Decrypt unwrap again, both refused;
// one made while the broker was down takes effect when the watch
// reconnects; an older broker without WatchKeys leaves the Encryptor working
// and KeyWatchStatus says so.
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keybroker/sdk/client.h"
#include "keybroker/sdk/encryptor.h"
#include "tests/fakes/scripted_key_broker.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::sdk {
namespace {

using ::keybroker::testing::HasReason;
using ::keybroker::testing::ScriptedBrokerServer;
using ::keybroker::testing::ScriptedKeyBroker;
using ::keybroker::testing::StatusIs;

constexpr absl::Duration kPatience = absl::Seconds(20);

class EncryptorWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start());
    ClientOptions options;
    options.target = server_.address();
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
    ASSERT_OK(client);
    client_ = std::move(*client);
  }

  // Starts the Encryptor and, when it watches, waits for its stream.
  void StartEncryptor(bool watch_keys = true) {
    EncryptorOptions options;
    options.dek_context = {{"tenant", "acme"}};
    options.watch_keys = watch_keys;
    absl::StatusOr<std::unique_ptr<Encryptor>> encryptor =
        Encryptor::Create(client_.get(), options);
    ASSERT_OK(encryptor);
    encryptor_ = std::move(*encryptor);
    if (watch_keys) ASSERT_TRUE(broker_.AwaitOpenStreams(1));
  }

  std::string MustEncrypt(absl::string_view alias = "orders") {
    absl::StatusOr<std::string> ciphertext = encryptor_->Encrypt(alias, "message", "aad");
    EXPECT_OK(ciphertext);
    return ciphertext.ok() ? *ciphertext : "";
  }

  // Encrypts until it fails (the event takes a moment to arrive); returns
  // the failure, or OK if it never came.
  absl::Status EncryptUntilRefused(absl::string_view alias = "orders") {
    const absl::Time deadline = absl::Now() + kPatience;
    while (absl::Now() < deadline) {
      absl::StatusOr<std::string> ciphertext = encryptor_->Encrypt(alias, "message", "aad");
      if (!ciphertext.ok()) return ciphertext.status();
      absl::SleepFor(absl::Milliseconds(5));
    }
    return absl::OkStatus();
  }

  ScriptedKeyBroker broker_{{{"orders", "orders-key"}, {"billing", "kv1.vault.azure.net/bill"}}};
  ScriptedBrokerServer server_{&broker_};
  std::unique_ptr<Client> client_;
  std::unique_ptr<Encryptor> encryptor_;
};

TEST_F(EncryptorWatchTest, ARevokedKeysDekIsAskedForAgainAndRefused) {
  StartEncryptor();
  MustEncrypt();
  MustEncrypt();
  ASSERT_EQ(broker_.generate_calls("orders"), 1);  // the DEK is cached

  broker_.SetAccessible("orders", false);
  EXPECT_THAT(EncryptUntilRefused(), HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_EQ(broker_.generate_calls("orders"), 2);

  broker_.SetAccessible("orders", true);
  MustEncrypt();
  EXPECT_EQ(broker_.generate_calls("orders"), 3);
}

TEST_F(EncryptorWatchTest, ARevokedKeysCachedUnwrapIsAskedForAgainAndRefused) {
  StartEncryptor();
  const std::string ciphertext = MustEncrypt();
  const std::string other = MustEncrypt("billing");
  for (const std::string* each : {&ciphertext, &ciphertext, &other, &other}) {
    EXPECT_OK(encryptor_->Decrypt(*each, "aad"));
  }
  ASSERT_EQ(broker_.unwrap_calls(), 2);  // one per DEK, then cached

  broker_.SetAccessible("orders", false);
  const absl::Time deadline = absl::Now() + kPatience;
  absl::StatusOr<std::string> decrypted = encryptor_->Decrypt(ciphertext, "aad");
  while (decrypted.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
    decrypted = encryptor_->Decrypt(ciphertext, "aad");
  }
  EXPECT_THAT(decrypted, HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_EQ(broker_.unwrap_calls(), 3);
  // The other key's cached unwrap stays.
  EXPECT_OK(encryptor_->Decrypt(other, "aad"));
  EXPECT_EQ(broker_.unwrap_calls(), 3);
}

// The restarted broker's initial events carry the revocation the Encryptor
// could not hear about while it was down.
TEST_F(EncryptorWatchTest, ARevocationDuringAnOutageTakesEffectOnReconnection) {
  StartEncryptor();
  MustEncrypt();
  server_.Stop();
  broker_.SetAccessible("orders", false);
  MustEncrypt();  // the cached DEK: the Encryptor knows nothing yet
  ASSERT_TRUE(server_.Start());
  EXPECT_THAT(EncryptUntilRefused(), HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_EQ(broker_.generate_calls("orders"), 2);
}

TEST_F(EncryptorWatchTest, WithoutWatchKeysNoStreamIsOpenedAndCachesLiveOn) {
  StartEncryptor(/*watch_keys=*/false);
  MustEncrypt();
  broker_.SetAccessible("orders", false);
  absl::SleepFor(absl::Milliseconds(200));
  MustEncrypt();  // the cached DEK, until max_dek_age
  EXPECT_EQ(broker_.watch_calls(), 0);
  EXPECT_EQ(broker_.generate_calls("orders"), 1);
}

TEST_F(EncryptorWatchTest, AnOlderBrokerLeavesTheEncryptorWorkingAndSaysSo) {
  broker_.SetWatchUnimplemented();
  absl::StatusOr<std::unique_ptr<Encryptor>> encryptor = Encryptor::Create(client_.get(), {});
  ASSERT_OK(encryptor);
  encryptor_ = std::move(*encryptor);
  const absl::Time deadline = absl::Now() + kPatience;
  while (encryptor_->KeyWatchStatus().ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_THAT(encryptor_->KeyWatchStatus(), StatusIs(absl::StatusCode::kUnimplemented));
  const std::string ciphertext = MustEncrypt();
  EXPECT_OK(encryptor_->Decrypt(ciphertext, "aad"));
  EXPECT_EQ(broker_.watch_calls(), 1);
}

}  // namespace
}  // namespace keybroker::sdk
