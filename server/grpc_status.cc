#include "server/grpc_status.h"

#include <string>

#include "common/error_reason.h"
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
    default: return ErrorReason::kInternal;
  }
}

// Returns `text` with every byte that is not part of a well-formed UTF-8
// sequence replaced by '?': google.rpc.Status.message is a proto3 string,
// which must be UTF-8 or the whole details blob fails to serialize.
std::string ValidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = len > 0 && i + len <= text.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    }
    if (ok) {
      out.append(text.data() + i, len);
      i += len;
    } else {
      out.push_back('?');
      ++i;
    }
  }
  return out;
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
  std::string message = ValidUtf8(status.message());
  details.set_message(message);
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(ErrorReasonName(reason)));
  info.set_domain(kErrorDomain);
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
