#include "ctl/json_output.h"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "crypto/wipe.h"
#include "keybroker/sdk/error_info.h"

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

// Unknown code numbers (none from a real peer) print as the number.
std::string CodeName(absl::StatusCode code) {
  std::string name = absl::StatusCodeToString(code);
  return name.empty() ? std::to_string(static_cast<int>(code)) : name;
}

// Whole seconds print as an integer, as scripts written against them expect.
Json RetryDelaySeconds(absl::Duration delay) {
  int64_t seconds = absl::ToInt64Seconds(delay);
  if (delay == absl::Seconds(seconds)) return seconds;
  return absl::ToDoubleSeconds(delay);
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

Json StatusErrorJson(const absl::Status& status) {
  Json error = {{"code", CodeName(status.code())}, {"message", std::string(status.message())}};
  if (std::optional<sdk::ErrorInfo> info = sdk::ErrorInfoOf(status)) {
    error["reason"] = info->reason;
    error["domain"] = info->domain;
  } else if (std::optional<ErrorReason> reason = ReasonOf(status)) {
    error["reason"] = std::string(ErrorReasonName(*reason));
  }
  if (std::optional<absl::Duration> delay = RetryDelayOf(status)) {
    error["retry_delay_seconds"] = RetryDelaySeconds(*delay);
  }
  return {{"error", std::move(error)}};
}

int ReportError(const absl::Status& status) {
  PrintLine(stderr, Serialize(StatusErrorJson(status)));
  return kExitRpcError;
}

int ReportOptionsError(const absl::Status& status) {
  PrintLine(stderr, Serialize(StatusErrorJson(status)));
  return kExitUsage;
}

int ReportUsageError(absl::string_view message) {
  PrintLine(stderr, "keybrokerctl: " + std::string(message));
  return kExitUsage;
}

}  // namespace keybroker::ctl
