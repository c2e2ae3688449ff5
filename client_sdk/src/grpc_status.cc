#include "client_sdk/src/grpc_status.h"

#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "keybroker/sdk/error_info.h"

namespace keybroker::sdk::internal {
namespace {

// ErrorInfo.domain of the broker's errors (server/grpc_status.h kErrorDomain,
// documented in proto/keybroker/v1/key_broker.proto). Another domain's
// ErrorInfo, say from a proxy in between, is not ours to interpret.
constexpr absl::string_view kErrorDomain = "keybroker";

// The ErrorInfo as sent (serialized), for ErrorInfoOf.
constexpr absl::string_view kErrorInfoUrl = "type.keybroker.dev/sdk_error_info";

// Returns the status with the reason attached, or nullopt when `info` names no
// reason this version knows for `code`.
std::optional<absl::Status> WithReason(absl::StatusCode code, absl::string_view message,
                                       const google::rpc::ErrorInfo& info) {
  if (info.domain() != kErrorDomain) return std::nullopt;
  std::optional<ErrorReason> reason = ParseErrorReason(info.reason());
  // Every reason implies one code (common/error_reason.h); a pair that breaks
  // that did not come from a broker, so the code wins.
  if (!reason.has_value() || CodeForReason(*reason) != code) return std::nullopt;
  absl::Status status = MakeError(*reason, message);
  auto configured = info.metadata().find("alias_configured");
  if (*reason == ErrorReason::kKeyNotFound && configured != info.metadata().end() &&
      configured->second == "false") {
    MarkAliasNotConfigured(status);
  }
  return status;
}

absl::Duration DelayOf(const google::rpc::RetryInfo& retry) {
  return absl::Seconds(retry.retry_delay().seconds()) +
         absl::Nanoseconds(retry.retry_delay().nanos());
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  auto code = static_cast<absl::StatusCode>(status.error_code());
  absl::Status result(code, status.error_message());
  google::rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) {
    return result;
  }
  std::optional<absl::Duration> delay;
  std::optional<google::rpc::ErrorInfo> sent;
  for (const google::protobuf::Any& any : details.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::RetryInfo retry;
    if (any.UnpackTo(&info)) {
      if (std::optional<absl::Status> reasoned = WithReason(code, result.message(), info)) {
        result = *std::move(reasoned);
      }
      sent = std::move(info);
    } else if (any.UnpackTo(&retry)) {
      delay = DelayOf(retry);
    }
  }
  if (delay.has_value()) SetRetryDelay(result, *delay);
  if (sent.has_value()) result.SetPayload(kErrorInfoUrl, absl::Cord(sent->SerializeAsString()));
  return result;
}

}  // namespace keybroker::sdk::internal

namespace keybroker::sdk {

std::optional<ErrorInfo> ErrorInfoOf(const absl::Status& status) {
  auto payload = status.GetPayload(internal::kErrorInfoUrl);
  google::rpc::ErrorInfo info;
  if (!payload.has_value() || !info.ParseFromString(std::string(*payload))) return std::nullopt;
  return ErrorInfo{info.reason(), info.domain()};
}

}  // namespace keybroker::sdk
