#include "keybroker/sdk/kafka/decrypting_consumer.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/memory/memory.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client_sdk/kafka/src/kafka_status.h"
#include "common/error_reason.h"
#include "common/status_macros.h"

namespace keybroker::sdk::kafka {
namespace {

// Marks a DecryptMessage error as retryable (IsRetryableDecryptError); an
// error without it is a permanent one, or about no record at all.
constexpr absl::string_view kRetryableUrl = "type.keybroker.dev/kafka_record_retryable";

// How long Consume waits for librdkafka to apply a seek back. The wait is
// for librdkafka's own threads, not for Kafka. Even past it, no record
// fetched before the seek is delivered: seek() raises the partition's
// version barrier before returning.
constexpr int kSeekTimeoutMs = 1000;

// Whether an error of Encryptor::Decrypt can heal with the record unchanged:
// all but those that the record's bytes cause, so that a misconfigured or
// unreachable broker or KMS makes records wait rather than be skipped.
bool CanHeal(const absl::Status& status) {
  std::optional<ErrorReason> reason = ReasonOf(status);
  if (!reason.has_value()) {
    // Errors without a reason: gRPC's own (UNAVAILABLE, DEADLINE_EXCEEDED
    // while the broker is down) heal; a malformed request does not.
    return status.code() != absl::StatusCode::kInvalidArgument &&
           status.code() != absl::StatusCode::kOutOfRange;
  }
  switch (*reason) {
    case ErrorReason::kEdekInvalid:
    case ErrorReason::kInvalidRequest:
      return false;
    case ErrorReason::kKeyNotFound:
      // A configured customer key gone from its vault can be restored; an
      // EDEK of an alias this broker does not know stays unknown.
      return !IsAliasNotConfigured(status);
    case ErrorReason::kKeyVersionNotYetLoaded:
      // A broker replica behind on a keyring rollout: another replica has
      // the version, or this one will within its reload interval. Skipping
      // would lose a record that decrypts a moment later.
      return true;
    case ErrorReason::kCallerNotAuthorized:
      // The broker's policy does not (yet) let this consumer unwrap under
      // the key: a rule an operator adds heals it, with the record as it is.
      // Skipping would lose every record of the topic until the policy is
      // fixed.
      return true;
    default:
      return true;
  }
}

// Returns `status` with `suffix` appended to its message, keeping its code
// and payloads.
absl::Status WithSuffix(const absl::Status& status, absl::string_view suffix) {
  absl::Status out(status.code(), absl::StrCat(status.message(), suffix));
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

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
  absl::StatusOr<std::string> plaintext = encryptor.Decrypt(*bytes, RecordAad(topic, part));
  if (!plaintext.ok()) {
    absl::Status status = plaintext.status();
    if (CanHeal(status)) status.SetPayload(kRetryableUrl, absl::Cord("1"));
    return status;
  }
  *bytes = *std::move(plaintext);
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
    // The default: a plaintext record may be anyone's injection.
    return absl::FailedPreconditionError(absl::StrCat(
        "record is not encrypted (no \"", kEncryptionHeader,
        "\" header) and encryption is required (DecryptOptions::require_encryption)"));
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

bool IsRetryableDecryptError(const absl::Status& status) {
  return status.GetPayload(kRetryableUrl).has_value();
}

absl::StatusOr<std::unique_ptr<DecryptingConsumer>> DecryptingConsumer::Create(
    RdKafka::KafkaConsumer* consumer, Encryptor* encryptor, DecryptOptions options) {
  if (consumer == nullptr) return InvalidRequest("decrypting consumer: consumer is null");
  if (encryptor == nullptr) return InvalidRequest("decrypting consumer: encryptor is null");
  // librdkafka has no C++ getter for a running client's configuration, but
  // offsets_store() returns ERR__INVALID_ARG exactly when
  // enable.auto.offset.store is true (rdkafkacpp.h), before looking at the
  // (here empty) list: a probe without side effects.
  std::vector<RdKafka::TopicPartition*> none;
  if (consumer->offsets_store(none) == RdKafka::ERR__INVALID_ARG) {
    return InvalidRequest(
        "decrypting consumer: create the consumer with enable.auto.offset.store=false; with "
        "librdkafka's default (true) the offset after a record is stored, and then committed, "
        "as soon as it is consumed, so a record that failed to decrypt for a reason that heals "
        "(key access revoked, broker down) would be lost");
  }
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
  absl::StatusOr<ConsumedRecord> record = DecryptMessage(*message, *encryptor_, options_);
  if (record.ok()) {
    StoreOffsetAfter(*message);
    return *std::move(record);
  }
  if (IsRetryableDecryptError(record.status())) {
    // Its offset is not stored, so no commit passes it, whatever happens to
    // this consumer; the seek makes this consumer deliver it again.
    std::string seek_error = SeekBackTo(*message);
    if (seek_error.empty()) {
      return WithSuffix(record.status(), "; not skipped: it will be delivered again");
    }
    // The seek fails for a partition no longer consumed here (revoked by a
    // rebalance; its next consumer starts at the committed offset, at or
    // before the record) or times out (it still takes effect).
    return WithSuffix(record.status(),
                      absl::StrCat("; not skipped: its offset is not stored, so it will be "
                                   "delivered again (seeking back: ",
                                   seek_error, ")"));
  }
  StoreOffsetAfter(*message);
  return WithSuffix(record.status(), "; skipped: it will not be delivered again");
}

void DecryptingConsumer::StoreOffsetAfter(const RdKafka::Message& message) {
  if (!options_.store_offsets) return;
  std::unique_ptr<RdKafka::TopicPartition> next(RdKafka::TopicPartition::create(
      message.topic_name(), message.partition(), message.offset() + 1));
  std::vector<RdKafka::TopicPartition*> offsets = {next.get()};
  // Fails only for a partition revoked since the record was consumed
  // (ERR__STATE): its next consumer starts from the last committed offset,
  // and delivers the record again (at least once, never lost).
  consumer_->offsets_store(offsets);
}

std::string DecryptingConsumer::SeekBackTo(const RdKafka::Message& message) {
  std::unique_ptr<RdKafka::TopicPartition> at(
      RdKafka::TopicPartition::create(message.topic_name(), message.partition(), message.offset()));
  RdKafka::ErrorCode error = consumer_->seek(*at, kSeekTimeoutMs);
  return error == RdKafka::ERR_NO_ERROR ? "" : RdKafka::err2str(error);
}

}  // namespace keybroker::sdk::kafka
