// DecryptMessage over in-memory records and DEK source: records without
// keybroker's header are refused unless require_encryption is turned off,
// and decrypt failures are sorted into those that heal (the record is
// delivered again; CALLER_NOT_AUTHORIZED among them) and those caused by the
// record's bytes (it is skipped).
#include "keybroker/sdk/kafka/decrypting_consumer.h"

#include <memory>
#include <string>
#include <vector>

#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keybroker/sdk/kafka/record_format.h"
#include "tests/fakes/fake_dek_source.h"
#include "tests/fakes/fake_kafka_message.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::sdk::kafka {
namespace {

using ::keybroker::testing::FakeKafkaMessage;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

class DecryptMessageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EncryptorOptions uncached;  // every decryption asks the source
    uncached.decrypt_cache_ttl = absl::ZeroDuration();
    auto encryptor = Encryptor::Create(&source_, uncached);
    ASSERT_OK(encryptor);
    encryptor_ = *std::move(encryptor);
  }

  // A record of "orders" at `offset` whose value is `value`, encrypted as
  // EncryptingProducer does.
  std::unique_ptr<FakeKafkaMessage> Encrypted(int64_t offset, const std::string& value) {
    absl::StatusOr<std::string> ciphertext =
        encryptor_->Encrypt("kek-orders", value, RecordAad("orders", RecordPart::kValue));
    EXPECT_OK(ciphertext);
    auto message = std::make_unique<FakeKafkaMessage>("orders", offset, ciphertext.value_or(""));
    message->AddHeader(std::string(kEncryptionHeader), std::string(kFormatV1));
    return message;
  }

  testing::FakeDekSource source_;
  std::unique_ptr<Encryptor> encryptor_;
};

TEST_F(DecryptMessageTest, EncryptionIsRequiredByDefault) {
  EXPECT_TRUE(DecryptOptions{}.require_encryption);
}

TEST_F(DecryptMessageTest, PlaintextRecordIsRefusedByDefaultAsAPermanentFailure) {
  FakeKafkaMessage injected("orders", 7, "plaintext someone produced");
  absl::StatusOr<ConsumedRecord> record = DecryptMessage(injected, *encryptor_);
  EXPECT_THAT(record, StatusIs(absl::StatusCode::kFailedPrecondition,
                               AllOf(HasSubstr("orders/0@7"), HasSubstr("not encrypted"),
                                     HasSubstr("require_encryption"))));
  EXPECT_FALSE(IsRetryableDecryptError(record.status())) << "the record can never decrypt";
}

TEST_F(DecryptMessageTest, PlaintextRecordPassesThroughOnlyWhenAllowed) {
  FakeKafkaMessage plain("audit", 0, "public");
  plain.AddHeader("trace-id", "t1");
  DecryptOptions mixed;
  mixed.require_encryption = false;
  absl::StatusOr<ConsumedRecord> record = DecryptMessage(plain, *encryptor_, mixed);
  ASSERT_OK(record);
  EXPECT_EQ(record->value, "public");
  EXPECT_FALSE(record->value_was_encrypted);
  EXPECT_EQ(record->headers, (std::vector<Header>{{"trace-id", "t1"}}));
}

TEST_F(DecryptMessageTest, EncryptedRecordDecryptsUnderTheDefaults) {
  std::unique_ptr<FakeKafkaMessage> message = Encrypted(3, "card 4111");
  absl::StatusOr<ConsumedRecord> record = DecryptMessage(*message, *encryptor_);
  ASSERT_OK(record);
  EXPECT_EQ(record->value, "card 4111");
  EXPECT_TRUE(record->value_was_encrypted);
  EXPECT_TRUE(record->headers.empty());
}

TEST_F(DecryptMessageTest, CallerNotAuthorizedHealsWithAPolicyFix) {
  std::unique_ptr<FakeKafkaMessage> message = Encrypted(5, "card 4111");
  source_.FailWith(MakeError(ErrorReason::kCallerNotAuthorized, "caller may not use kek-orders"));
  absl::StatusOr<ConsumedRecord> refused = DecryptMessage(*message, *encryptor_);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("orders/0@5")));
  EXPECT_THAT(refused.status(), HasReason(ErrorReason::kCallerNotAuthorized));
  EXPECT_TRUE(IsRetryableDecryptError(refused.status())) << "never skipped: delivered again";

  source_.FailWith(absl::OkStatus());  // the operator adds the rule
  absl::StatusOr<ConsumedRecord> record = DecryptMessage(*message, *encryptor_);
  ASSERT_OK(record);
  EXPECT_EQ(record->value, "card 4111");
}

TEST_F(DecryptMessageTest, OnlyFailuresOfTheRecordsOwnBytesArePermanent) {
  absl::Status unknown_alias = KeyNotFound("alias kek-gone is not configured");
  MarkAliasNotConfigured(unknown_alias);
  struct Case {
    absl::Status failure;
    bool retryable;
  };
  for (const Case& c : {Case{MakeError(ErrorReason::kCallerNotAuthorized, "policy"), true},
                        Case{MakeError(ErrorReason::kKeyNotAccessible, "revoked"), true},
                        Case{MakeError(ErrorReason::kKeyDisabled, "disabled"), true},
                        Case{KeyNotFound("customer key deleted"), true},
                        Case{MakeError(ErrorReason::kKmsThrottled, "busy"), true},
                        Case{absl::UnavailableError("broker down"), true},
                        Case{absl::DeadlineExceededError("broker slow"), true},
                        Case{CallerDeadlineExceeded("vault slow"), true},
                        // A replica behind on a keyring rollout: never skipped.
                        Case{MakeError(ErrorReason::kKeyVersionNotYetLoaded, "not yet"), true},
                        // What an SDK that does not know the reason sees.
                        Case{absl::UnavailableError("KEY_VERSION_NOT_YET_LOADED"), true},
                        Case{Internal("broker fault"), true},
                        Case{EdekInvalid("tampered"), false},
                        Case{InvalidRequest("bad request"), false},
                        Case{unknown_alias, false}}) {
    std::unique_ptr<FakeKafkaMessage> message = Encrypted(1, "x");
    source_.FailWith(c.failure);
    absl::StatusOr<ConsumedRecord> record = DecryptMessage(*message, *encryptor_);
    EXPECT_EQ(record.status().code(), c.failure.code()) << c.failure;
    EXPECT_EQ(IsRetryableDecryptError(record.status()), c.retryable) << c.failure;
    source_.FailWith(absl::OkStatus());
  }
}

}  // namespace
}  // namespace keybroker::sdk::kafka
