// libFuzzer target for what DecryptMessage reads from a consumed Kafka record
// (client_sdk/kafka: decrypting_consumer.h, record_format.h): keybroker's
// headers, and the key and value they say are ciphertexts, which anyone who
// may produce to the topic can write. Input (FuzzInput): a flags byte (1:
// require_encryption, 2: the record has a key, 4: it has a value), the topic,
// the key and value fields when present, then header name and value fields
// until the input ends.
//
// Invariants:
// - the headers alone decide FAILED_PRECONDITION, exactly as the header
//   comment says (a keybroker header repeated, with a value other than "v1",
//   the key's without the value's, or none under require_encryption), and
//   such a failure is permanent;
// - otherwise a failure is the Encryptor's: EDEK_INVALID (permanent) or the
//   DEK source's KEY_NOT_ACCESSIBLE (retryable), and names the record;
// - a record that is returned keeps topic, offset and the other headers in
//   order; a part that was not encrypted is unchanged, and a decrypted part
//   re-seals (same DEK, nonce and record aad) to exactly the consumed bytes.
#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client_sdk/src/ciphertext_format.h"
#include "crypto/aes_gcm.h"
#include "keybroker/sdk/encryptor.h"
#include "keybroker/sdk/kafka/decrypting_consumer.h"
#include "keybroker/sdk/kafka/record_format.h"
#include "tests/fakes/fake_kafka_message.h"
#include "tests/fuzz/fuzz_support.h"

namespace keybroker::fuzz {
namespace {

namespace kafka = sdk::kafka;

constexpr int64_t kOffset = 42;

// FakeKafkaMessage with a key.
class KeyedMessage : public testing::FakeKafkaMessage {
 public:
  KeyedMessage(std::string topic, std::optional<std::string> key, std::optional<std::string> value)
      : FakeKafkaMessage(std::move(topic), kOffset, std::move(value)), key_(std::move(key)) {}

  const void* key_pointer() const override { return key_ ? key_->data() : nullptr; }
  size_t key_len() const override { return key_ ? key_->size() : 0; }

 private:
  std::optional<std::string> key_;
};

struct Record {
  bool require_encryption = false;
  std::string topic;
  std::optional<std::string> key, value;
  std::vector<kafka::Header> headers;  // names as librdkafka gives them back
};

Record ReadRecord(FuzzInput& input) {
  Record record;
  const uint8_t flags = input.Byte();
  record.require_encryption = flags & 1;
  record.topic = input.Field();
  if (flags & 2) record.key = input.Field();
  if (flags & 4) record.value = input.Field();
  while (!input.empty()) {
    std::string name = input.Field();
    record.headers.emplace_back(std::move(name), input.Field());
  }
  return record;
}

// How the headers decide, from the header comment: OK with the two markers,
// or the precondition that fails.
struct Markers {
  bool value = false, key = false, refused = false;
};

Markers ReadMarkers(const Record& record) {
  Markers markers;
  for (absl::string_view name : {kafka::kEncryptionHeader, kafka::kKeyEncryptionHeader}) {
    int count = 0;
    bool bad = false;
    for (const auto& [header, value] : record.headers) {
      if (header != name) continue;
      ++count;
      bad = bad || value != kafka::kFormatV1;
    }
    markers.refused = markers.refused || count > 1 || bad;
    (name == kafka::kEncryptionHeader ? markers.value : markers.key) = count == 1;
  }
  markers.refused = markers.refused || (!markers.value && markers.key) ||
                    (!markers.value && record.require_encryption);
  return markers;
}

void CheckResealed(absl::string_view consumed, absl::string_view plaintext, absl::string_view aad) {
  absl::StatusOr<sdk::internal::CiphertextParts> parts = sdk::internal::ParseCiphertext(consumed);
  FUZZ_CHECK(parts.ok(), parts.status().ToString());
  crypto::SecretBytes dek = DerivedDekSource::DekOf(parts->edek, FuzzDekContext());
  std::string sealed(consumed.substr(0, parts->header.size()));
  sealed.resize(consumed.size());
  absl::Span<uint8_t> out = crypto::AsMutableBytes(sealed);
  FUZZ_CHECK(plaintext.size() == parts->encrypted.size());
  absl::Status status = crypto::AesGcm::SealWithAadParts(
      dek, parts->nonce, crypto::AsBytes(plaintext), {parts->header, crypto::AsBytes(aad)},
      out.subspan(parts->header.size(), plaintext.size()), out.subspan(consumed.size() - 16));
  FUZZ_CHECK(status.ok() && sealed == consumed, "a decrypted part does not re-seal");
}

bool IsRevoked(const std::optional<std::string>& part) {
  if (!part) return false;
  absl::StatusOr<sdk::internal::CiphertextParts> parts = sdk::internal::ParseCiphertext(*part);
  return parts.ok() && DerivedDekSource::IsRevoked(parts->edek);
}

void CheckDecrypted(const kafka::ConsumedRecord& out, const Record& in, const Markers& markers) {
  FUZZ_CHECK(out.topic == in.topic && out.offset == kOffset);
  std::vector<kafka::Header> others;
  for (const kafka::Header& header : in.headers) {
    if (!kafka::IsReservedHeader(header.first)) others.push_back(header);
  }
  FUZZ_CHECK(out.headers == others, "the record's other headers changed");
  FUZZ_CHECK(out.value_was_encrypted == markers.value && out.key_was_encrypted == markers.key);
  FUZZ_CHECK(out.value.has_value() == in.value.has_value() &&
             out.key.has_value() == in.key.has_value());
  if (in.value && markers.value) {
    CheckResealed(*in.value, *out.value, kafka::RecordAad(in.topic, kafka::RecordPart::kValue));
  } else {
    FUZZ_CHECK(out.value == in.value);
  }
  if (in.key && markers.key) {
    CheckResealed(*in.key, *out.key, kafka::RecordAad(in.topic, kafka::RecordPart::kKey));
  } else {
    FUZZ_CHECK(out.key == in.key);
  }
}

void CheckRefused(const absl::Status& status, const Record& in, const Markers& markers) {
  FUZZ_CHECK(absl::StartsWith(status.message(), absl::StrCat("record ", in.topic, "/0@", kOffset)),
             status.message());
  if (markers.refused) {
    FUZZ_CHECK(absl::IsFailedPrecondition(status), status.ToString());
    FUZZ_CHECK(!kafka::IsRetryableDecryptError(status), status.ToString());
    return;
  }
  // Parts are decrypted value first: the first one that fails decides.
  bool revoked = markers.value && IsRevoked(in.value);
  std::optional<ErrorReason> reason = ReasonOf(status);
  if (revoked) {
    FUZZ_CHECK(reason == ErrorReason::kKeyNotAccessible, status.ToString());
  } else {
    FUZZ_CHECK(reason == ErrorReason::kEdekInvalid ||
                   (reason == ErrorReason::kKeyNotAccessible && markers.key && IsRevoked(in.key)),
               status.ToString());
  }
  FUZZ_CHECK(kafka::IsRetryableDecryptError(status) == (reason == ErrorReason::kKeyNotAccessible),
             status.ToString());
}

sdk::Encryptor& TheEncryptor() {
  static DerivedDekSource* const source = new DerivedDekSource();
  static sdk::Encryptor* const encryptor = [] {
    sdk::EncryptorOptions options;
    options.dek_context = FuzzDekContext();
    options.decrypt_cache_entries = 0;  // every input unwraps: no state between inputs
    return sdk::Encryptor::Create(source, options).value().release();
  }();
  return *encryptor;
}

void TestOneInput(FuzzInput input) {
  Record record = ReadRecord(input);
  KeyedMessage message(record.topic, record.key, record.value);
  for (auto& [name, value] : record.headers) {
    message.AddHeader(name, value);
    // librdkafka keeps header names as C strings: a NUL ends the name.
    name = name.substr(0, name.find('\0'));
  }
  kafka::DecryptOptions options;
  options.require_encryption = record.require_encryption;
  const Markers markers = ReadMarkers(record);

  absl::StatusOr<kafka::ConsumedRecord> decrypted =
      kafka::DecryptMessage(message, TheEncryptor(), options);
  if (decrypted.ok()) {
    FUZZ_CHECK(!markers.refused, "a record the headers refuse was returned");
    CheckDecrypted(*decrypted, record, markers);
  } else {
    CheckRefused(decrypted.status(), record, markers);
  }
}

}  // namespace
}  // namespace keybroker::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  keybroker::fuzz::FuzzInput input(data, size);
  keybroker::fuzz::TestOneInput(input);
  return 0;
}
