#include "keybroker/sdk/encryptor.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_dek_source.h"
#include "tests/fakes/fake_sdk_clock.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::sdk {
namespace {

using ::keybroker::testing::FakeDekSource;
using ::keybroker::testing::FakeSdkClock;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// The EDEK inside a format-1 ciphertext (docs/ciphertext-format.md).
std::string EdekOf(const std::string& ciphertext) {
  size_t size = (static_cast<uint8_t>(ciphertext[1]) << 8) | static_cast<uint8_t>(ciphertext[2]);
  return ciphertext.substr(3, size);
}

class EncryptorTest : public ::testing::Test {
 protected:
  EncryptorTest() {
    options_.dek_context = {{"tenant", "a"}};
    options_.clock = &clock_;
  }

  void Start() {
    absl::StatusOr<std::unique_ptr<Encryptor>> encryptor = Encryptor::Create(&source_, options_);
    ASSERT_OK(encryptor);
    encryptor_ = std::move(*encryptor);
  }

  std::string MustEncrypt(absl::string_view plaintext, absl::string_view aad = "aad") {
    absl::StatusOr<std::string> ciphertext = encryptor_->Encrypt("orders", plaintext, aad);
    EXPECT_OK(ciphertext);
    return ciphertext.ok() ? *ciphertext : "";
  }

  std::string MustDecrypt(const std::string& ciphertext, absl::string_view aad = "aad") {
    absl::StatusOr<std::string> plaintext = encryptor_->Decrypt(ciphertext, aad);
    EXPECT_OK(plaintext);
    return plaintext.ok() ? *plaintext : "<failed>";
  }

  FakeDekSource source_;
  FakeSdkClock clock_;
  EncryptorOptions options_;
  std::unique_ptr<Encryptor> encryptor_;
};

TEST_F(EncryptorTest, RoundTrips) {
  Start();
  std::string binary(256, '\0');
  for (int i = 0; i < 256; ++i) binary[i] = static_cast<char>(i);
  for (const std::string& plaintext : {std::string(), std::string("x"), std::string("hello, world"),
                                       binary, std::string(100000, 'p')}) {
    for (const std::string& aad : {std::string(), std::string("topic=orders"), binary}) {
      std::string ciphertext = MustEncrypt(plaintext, aad);
      absl::StatusOr<std::string> decrypted = encryptor_->Decrypt(ciphertext, aad);
      ASSERT_OK(decrypted);
      EXPECT_EQ(*decrypted, plaintext);
    }
  }
}

// The caller's buffers are reused and replaced whole, whatever they held.
TEST_F(EncryptorTest, EncryptIntoAndDecryptIntoReuseTheCallersBuffers) {
  Start();
  std::string ciphertext = "left over from before, longer than what comes next ...........";
  std::string plaintext = "stale";
  for (const std::string& message :
       {std::string("hello"), std::string(3000, 'x'), std::string(), std::string("again")}) {
    ASSERT_OK(encryptor_->EncryptInto("orders", message, "aad", ciphertext));
    EXPECT_EQ(MustDecrypt(ciphertext), message);
    ASSERT_OK(encryptor_->DecryptInto(ciphertext, "aad", plaintext));
    EXPECT_EQ(plaintext, message);
  }
}

TEST_F(EncryptorTest, EncryptIntoAndDecryptIntoLeaveNothingOnError) {
  Start();
  std::string ciphertext = "previous contents";
  EXPECT_FALSE(encryptor_->EncryptInto("", "m", "aad", ciphertext).ok());
  EXPECT_TRUE(ciphertext.empty());
  ASSERT_OK(encryptor_->EncryptInto("orders", "secret message", "aad", ciphertext));
  std::string plaintext = "previous contents";
  EXPECT_THAT(encryptor_->DecryptInto(ciphertext, "other aad", plaintext),
              HasReason(ErrorReason::kEdekInvalid));
  EXPECT_TRUE(plaintext.empty());
  source_.FailWith(MakeError(ErrorReason::kKmsUnavailable, "broker unreachable"));
  options_.max_encryptions_per_dek = 1;
  Start();
  ciphertext = "previous contents";
  EXPECT_THAT(encryptor_->EncryptInto("orders", "m", "aad", ciphertext),
              HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_TRUE(ciphertext.empty());
}

// The buffer is asked for once, with the exact size, and what is written
// there decrypts like Encrypt's ciphertext; the bytes past it are untouched.
TEST_F(EncryptorTest, EncryptToBufferWritesIntoTheCallersMemory) {
  Start();
  for (const std::string& message : {std::string("hello"), std::string(3000, 'x'), std::string()}) {
    std::vector<char> buffer;
    int asked = 0;
    absl::StatusOr<size_t> written =
        encryptor_->EncryptToBuffer("orders", message, "aad", [&](size_t size) {
          ++asked;
          buffer.assign(size + 8, '#');
          return absl::Span<char>(buffer);
        });
    ASSERT_OK(written);
    EXPECT_EQ(asked, 1);
    ASSERT_EQ(*written + 8, buffer.size());
    EXPECT_EQ(std::string(buffer.end() - 8, buffer.end()), "########");
    const std::string ciphertext(buffer.data(), *written);
    EXPECT_EQ(ciphertext.size(), MustEncrypt(message).size());
    EXPECT_EQ(MustDecrypt(ciphertext), message);
  }
}

TEST_F(EncryptorTest, EncryptToBufferRefusesATooSmallBuffer) {
  Start();
  std::string buffer(10, '#');
  absl::StatusOr<size_t> written = encryptor_->EncryptToBuffer(
      "orders", "secret message", "aad", [&](size_t) { return absl::Span<char>(buffer); });
  EXPECT_THAT(written, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(buffer, std::string(10, '#'));
  written = encryptor_->EncryptToBuffer("orders", "m", "aad",
                                        [](size_t) { return absl::Span<char>(); });
  EXPECT_THAT(written, StatusIs(absl::StatusCode::kResourceExhausted));
  // An error before a DEK is found asks for no buffer.
  written = encryptor_->EncryptToBuffer("", "m", "aad", [](size_t) -> absl::Span<char> {
    ADD_FAILURE() << "a buffer was asked for";
    return {};
  });
  EXPECT_THAT(written, HasReason(ErrorReason::kInvalidRequest));
}

TEST_F(EncryptorTest, CiphertextHasTheDocumentedLayout) {
  Start();
  std::string ciphertext = MustEncrypt("hello");
  std::string edek = EdekOf(ciphertext);
  EXPECT_EQ(ciphertext[0], '\x01');
  EXPECT_TRUE(source_.DekOf(edek).has_value());
  EXPECT_EQ(ciphertext.size(), 1 + 2 + edek.size() + 12 + 5 + 16);
  EXPECT_EQ(ciphertext.find("hello"), std::string::npos);
}

TEST_F(EncryptorTest, EqualPlaintextsGetDifferentNonces) {
  Start();
  std::string a = MustEncrypt("same"), b = MustEncrypt("same");
  EXPECT_EQ(EdekOf(a), EdekOf(b));
  EXPECT_NE(a, b);
}

TEST_F(EncryptorTest, WrongAadIsEdekInvalid) {
  Start();
  std::string ciphertext = MustEncrypt("secret", "account=1");
  for (const std::string& aad :
       {std::string("account=2"), std::string(), std::string("account=1\0", 10),
        std::string("account="), std::string("xaccount=1")}) {
    EXPECT_THAT(encryptor_->Decrypt(ciphertext, aad), HasReason(ErrorReason::kEdekInvalid)) << aad;
  }
}

TEST_F(EncryptorTest, EmptyAadDiffersFromAnyOther) {
  Start();
  std::string ciphertext = MustEncrypt("secret", "");
  EXPECT_THAT(encryptor_->Decrypt(ciphertext, std::string(1, '\0')),
              HasReason(ErrorReason::kEdekInvalid));
  EXPECT_OK(encryptor_->Decrypt(ciphertext, ""));
}

TEST_F(EncryptorTest, EveryTamperedByteIsEdekInvalid) {
  Start();
  std::string ciphertext = MustEncrypt("tamper with me");
  for (size_t i = 0; i < ciphertext.size(); ++i) {
    for (uint8_t flip : {0x01, 0x80}) {
      std::string tampered = ciphertext;
      tampered[i] = static_cast<char>(tampered[i] ^ flip);
      absl::StatusOr<std::string> decrypted = encryptor_->Decrypt(tampered, "aad");
      EXPECT_THAT(decrypted, HasReason(ErrorReason::kEdekInvalid)) << "byte " << i;
    }
  }
}

TEST_F(EncryptorTest, EveryTruncationAndExtensionIsEdekInvalid) {
  Start();
  std::string ciphertext = MustEncrypt("cut me short");
  for (size_t size = 0; size < ciphertext.size(); ++size) {
    EXPECT_THAT(encryptor_->Decrypt(ciphertext.substr(0, size), "aad"),
                HasReason(ErrorReason::kEdekInvalid))
        << size;
  }
  EXPECT_THAT(encryptor_->Decrypt(ciphertext + '\0', "aad"), HasReason(ErrorReason::kEdekInvalid));
  EXPECT_THAT(encryptor_->Decrypt(ciphertext.substr(1), "aad"),
              HasReason(ErrorReason::kEdekInvalid));
}

TEST_F(EncryptorTest, FailedAuthenticationSaysWhy) {
  Start();
  std::string ciphertext = MustEncrypt("x");
  EXPECT_THAT(encryptor_->Decrypt(ciphertext, "other"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not authenticate")));
}

TEST_F(EncryptorTest, AnotherEncryptionContextCannotDecrypt) {
  Start();
  std::string ciphertext = MustEncrypt("bound to tenant a");
  EncryptorOptions other = options_;
  other.dek_context = {{"tenant", "b"}};
  absl::StatusOr<std::unique_ptr<Encryptor>> tenant_b = Encryptor::Create(&source_, other);
  ASSERT_OK(tenant_b);
  EXPECT_THAT((*tenant_b)->Decrypt(ciphertext, "aad"), HasReason(ErrorReason::kEdekInvalid));
}

TEST_F(EncryptorTest, ReusesADekUpToTheCountThenANewEdek) {
  options_.max_encryptions_per_dek = 3;
  Start();
  std::vector<std::string> ciphertexts;
  for (int i = 0; i < 7; ++i) ciphertexts.push_back(MustEncrypt("m"));
  EXPECT_EQ(EdekOf(ciphertexts[0]), EdekOf(ciphertexts[1]));
  EXPECT_EQ(EdekOf(ciphertexts[0]), EdekOf(ciphertexts[2]));
  EXPECT_NE(EdekOf(ciphertexts[2]), EdekOf(ciphertexts[3]));
  EXPECT_EQ(EdekOf(ciphertexts[3]), EdekOf(ciphertexts[5]));
  EXPECT_NE(EdekOf(ciphertexts[5]), EdekOf(ciphertexts[6]));
  for (const std::string& ciphertext : ciphertexts) {
    EXPECT_EQ(MustDecrypt(ciphertext), "m");
  }
}

TEST_F(EncryptorTest, ReusesADekUpToItsAge) {
  options_.max_dek_age = absl::Minutes(2);
  Start();
  std::string first = EdekOf(MustEncrypt("m"));
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(EdekOf(MustEncrypt("m")), first);
  clock_.Advance(absl::Minutes(1));
  EXPECT_NE(EdekOf(MustEncrypt("m")), first);
}

TEST_F(EncryptorTest, BrokerDownFailsOnceTheBudgetIsUsedAndNeverReturnsPlaintext) {
  options_.max_encryptions_per_dek = 4;
  Start();
  MustEncrypt("warm-up");
  source_.FailWith(MakeError(ErrorReason::kKmsUnavailable, "broker unreachable"));
  for (int i = 2; i <= 4; ++i) {
    std::string ciphertext = MustEncrypt("still fine");
    EXPECT_EQ(ciphertext.find("still fine"), std::string::npos);
  }
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::string> failed = encryptor_->Encrypt("orders", "must not leak", "aad");
    EXPECT_THAT(failed, HasReason(ErrorReason::kKmsUnavailable));
    EXPECT_FALSE(failed.ok());
  }
  source_.FailWith(absl::OkStatus());
  std::string ciphertext = MustEncrypt("back");
  EXPECT_EQ(MustDecrypt(ciphertext), "back");
}

TEST_F(EncryptorTest, DecryptCacheAvoidsUnwrap) {
  Start();
  std::vector<std::string> ciphertexts;
  for (int i = 0; i < 10; ++i) ciphertexts.push_back(MustEncrypt("m"));
  for (const std::string& ciphertext : ciphertexts)
    EXPECT_OK(encryptor_->Decrypt(ciphertext, "aad"));
  EXPECT_EQ(source_.unwrap_calls(), 1);
}

TEST_F(EncryptorTest, DecryptCacheHonoursItsTtl) {
  options_.decrypt_cache_ttl = absl::Seconds(30);
  Start();
  std::string ciphertext = MustEncrypt("m");
  EXPECT_OK(encryptor_->Decrypt(ciphertext, "aad"));
  clock_.Advance(absl::Seconds(29));
  EXPECT_OK(encryptor_->Decrypt(ciphertext, "aad"));
  EXPECT_EQ(source_.unwrap_calls(), 1);
  clock_.Advance(absl::Seconds(1));
  EXPECT_OK(encryptor_->Decrypt(ciphertext, "aad"));
  EXPECT_EQ(source_.unwrap_calls(), 2);
}

TEST_F(EncryptorTest, DecryptCacheHonoursItsSize) {
  options_.decrypt_cache_entries = 2;
  options_.max_encryptions_per_dek = 1;  // a new EDEK for every ciphertext
  Start();
  std::string one = MustEncrypt("1"), two = MustEncrypt("2"), three = MustEncrypt("3");
  for (const std::string* ciphertext : {&one, &two, &three}) {
    EXPECT_OK(encryptor_->Decrypt(*ciphertext, "aad"));
  }
  EXPECT_EQ(source_.unwrap_calls(), 3);
  EXPECT_OK(encryptor_->Decrypt(three, "aad"));  // cached
  EXPECT_OK(encryptor_->Decrypt(two, "aad"));    // cached
  EXPECT_EQ(source_.unwrap_calls(), 3);
  EXPECT_OK(encryptor_->Decrypt(one, "aad"));  // evicted as the oldest
  EXPECT_EQ(source_.unwrap_calls(), 4);
}

TEST_F(EncryptorTest, DecryptCacheCanBeTurnedOff) {
  options_.decrypt_cache_entries = 0;
  Start();
  std::string ciphertext = MustEncrypt("m");
  for (int i = 0; i < 3; ++i) EXPECT_OK(encryptor_->Decrypt(ciphertext, "aad"));
  EXPECT_EQ(source_.unwrap_calls(), 3);
}

TEST_F(EncryptorTest, UnwrapErrorsComeBackAsTheBrokerGaveThem) {
  Start();
  std::string ciphertext = MustEncrypt("m");
  source_.FailWith(
      MakeError(ErrorReason::kKeyNotAccessible, "customer-managed key is not accessible"));
  absl::StatusOr<std::string> decrypted = encryptor_->Decrypt(ciphertext, "aad");
  EXPECT_THAT(decrypted, HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_THAT(decrypted.status().message(), HasSubstr("customer-managed key is not accessible"));
}

TEST_F(EncryptorTest, RejectsAnEmptyAlias) {
  Start();
  EXPECT_THAT(encryptor_->Encrypt("", "m", ""), HasReason(ErrorReason::kInvalidRequest));
  EXPECT_EQ(source_.generate_calls(), 0);
}

TEST_F(EncryptorTest, CreateRejectsBadOptions) {
  EXPECT_THAT(Encryptor::Create(nullptr, options_), HasReason(ErrorReason::kInvalidRequest));
  EncryptorOptions zero = options_;
  zero.max_encryptions_per_dek = 0;
  EXPECT_THAT(Encryptor::Create(&source_, zero), HasReason(ErrorReason::kInvalidRequest));
  EncryptorOptions refresh = options_;
  refresh.refresh_at = 1.5;
  EXPECT_THAT(Encryptor::Create(&source_, refresh), HasReason(ErrorReason::kInvalidRequest));
  EncryptorOptions ttl = options_;
  ttl.decrypt_cache_ttl = absl::Seconds(-1);
  EXPECT_THAT(Encryptor::Create(&source_, ttl), HasReason(ErrorReason::kInvalidRequest));
}

TEST_F(EncryptorTest, MoreThan2To32EncryptionsPerDekIsCappedNotRejected) {
  // The cap itself is checked in encryption_keys_test (DekBudgetTest).
  options_.max_encryptions_per_dek = uint64_t{1} << 40;
  Start();
  std::string ciphertext = MustEncrypt("m");
  EXPECT_OK(encryptor_->Decrypt(ciphertext, "aad"));
}

TEST_F(EncryptorTest, DefaultClockWorks) {
  options_.clock = nullptr;
  Start();
  std::string ciphertext = MustEncrypt("m");
  EXPECT_EQ(MustDecrypt(ciphertext), "m");
}

TEST_F(EncryptorTest, ConcurrentEncryptAndDecrypt) {
  options_.max_encryptions_per_dek = 20;
  options_.decrypt_cache_entries = 8;
  Start();
  constexpr int kThreads = 6, kPerThread = 200;
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string plaintext = absl::StrCat("thread ", t, " message ", i);
        std::string aad = absl::StrCat("aad ", t);
        absl::StatusOr<std::string> ciphertext = encryptor_->Encrypt("orders", plaintext, aad);
        absl::StatusOr<std::string> decrypted =
            ciphertext.ok() ? encryptor_->Decrypt(*ciphertext, aad) : ciphertext.status();
        if (!decrypted.ok() || *decrypted != plaintext) ++failures[t];
        if (ciphertext.ok()) made[t].push_back(EdekOf(*ciphertext));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(failures, ::testing::Each(0));
  std::map<std::string, int> per_edek;
  for (const auto& edeks : made) {
    for (const std::string& edek : edeks) ++per_edek[edek];
  }
  for (const auto& [edek, count] : per_edek) EXPECT_LE(count, 20);
}

}  // namespace
}  // namespace keybroker::sdk
