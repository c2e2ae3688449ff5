#include "ctl/json_output.h"

#include <cstdio>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/error_reason.h"
#include "crypto/wipe.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace keybroker::ctl {

using ::keybroker::crypto::WipeString;
namespace {

void WipeJsonStrings(Json& value) {
  if (value.is_string()) {
    WipeString(&value.get_ref<std::string&>());
  } else if (value.is_structured()) {
    for (Json& child : value) WipeJsonStrings(child);
  }
}

// gRPC and absl share code numbers, and absl already spells the names the
// way the gRPC specification does ("NOT_FOUND").
std::string CodeName(grpc::StatusCode code) {
  std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? std::to_string(static_cast<int>(code)) : name;
}

Json RetryDelaySeconds(const google::rpc::RetryInfo& retry) {
  const google::protobuf::Duration& delay = retry.retry_delay();
  if (delay.nanos() == 0) return delay.seconds();
  return static_cast<double>(delay.seconds()) + delay.nanos() / 1e9;
}

// Copies what a script branches on out of the rich error details; details of
// other types (or a payload that does not parse) are ignored, not fatal.
void AddErrorDetails(const std::string& serialized, Json& error) {
  google::rpc::Status details;
  if (serialized.empty() || !details.ParseFromString(serialized)) return;
  for (const google::protobuf::Any& any : details.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::RetryInfo retry;
    if (any.UnpackTo(&info)) {
      error["reason"] = info.reason();
      error["domain"] = info.domain();
    } else if (any.UnpackTo(&retry)) {
      error["retry_delay_seconds"] = RetryDelaySeconds(retry);
    }
  }
}

// Text from the broker (an error message naming an alias, say) need not be
// valid UTF-8; replacing bad bytes beats the exception dump() would throw.
std::string Serialize(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void PrintLine(std::FILE* stream, const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stream);
  std::fputc('\n', stream);
  std::fflush(stream);
}

}  // namespace

int PrintResultAndWipe(Json& result) {
  std::string line = Serialize(result);
  PrintLine(stdout, line);
  WipeString(&line);
  WipeJsonStrings(result);
  return kExitOk;
}

Json RpcErrorJson(const grpc::Status& status) {
  Json error = {{"code", CodeName(status.error_code())}, {"message", status.error_message()}};
  AddErrorDetails(status.error_details(), error);
  return {{"error", std::move(error)}};
}

int ReportRpcError(const grpc::Status& status) {
  PrintLine(stderr, Serialize(RpcErrorJson(status)));
  return kExitRpcError;
}

Json StatusErrorJson(const absl::Status& status) {
  Json error = {{"code", absl::StatusCodeToString(status.code())},
                {"message", std::string(status.message())}};
  if (std::optional<ErrorReason> reason = ReasonOf(status)) {
    error["reason"] = std::string(ErrorReasonName(*reason));
  }
  return {{"error", std::move(error)}};
}

int ReportError(const absl::Status& status) {
  PrintLine(stderr, Serialize(StatusErrorJson(status)));
  return kExitRpcError;
}

int ReportUsageError(absl::string_view message) {
  PrintLine(stderr, "keybrokerctl: " + std::string(message));
  return kExitUsage;
}

}  // namespace keybroker::ctl
