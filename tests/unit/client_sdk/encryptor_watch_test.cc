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
#include "keybroker/sdk/encryptor.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/client_sdk/scripted_broker_test.h"

namespace keybroker::sdk {
namespace {

using ::keybroker::testing::Eventually;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::StatusIs;

class EncryptorWatchTest : public ::keybroker::testing::ScriptedBrokerTest {
 protected:
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
  absl::Status EncryptUntilRefused() {
    absl::Status encrypted;
    Eventually([&] {
      encrypted = encryptor_->Encrypt("orders", "message", "aad").status();
      return !encrypted.ok();
    });
    return encrypted;
  }

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
  absl::Status decrypted;
  Eventually([&] {
    decrypted = encryptor_->Decrypt(ciphertext, "aad").status();
    return !decrypted.ok();
  });
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
  Eventually([&] { return !encryptor_->KeyWatchStatus().ok(); });
  EXPECT_THAT(encryptor_->KeyWatchStatus(), StatusIs(absl::StatusCode::kUnimplemented));
  const std::string ciphertext = MustEncrypt();
  EXPECT_OK(encryptor_->Decrypt(ciphertext, "aad"));
  EXPECT_EQ(broker_.watch_calls(), 1);
}

}  // namespace
}  // namespace keybroker::sdk
