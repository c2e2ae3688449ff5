// DecryptMessage and DecryptingConsumer: the reading side of
// EncryptingProducer. Records carrying the "keybroker-encryption" header are
// decrypted (record_format.h). Records without it are refused by default
// (DecryptOptions::require_encryption): anyone who may produce to a topic
// could otherwise slip plaintext records in among the encrypted ones. Turn
// it off only for topics that legitimately carry plaintext (a producer's
// UnresolvedKeyPolicy::kPassThrough); such records are then passed through
// as they are.
//
// A record that fails to decrypt is an error, never returned as ciphertext
// or partly decrypted. Failures are of two kinds (IsRetryableDecryptError):
//
//   retryable: the record is fine but cannot be decrypted now, and will be
//     once the cause is fixed: the customer's key not accessible, disabled
//     or missing in its vault (KEY_NOT_ACCESSIBLE, KEY_DISABLED, KEY_NOT_FOUND
//     of a configured alias), the broker's policy not letting this consumer
//     use the key (CALLER_NOT_AUTHORIZED: a policy fix heals it), the KMS
//     down or throttling (KMS_UNAVAILABLE, KMS_THROTTLED), the broker not
//     answering (UNAVAILABLE, DEADLINE_EXCEEDED), and every other failure
//     that does not come from the record's own bytes (INTERNAL, ...).
//   permanent: the record itself can never decrypt: EDEK_INVALID (tampered
//     with, or moved to another topic), INVALID_REQUEST, KEY_NOT_FOUND of an
//     alias the broker does not have configured, and FAILED_PRECONDITION for
//     a keybroker header other than "v1", a repeated one, or (under
//     require_encryption, the default) a record without it.
//
// DecryptingConsumer never skips a record over a retryable failure: it does
// not store the record's offset and seeks its partition back to it, so a
// later Consume delivers the same record again (and the partition's later
// records only after it), and no commit moves the group's offset past it,
// even if the process dies. A permanent failure is returned once and the
// consumer moves past the record (its offset is stored), so one bad record
// never blocks a partition. For this, the consumer must be created with
// `enable.auto.offset.store=false` (Create checks it): librdkafka's default
// stores a record's offset as soon as consume() returns it, before it was
// decrypted, and auto commit then commits it. The DecryptingConsumer stores
// the offset of each record it returns instead (see
// DecryptOptions::store_offsets); commits (auto commit, or commitSync() /
// commitAsync() without offsets) then never pass a record that was not
// delivered. docs/kafka.md has the details.
//
// DecryptMessage is safe for concurrent use. A DecryptingConsumer is as safe
// as its RdKafka::KafkaConsumer: use it from one thread at a time.
#ifndef KEYBROKER_SDK_KAFKA_DECRYPTING_CONSUMER_H_
#define KEYBROKER_SDK_KAFKA_DECRYPTING_CONSUMER_H_

#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "keybroker/sdk/encryptor.h"
#include "keybroker/sdk/kafka/record_format.h"

namespace keybroker::sdk::kafka {

struct DecryptOptions {
  // Fail on records without the header (FAILED_PRECONDITION, a permanent
  // failure: DecryptingConsumer skips the record) instead of passing them
  // through. On by default, so that a record someone produced in plaintext
  // never reaches the application looking like one that was encrypted. Set
  // it to false only for topics that may hold plaintext records (a producer
  // with UnresolvedKeyPolicy::kPassThrough); check value_was_encrypted then.
  bool require_encryption = true;
  // DecryptingConsumer only: store the offset after each record Consume
  // returns, and after a record it skips over a permanent failure, in
  // librdkafka's offset store (offsets_store()), for auto commit or an
  // offset-less commitSync()/commitAsync() to commit. Set it to false to
  // store offsets yourself, e.g. only once a record was processed; then
  // also store the offset after a record that failed permanently, or it is
  // delivered again after a restart or rebalance.
  bool store_offsets = true;
};

// A consumed record after decryption. `headers` are the record's headers
// without keybroker's own.
struct ConsumedRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<Header> headers;
  bool value_was_encrypted = false;
  bool key_was_encrypted = false;
};

// Returns `message` decrypted. `message` must be a record (err() ==
// ERR_NO_ERROR). Errors, with topic, partition and offset in the message:
// the Encryptor's Decrypt error (INVALID_ARGUMENT with EDEK_INVALID for a
// tampered record or one moved to another topic; the broker's Unwrap error,
// e.g. PERMISSION_DENIED with KEY_NOT_ACCESSIBLE); FAILED_PRECONDITION for a
// header value other than "v1", a repeated keybroker header, or (under
// require_encryption, the default) a record without the header;
// INVALID_ARGUMENT for a message that is an error event.
// IsRetryableDecryptError tells the two kinds of failure apart; in your own
// consume loop, do not store or commit the offset of a record that failed
// retryably, and seek() its partition back to it.
absl::StatusOr<ConsumedRecord> DecryptMessage(RdKafka::Message& message,
                                              Encryptor& encryptor,
                                              const DecryptOptions& options = {});

// True for an error of DecryptMessage or DecryptingConsumer::Consume about a
// record that failed to decrypt for a reason that can heal (above): Consume
// delivers that record again, so back off before calling it again (for
// KMS_THROTTLED, keybroker::RetryDelayOf(status) says how long). False for
// a permanent failure (Consume moved past the record: dead-lettering it is
// your choice), for errors that are about no record (librdkafka's consume
// errors, which it recovers from by itself), and for OK.
bool IsRetryableDecryptError(const absl::Status& status);

class DecryptingConsumer {
 public:
  // `consumer` and `encryptor` must outlive the DecryptingConsumer.
  // INVALID_ARGUMENT (INVALID_REQUEST) for a null pointer, and for a consumer
  // created without `enable.auto.offset.store=false` (see above). Leave
  // `enable.auto.commit` on (librdkafka's default), or commit with the
  // offset-less commitSync()/commitAsync(); never commit a message's own
  // offset for a record Consume did not return.
  static absl::StatusOr<std::unique_ptr<DecryptingConsumer>> Create(
      RdKafka::KafkaConsumer* consumer, Encryptor* encryptor, DecryptOptions options = {});

  // Waits up to `timeout_ms` for the next record and returns it decrypted;
  // nullopt when none arrived in time or a partition end was reached.
  // Errors: DecryptMessage's, or librdkafka's consume error. A record that
  // failed retryably is delivered again by a later Consume (its error says
  // "will be delivered again"; IsRetryableDecryptError is true); one that
  // failed permanently is not (its error says "skipped").
  absl::StatusOr<std::optional<ConsumedRecord>> Consume(int timeout_ms);

 private:
  DecryptingConsumer(RdKafka::KafkaConsumer* consumer, Encryptor* encryptor,
                     DecryptOptions options)
      : consumer_(consumer), encryptor_(encryptor), options_(options) {}

  // Stores the offset after `message` (options_.store_offsets).
  void StoreOffsetAfter(const RdKafka::Message& message);
  // Seeks the partition of `message` back to it; librdkafka's error, or "".
  std::string SeekBackTo(const RdKafka::Message& message);

  // Set at construction.
  RdKafka::KafkaConsumer* const consumer_;
  Encryptor* const encryptor_;
  const DecryptOptions options_;
};

}  // namespace keybroker::sdk::kafka

#endif  // KEYBROKER_SDK_KAFKA_DECRYPTING_CONSUMER_H_
