// DecryptMessage and DecryptingConsumer: the reading side of
// EncryptingProducer. Records carrying the "keybroker-encryption" header are
// decrypted (record_format.h); records without it are passed through as
// they are, unless the options require encryption.
//
// A record that fails to decrypt is an error, never returned as ciphertext
// or partly decrypted. The consumer's position has moved past it by then:
// to retry it later (say after KEY_NOT_ACCESSIBLE was fixed), seek back to
// the offset the error message names.
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
  // Fail on records without the header instead of passing them through
  // (FAILED_PRECONDITION): for topics that must only ever hold ciphertext.
  bool require_encryption = false;
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
// require_encryption) a record without the header; INVALID_ARGUMENT for a
// message that is an error event.
absl::StatusOr<ConsumedRecord> DecryptMessage(RdKafka::Message& message,
                                              Encryptor& encryptor,
                                              const DecryptOptions& options = {});

class DecryptingConsumer {
 public:
  // `consumer` and `encryptor` must outlive the DecryptingConsumer.
  // INVALID_ARGUMENT (INVALID_REQUEST) for a null pointer.
  static absl::StatusOr<std::unique_ptr<DecryptingConsumer>> Create(
      RdKafka::KafkaConsumer* consumer, Encryptor* encryptor, DecryptOptions options = {});

  // Waits up to `timeout_ms` for the next record and returns it decrypted;
  // nullopt when none arrived in time or a partition end was reached.
  // Errors: DecryptMessage's, or librdkafka's consume error.
  absl::StatusOr<std::optional<ConsumedRecord>> Consume(int timeout_ms);

 private:
  DecryptingConsumer(RdKafka::KafkaConsumer* consumer, Encryptor* encryptor,
                     DecryptOptions options)
      : consumer_(consumer), encryptor_(encryptor), options_(options) {}

  // Set at construction.
  RdKafka::KafkaConsumer* const consumer_;
  Encryptor* const encryptor_;
  const DecryptOptions options_;
};

}  // namespace keybroker::sdk::kafka

#endif  // KEYBROKER_SDK_KAFKA_DECRYPTING_CONSUMER_H_
