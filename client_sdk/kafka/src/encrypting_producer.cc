#include "keybroker/sdk/kafka/encrypting_producer.h"

#include <cstdlib>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "client_sdk/kafka/src/kafka_status.h"
#include "common/error_reason.h"
#include "common/status_macros.h"

namespace keybroker::sdk::kafka {

// A ciphertext in memory from malloc, which librdkafka takes over
// (RK_MSG_FREE) and frees once the record is sent: the record is encrypted
// straight into what goes on the wire, not copied again.
struct EncryptingProducer::MallocCiphertext {
  struct Free {
    void operator()(char* bytes) const { std::free(bytes); }
  };
  std::unique_ptr<char, Free> bytes;  // null for no value (a tombstone)
  size_t size = 0;
};

// The record's key and value as they go on the wire.
struct EncryptingProducer::Protected {
  std::optional<std::string> key;  // librdkafka copies keys whatever the flags
  MallocCiphertext value;
};

absl::StatusOr<std::unique_ptr<EncryptingProducer>> EncryptingProducer::Create(
    RdKafka::Producer* producer, Encryptor* encryptor, EncryptingProducerOptions options) {
  if (producer == nullptr) return InvalidRequest("encrypting producer: producer is null");
  if (encryptor == nullptr) return InvalidRequest("encrypting producer: encryptor is null");
  if (options.unresolved_key_recheck < absl::ZeroDuration()) {
    return InvalidRequest("encrypting producer: unresolved_key_recheck is negative");
  }
  ASSIGN_OR_RETURN(KeyTemplate key_template, KeyTemplate::Parse(options.key_template));
  return absl::WrapUnique(
      new EncryptingProducer(producer, encryptor, std::move(key_template), std::move(options)));
}

namespace {

uint64_t NextProducerId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

EncryptingProducer::EncryptingProducer(RdKafka::Producer* producer, Encryptor* encryptor,
                                       KeyTemplate key_template, EncryptingProducerOptions options)
    : producer_(producer),
      encryptor_(encryptor),
      template_(std::move(key_template)),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : MonotonicClock()),
      id_(NextProducerId()) {}

struct EncryptingProducer::TopicStrings {
  uint64_t owner = 0;  // the producer's id_; 0: nothing cached
  std::string topic;
  std::string alias;
  std::string value_aad;
  std::string key_aad;
};

const EncryptingProducer::TopicStrings& EncryptingProducer::StringsFor(
    absl::string_view topic) const {
  thread_local TopicStrings cached;
  if (cached.owner != id_ || cached.topic != topic) {
    cached.owner = id_;
    cached.topic.assign(topic.data(), topic.size());
    cached.alias = template_.Expand(topic);
    cached.value_aad = RecordAad(topic, RecordPart::kValue);
    cached.key_aad = RecordAad(topic, RecordPart::kKey);
  }
  return cached;
}

absl::Status EncryptingProducer::Produce(const ProducerRecord& record) {
  if (record.topic.empty()) return InvalidRequest("encrypting producer: topic is empty");
  for (const Header& header : record.headers) {
    if (IsReservedHeader(header.first)) {
      return InvalidRequest(absl::StrCat("encrypting producer: header \"", header.first,
                                         "\" is reserved for keybroker"));
    }
  }
  ASSIGN_OR_RETURN(std::optional<Protected> protected_parts, Protect(record));
  return Enqueue(record, protected_parts ? &*protected_parts : nullptr);
}

absl::StatusOr<std::optional<EncryptingProducer::Protected>> EncryptingProducer::Protect(
    const ProducerRecord& record) {
  const TopicStrings& strings = StringsFor(record.topic);
  const std::string& alias = strings.alias;
  const bool pass_through = options_.unresolved_key_policy == UnresolvedKeyPolicy::kPassThrough;
  if (RecentlyUnresolved(alias)) {
    if (pass_through) return std::nullopt;
    // As the broker's answer it stands for: an alias not configured, told
    // apart from a configured key that is gone (IsAliasNotConfigured).
    absl::Status unknown = KeyNotFound(absl::StrCat(
        "topic \"", record.topic, "\": key alias \"", alias, "\" is not known to the broker"));
    MarkAliasNotConfigured(unknown);
    return unknown;
  }
  // A tombstone with a plaintext key has nothing to encrypt, but still
  // encrypts an empty string so that an unknown alias is found either way.
  absl::string_view first = record.value ? absl::string_view(*record.value) : "";
  absl::StatusOr<MallocCiphertext> value =
      EncryptValue(alias, record.topic, strings.value_aad, first);
  if (!value.ok()) {
    // Only an alias the broker has no configuration for means "this topic is
    // not encrypted". A configured customer key that is gone (deleted in the
    // vault) must fail the produce, never turn the topic into plaintext.
    if (ReasonOf(value.status()) != ErrorReason::kKeyNotFound ||
        !IsAliasNotConfigured(value.status())) {
      return value.status();
    }
    MarkUnresolved(alias);
    if (pass_through) return std::nullopt;
    return value.status();
  }
  Protected parts;
  if (record.value) parts.value = *std::move(value);
  if (options_.encrypt_keys && record.key) {
    ASSIGN_OR_RETURN(parts.key, EncryptPart(alias, record.topic, strings.key_aad, *record.key));
  } else {
    parts.key = record.key;
  }
  return parts;
}

namespace {

absl::Status AnnotateRecord(const absl::Status& status, absl::string_view alias,
                            absl::string_view topic) {
  return Annotate(status, absl::StrCat("encrypting a record of topic \"", topic,
                                       "\" with key alias \"", alias, "\""));
}

}  // namespace

absl::StatusOr<std::string> EncryptingProducer::EncryptPart(absl::string_view alias,
                                                            absl::string_view topic,
                                                            absl::string_view aad,
                                                            absl::string_view plaintext) {
  absl::StatusOr<std::string> ciphertext = encryptor_->Encrypt(alias, plaintext, aad);
  if (!ciphertext.ok()) return AnnotateRecord(ciphertext.status(), alias, topic);
  return ciphertext;
}

absl::StatusOr<EncryptingProducer::MallocCiphertext> EncryptingProducer::EncryptValue(
    absl::string_view alias, absl::string_view topic, absl::string_view aad,
    absl::string_view plaintext) {
  MallocCiphertext ciphertext;
  absl::StatusOr<size_t> size = encryptor_->EncryptToBuffer(alias, plaintext, aad, [&](size_t n) {
    ciphertext.bytes.reset(static_cast<char*>(std::malloc(n)));
    return absl::Span<char>(ciphertext.bytes.get(), ciphertext.bytes != nullptr ? n : 0);
  });
  if (!size.ok()) return AnnotateRecord(size.status(), alias, topic);
  ciphertext.size = *size;
  return ciphertext;
}

bool EncryptingProducer::RecentlyUnresolved(const std::string& alias) {
  if (!any_unresolved_.load(std::memory_order_acquire)) return false;
  absl::MutexLock lock(&mu_);
  auto it = unresolved_.find(alias);
  if (it == unresolved_.end()) return false;
  if (clock_->Now() - it->second < options_.unresolved_key_recheck) return true;
  unresolved_.erase(it);
  return false;
}

void EncryptingProducer::MarkUnresolved(const std::string& alias) {
  if (options_.unresolved_key_recheck == absl::ZeroDuration()) return;
  absl::MutexLock lock(&mu_);
  unresolved_[alias] = clock_->Now();
  any_unresolved_.store(true, std::memory_order_release);
}

absl::Status EncryptingProducer::Enqueue(const ProducerRecord& record, Protected* protected_parts) {
  const std::optional<std::string>& key = protected_parts ? protected_parts->key : record.key;
  // A ciphertext is handed over (RK_MSG_FREE); a record passed through as it
  // is stays the caller's, so librdkafka copies it (RK_MSG_COPY).
  char* value = nullptr;
  size_t value_size = 0;
  int value_flags = RdKafka::Producer::RK_MSG_COPY;
  if (protected_parts != nullptr) {
    if (protected_parts->value.bytes != nullptr) {
      value = protected_parts->value.bytes.get();
      value_size = protected_parts->value.size;
      value_flags = RdKafka::Producer::RK_MSG_FREE;
    }
  } else if (record.value) {
    value = const_cast<char*>(record.value->data());
    value_size = record.value->size();
  }
  std::unique_ptr<RdKafka::Headers> headers(RdKafka::Headers::create());
  for (const Header& header : record.headers) headers->add(header.first, header.second);
  if (protected_parts != nullptr) {
    // Built once: a header added per record costs no allocation of ours.
    static const std::string* const value_header = new std::string(kEncryptionHeader);
    static const std::string* const key_header = new std::string(kKeyEncryptionHeader);
    headers->add(*value_header, kFormatV1.data(), kFormatV1.size());
    if (options_.encrypt_keys && record.key) {
      headers->add(*key_header, kFormatV1.data(), kFormatV1.size());
    }
  }
  RdKafka::ErrorCode code = producer_->produce(
      record.topic, record.partition, value_flags, value, value_size, key ? key->data() : nullptr,
      key ? key->size() : 0, record.timestamp, headers.get(), record.msg_opaque);
  // On success librdkafka owns the headers and a handed-over value; on
  // failure they stay ours.
  if (code == RdKafka::ERR_NO_ERROR) {
    headers.release();
    if (value_flags == RdKafka::Producer::RK_MSG_FREE) {
      static_cast<void>(protected_parts->value.bytes.release());
    }
    return absl::OkStatus();
  }
  return internal::KafkaStatus(code, absl::StrCat("producing to topic \"", record.topic, "\""));
}

}  // namespace keybroker::sdk::kafka
