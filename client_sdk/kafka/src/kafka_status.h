// The one translation of librdkafka error codes into absl::Status for the
// Kafka layer of the SDK. Internal: not installed.
#ifndef KEYBROKER_SDK_KAFKA_SRC_KAFKA_STATUS_H_
#define KEYBROKER_SDK_KAFKA_SRC_KAFKA_STATUS_H_

#include <librdkafka/rdkafkacpp.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace keybroker::sdk::kafka::internal {

// Returns OK for ERR_NO_ERROR; otherwise a Status whose code says what the
// caller should do (UNAVAILABLE: poll and retry; NOT_FOUND: unknown topic or
// partition; INVALID_ARGUMENT: the record or a setting is wrong;
// FAILED_PRECONDITION: the client is in a fatal state; INTERNAL otherwise),
// with "`what`: librdkafka's description" as message.
absl::Status KafkaStatus(RdKafka::ErrorCode code, absl::string_view what);

}  // namespace keybroker::sdk::kafka::internal

#endif  // KEYBROKER_SDK_KAFKA_SRC_KAFKA_STATUS_H_
