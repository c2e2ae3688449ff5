// What the Encryptor does with its source's key events (FakeDekSource's
// Announce, no gRPC: the concurrency test runs under TSan): an inaccessible
// key's DEKs and cached unwraps are dropped, by alias and by the key name in
// the EDEKs, and nothing else; after the event no Encrypt or Decrypt on any
// thread succeeds with them. Over the real Client and WatchKeys stream:
// encryptor_watch_test.cc.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "crypto/edek.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keybroker/sdk/encryptor.h"
#include "tests/fakes/fake_dek_source.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::sdk {
namespace {

using ::keybroker::testing::FakeDekSource;
using ::keybroker::testing::HasReason;

// FakeDekSource's EDEKs name the alias as their key.
KeyEvent Inaccessible(const std::string& alias, const std::string& edek_key_name) {
  KeyEvent event;
  event.key = alias;
  event.accessible = false;
  event.reason = "KEY_NOT_ACCESSIBLE";
  event.edek_key_name = edek_key_name;
  return event;
}

class EncryptorKeyEventsTest : public ::testing::Test {
 protected:
  void Start() {
    absl::StatusOr<std::unique_ptr<Encryptor>> encryptor = Encryptor::Create(&source_, options_);
    ASSERT_OK(encryptor);
    encryptor_ = std::move(*encryptor);
  }

  std::string MustEncrypt(absl::string_view alias = "orders") {
    absl::StatusOr<std::string> ciphertext = encryptor_->Encrypt(alias, "message", "aad");
    EXPECT_OK(ciphertext);
    return ciphertext.ok() ? *ciphertext : "";
  }

  void MustDecrypt(const std::string& ciphertext) {
    absl::StatusOr<std::string> plaintext = encryptor_->Decrypt(ciphertext, "aad");
    EXPECT_OK(plaintext);
    if (plaintext.ok()) EXPECT_EQ(*plaintext, "message");
  }

  FakeDekSource source_;
  EncryptorOptions options_;
  std::unique_ptr<Encryptor> encryptor_;
};

TEST_F(EncryptorKeyEventsTest, AnInaccessibleKeysDeksAndCachedUnwrapsAreDropped) {
  Start();
  const std::string ciphertext = MustEncrypt();
  MustDecrypt(ciphertext);
  MustDecrypt(ciphertext);  // this thread's recent entry
  ASSERT_EQ(source_.generate_calls(), 1);
  ASSERT_EQ(source_.unwrap_calls(), 1);

  source_.Announce(Inaccessible("orders", "orders"));
  MustEncrypt();
  EXPECT_EQ(source_.generate_calls(), 2);
  MustDecrypt(ciphertext);
  EXPECT_EQ(source_.unwrap_calls(), 2);
}

// The broker refuses once the key is inaccessible: its error comes back.
TEST_F(EncryptorKeyEventsTest, AfterTheEventTheBrokersRefusalComesBack) {
  Start();
  const std::string ciphertext = MustEncrypt();
  MustDecrypt(ciphertext);
  source_.FailWith(MakeError(ErrorReason::kKeyNotAccessible, "access removed"));
  source_.Announce(Inaccessible("orders", "orders"));
  EXPECT_THAT(encryptor_->Encrypt("orders", "m", "aad"), HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_THAT(encryptor_->Decrypt(ciphertext, "aad"), HasReason(ErrorReason::kKeyNotAccessible));
}

TEST_F(EncryptorKeyEventsTest, AccessibleEventsAndOtherKeysEventsDropNothing) {
  Start();
  const std::string ciphertext = MustEncrypt();
  MustDecrypt(ciphertext);
  KeyEvent accessible = Inaccessible("orders", "orders");
  accessible.accessible = true;
  accessible.reason.clear();
  source_.Announce(accessible);
  source_.Announce(Inaccessible("billing", "billing"));
  MustEncrypt();
  MustDecrypt(ciphertext);
  EXPECT_EQ(source_.generate_calls(), 1);
  EXPECT_EQ(source_.unwrap_calls(), 1);
}

// An alias that is not the one the event names (a key URI for the same key,
// say) loses its DEKs too when they were made under that key.
TEST_F(EncryptorKeyEventsTest, DeksAreMatchedByTheKeyNameInTheirEdeksToo) {
  Start();
  const std::string ciphertext = MustEncrypt("orders");
  MustDecrypt(ciphertext);
  source_.Announce(Inaccessible("orders-by-another-name", "orders"));
  MustEncrypt("orders");
  EXPECT_EQ(source_.generate_calls(), 2);
  MustDecrypt(ciphertext);
  EXPECT_EQ(source_.unwrap_calls(), 2);
}

// A key URI alias written another way than the broker's name of the key (upper
// case, a version) holds no DEK while its first fetch is in flight, so no
// EDEK to match: the event still reaches it by the URI's key name, and the
// fetched DEK is not used.
TEST_F(EncryptorKeyEventsTest, AnEventReachesAUriAliasWhoseFetchIsInFlight) {
  Start();
  const std::string uri =
      "https://KV1.vault.azure.net:443/keys/Bill/0123456789abcdef0123456789abcdef";
  source_.HoldGenerateFrom(1);
  absl::StatusOr<std::string> encrypted;
  std::thread encrypting([&] { encrypted = encryptor_->Encrypt(uri, "message", "aad"); });
  ASSERT_TRUE(source_.AwaitHeld(1));
  source_.Announce(
      Inaccessible("https://kv1.vault.azure.net/keys/bill", "kv1.vault.azure.net/bill"));
  source_.Release();
  encrypting.join();
  // The DEK of the fetch the event overtook was dropped: the Encrypt that
  // waited for it asked the broker again (which would refuse, were the key
  // still inaccessible) and sealed under the second DEK.
  ASSERT_OK(encrypted);
  EXPECT_EQ(source_.generate_calls(), 2);
  const std::string edek = encrypted->substr(
      3, (static_cast<uint8_t>((*encrypted)[1]) << 8) | static_cast<uint8_t>((*encrypted)[2]));
  absl::StatusOr<crypto::Edek> decoded = crypto::DecodeEdek(edek);
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->key_version, "2");
}

TEST_F(EncryptorKeyEventsTest, TheEncryptorWatchesForItsLifetimeUnlessTurnedOff) {
  Start();
  EXPECT_EQ(source_.open_watches(), 1);
  EXPECT_OK(encryptor_->KeyWatchStatus());
  encryptor_.reset();
  EXPECT_EQ(source_.open_watches(), 0);

  options_.watch_keys = false;
  Start();
  EXPECT_EQ(source_.open_watches(), 0);
  EXPECT_OK(encryptor_->KeyWatchStatus());
  const std::string ciphertext = MustEncrypt();
  MustDecrypt(ciphertext);
}

TEST_F(EncryptorKeyEventsTest, ASourceThatCannotWatchIsUsedAsBefore) {
  source_.CannotWatch();
  Start();
  EXPECT_OK(encryptor_->KeyWatchStatus());
  const std::string ciphertext = MustEncrypt();
  MustDecrypt(ciphertext);
  MustDecrypt(ciphertext);
  EXPECT_EQ(source_.unwrap_calls(), 1);
}

// Threads encrypt and decrypt (each through its own lease and recent entry,
// and some through the shared paths) while the key is revoked: once the
// event has been handled, none of them succeeds again.
TEST_F(EncryptorKeyEventsTest, UnderTrafficNothingSucceedsOnceTheEventIsHandled) {
  options_.max_encryptions_per_dek = 1 << 20;  // leases of 256 uses
  Start();
  const std::string old_ciphertext = MustEncrypt();
  constexpr int kThreads = 6;
  std::atomic<bool> revoked{false};
  std::atomic<int> ready{0};
  std::vector<int> successes_after(kThreads, 0), successes_before(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Until 20 rounds after the event, which comes once every thread has
      // done 10.
      for (int i = 0, rounds_after = 0; rounds_after < 20; ++i) {
        // Read before the calls: a call that starts after the event was
        // handled must fail.
        const bool after = revoked.load();
        absl::StatusOr<std::string> ciphertext = encryptor_->Encrypt("orders", "message", "aad");
        const bool decrypted = encryptor_->Decrypt(old_ciphertext, "aad").ok();
        const bool succeeded = ciphertext.ok() || decrypted;
        (after ? successes_after : successes_before)[t] += succeeded ? 1 : 0;
        if (i == 10) ready.fetch_add(1);
        if (after) ++rounds_after;
      }
    });
  }
  while (ready.load() < kThreads) std::this_thread::yield();
  source_.FailWith(MakeError(ErrorReason::kKeyNotAccessible, "access removed"));
  source_.Announce(Inaccessible("orders", "orders"));
  revoked = true;
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(successes_after, ::testing::Each(0));
  EXPECT_THAT(successes_before, ::testing::Each(::testing::Gt(0)));
}

}  // namespace
}  // namespace keybroker::sdk
