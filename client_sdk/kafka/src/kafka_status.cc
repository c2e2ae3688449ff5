#include "client_sdk/kafka/src/kafka_status.h"

#include "absl/strings/str_cat.h"

namespace keybroker::sdk::kafka::internal {

absl::Status KafkaStatus(RdKafka::ErrorCode code, absl::string_view what) {
  if (code == RdKafka::ERR_NO_ERROR) return absl::OkStatus();
  std::string message = absl::StrCat(what, ": ", RdKafka::err2str(code));
  switch (code) {
    case RdKafka::ERR__QUEUE_FULL:
    case RdKafka::ERR__TRANSPORT:
    case RdKafka::ERR__ALL_BROKERS_DOWN:
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
    case RdKafka::ERR_NOT_LEADER_FOR_PARTITION:
    case RdKafka::ERR_LEADER_NOT_AVAILABLE:
    case RdKafka::ERR__MSG_TIMED_OUT:
      return absl::UnavailableError(message);
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR__UNKNOWN_PARTITION:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
      return absl::NotFoundError(message);
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR__INVALID_ARG:
    case RdKafka::ERR_INVALID_MSG:
      return absl::InvalidArgumentError(message);
    case RdKafka::ERR__FATAL:
    case RdKafka::ERR__STATE:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace keybroker::sdk::kafka::internal
