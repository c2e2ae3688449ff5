#include "server/grpc_status.h"

#include <string>

#include "common/error_reason.h"
#include "common/utf8.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace keybroker::server {
namespace {

ErrorReason ReasonFor(const absl::Status& status) {
  if (std::optional<ErrorReason> reason = ReasonOf(status)) return *reason;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument: return ErrorReason::kInvalidRequest;
    case absl::StatusCode::kNotFound: return ErrorReason::kKeyNotFound;
    case absl::StatusCode::kUnavailable: return ErrorReason::kKmsUnavailable;
    case absl::StatusCode::kDeadlineExceeded: return ErrorReason::kDeadlineExceeded;
    default: return ErrorReason::kInternal;
  }
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  ErrorReason reason = ReasonFor(status);
  // A status with no reason and a code no reason implies is our own fault:
  // report it as INTERNAL rather than under a code callers would act on.
  absl::StatusCode code = ReasonOf(status).has_value() || reason != ErrorReason::kInternal
                              ? status.code()
                              : absl::StatusCode::kInternal;
  google::rpc::Status details;
  details.set_code(static_cast<int>(code));
  // google.rpc.Status.message is a proto3 string: it must be UTF-8 or the
  // whole details blob is lost.
  std::string message = ToValidUtf8(status.message());
  details.set_message(message);
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(ErrorReasonName(reason)));
  info.set_domain(kErrorDomain);
  if (IsAliasNotConfigured(status)) (*info.mutable_metadata())["alias_configured"] = "false";
  details.add_details()->PackFrom(info);
  if (std::optional<absl::Duration> delay = RetryDelayOf(status)) {
    google::rpc::RetryInfo retry;
    int64_t millis = absl::ToInt64Milliseconds(*delay);
    retry.mutable_retry_delay()->set_seconds(millis / 1000);
    retry.mutable_retry_delay()->set_nanos(static_cast<int32_t>((millis % 1000) * 1000000));
    details.add_details()->PackFrom(retry);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(code), std::move(message),
                      details.SerializeAsString());
}

}  // namespace keybroker::server
