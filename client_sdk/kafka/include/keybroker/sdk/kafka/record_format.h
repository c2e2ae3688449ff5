// How keybroker protects a Kafka record, shared by EncryptingProducer and
// DecryptingConsumer (docs/kafka.md is the reference for other languages).
//
// A protected record carries the header "keybroker-encryption" = "v1": its
// value, unless null, is a ciphertext of docs/ciphertext-format.md. When the
// key is encrypted too, the record also carries "keybroker-encryption-key" =
// "v1" and its key, unless null, is such a ciphertext. Records without the
// header are plaintext. Null values (tombstones) and null keys stay null.
//
// The caller's aad authenticated with each ciphertext is
//     "keybroker-kafka/v1" 0x00 part 0x00 topic
// with part "value" or "key": a ciphertext opens only as the same part of a
// record in a topic of the same name. Partition, offset, timestamp and the
// other headers are not bound: records may be re-partitioned or mirrored
// under the same topic name and still decrypt.
#ifndef KEYBROKER_SDK_KAFKA_RECORD_FORMAT_H_
#define KEYBROKER_SDK_KAFKA_RECORD_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace keybroker::sdk::kafka {

inline constexpr absl::string_view kEncryptionHeader = "keybroker-encryption";
inline constexpr absl::string_view kKeyEncryptionHeader = "keybroker-encryption-key";
inline constexpr absl::string_view kFormatV1 = "v1";

// Which part of a record a ciphertext is.
enum class RecordPart { kKey, kValue };

// Returns the aad bound to `part` of a record in `topic` (see above).
std::string RecordAad(absl::string_view topic, RecordPart part);

// Returns true for the header names only keybroker may set.
bool IsReservedHeader(absl::string_view name);

// One record header; Kafka allows repeated names and null values, kept here
// as an empty value.
using Header = std::pair<std::string, std::string>;

}  // namespace keybroker::sdk::kafka

#endif  // KEYBROKER_SDK_KAFKA_RECORD_FORMAT_H_
