#include "keybroker/sdk/kafka/decrypting_consumer.h"

#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "client_sdk/kafka/src/kafka_status.h"
#include "common/error_reason.h"
#include "common/status_macros.h"

namespace keybroker::sdk::kafka {
namespace {

// How one keybroker header of a record reads.
enum class Marker { kAbsent, kV1 };

absl::StatusOr<Marker> ReadMarker(const std::vector<RdKafka::Headers::Header>& all,
                                  absl::string_view name) {
  Marker marker = Marker::kAbsent;
  for (const RdKafka::Headers::Header& header : all) {
    if (header.key() != name) continue;
    if (marker != Marker::kAbsent) {
      return absl::FailedPreconditionError(absl::StrCat("header \"", name, "\" is repeated"));
    }
    absl::string_view value(header.value_string() != nullptr ? header.value_string() : "",
                            header.value_string() != nullptr ? header.value_size() : 0);
    if (value != kFormatV1) {
      return absl::FailedPreconditionError(
          absl::StrCat("header \"", name, "\" has unsupported value \"", value.substr(0, 16),
                       "\" (this SDK reads \"", kFormatV1, "\")"));
    }
    marker = Marker::kV1;
  }
  return marker;
}

std::optional<std::string> Bytes(const void* data, size_t size) {
  if (data == nullptr) return std::nullopt;
  return std::string(static_cast<const char*>(data), size);
}

// Replaces `part` (if not null) by its plaintext.
absl::Status DecryptPart(Encryptor& encryptor, const std::string& topic, RecordPart part,
                         std::optional<std::string>& bytes) {
  if (!bytes) return absl::OkStatus();
  ASSIGN_OR_RETURN(*bytes, encryptor.Decrypt(*bytes, RecordAad(topic, part)));
  return absl::OkStatus();
}

absl::StatusOr<ConsumedRecord> Decrypt(RdKafka::Message& message, Encryptor& encryptor,
                                       const DecryptOptions& options, ConsumedRecord record) {
  std::vector<RdKafka::Headers::Header> all;
  if (RdKafka::Headers* headers = message.headers(); headers != nullptr) all = headers->get_all();
  ASSIGN_OR_RETURN(Marker value_marker, ReadMarker(all, kEncryptionHeader));
  ASSIGN_OR_RETURN(Marker key_marker, ReadMarker(all, kKeyEncryptionHeader));
  if (value_marker == Marker::kAbsent && key_marker != Marker::kAbsent) {
    return absl::FailedPreconditionError(
        absl::StrCat("header \"", kKeyEncryptionHeader, "\" without \"", kEncryptionHeader, "\""));
  }
  if (value_marker == Marker::kAbsent && options.require_encryption) {
    return absl::FailedPreconditionError("record is not encrypted, and encryption is required");
  }
  for (const RdKafka::Headers::Header& header : all) {
    if (IsReservedHeader(header.key())) continue;
    record.headers.emplace_back(header.key(),
                                Bytes(header.value(), header.value_size()).value_or(""));
  }
  record.value_was_encrypted = value_marker == Marker::kV1;
  record.key_was_encrypted = key_marker == Marker::kV1;
  if (record.value_was_encrypted) {
    RETURN_IF_ERROR(DecryptPart(encryptor, record.topic, RecordPart::kValue, record.value));
  }
  if (record.key_was_encrypted) {
    RETURN_IF_ERROR(DecryptPart(encryptor, record.topic, RecordPart::kKey, record.key));
  }
  return record;
}

}  // namespace

absl::StatusOr<ConsumedRecord> DecryptMessage(RdKafka::Message& message, Encryptor& encryptor,
                                              const DecryptOptions& options) {
  if (message.err() != RdKafka::ERR_NO_ERROR) {
    return InvalidRequest(absl::StrCat("decrypting a Kafka message that is an error: ",
                                       message.errstr()));
  }
  ConsumedRecord record;
  record.topic = message.topic_name();
  record.partition = message.partition();
  record.offset = message.offset();
  record.timestamp = message.timestamp().timestamp;
  record.key = Bytes(message.key_pointer(), message.key_len());
  record.value = Bytes(message.payload(), message.len());
  std::string where = absl::StrCat("record ", record.topic, "/", record.partition, "@",
                                   record.offset);
  absl::StatusOr<ConsumedRecord> decrypted =
      Decrypt(message, encryptor, options, std::move(record));
  if (!decrypted.ok()) return Annotate(decrypted.status(), where);
  return decrypted;
}

absl::StatusOr<std::unique_ptr<DecryptingConsumer>> DecryptingConsumer::Create(
    RdKafka::KafkaConsumer* consumer, Encryptor* encryptor, DecryptOptions options) {
  if (consumer == nullptr) return InvalidRequest("decrypting consumer: consumer is null");
  if (encryptor == nullptr) return InvalidRequest("decrypting consumer: encryptor is null");
  return absl::WrapUnique(new DecryptingConsumer(consumer, encryptor, options));
}

absl::StatusOr<std::optional<ConsumedRecord>> DecryptingConsumer::Consume(int timeout_ms) {
  std::unique_ptr<RdKafka::Message> message(consumer_->consume(timeout_ms));
  switch (message->err()) {
    case RdKafka::ERR_NO_ERROR:
      break;
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__PARTITION_EOF:
      return std::nullopt;
    default:
      return internal::KafkaStatus(message->err(), "consuming");
  }
  ASSIGN_OR_RETURN(ConsumedRecord record, DecryptMessage(*message, *encryptor_, options_));
  return record;
}

}  // namespace keybroker::sdk::kafka
