// keybrokerctl's output: one JSON object per run, the result on stdout or the
// error on stderr, so that scripts parse either without scraping text.
//
// Exit statuses: 0 success, 1 the broker (or the connection) reported an
// error, 2 the command line was wrong. Not safe for concurrent use (it writes
// to the process's standard streams).
#ifndef KEYBROKER_CTL_JSON_OUTPUT_H_
#define KEYBROKER_CTL_JSON_OUTPUT_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace keybroker::ctl {

// Keeps keys in the order written, so output reads like the documentation.
using Json = nlohmann::ordered_json;

inline constexpr int kExitOk = 0;
inline constexpr int kExitRpcError = 1;
inline constexpr int kExitUsage = 2;

// Prints `result` as one line on stdout, then wipes every string it held and
// the serialized text: results may carry plaintext DEKs. Returns kExitOk.
int PrintResultAndWipe(Json& result);

// Returns {"error": {"code", "message", "reason", "domain",
// "retry_delay_seconds"}} for a failed call or operation. `code` is the
// code name ("NOT_FOUND"). For a call, reason and domain are the broker's
// google.rpc.ErrorInfo as sent (sdk::ErrorInfoOf) and retry_delay_seconds its
// google.rpc.RetryInfo; each is left out when the broker (or gRPC itself,
// e.g. on a refused connection) did not send it. For a local operation
// (keybrokerctl keyring), reason is the error's own (common/error_reason.h),
// when it has one.
Json StatusErrorJson(const absl::Status& status);

// Prints StatusErrorJson(status) as one line on stderr. Returns
// kExitRpcError: the call or operation failed.
int ReportError(const absl::Status& status);

// Prints StatusErrorJson(status) as one line on stderr. Returns kExitUsage:
// for options that cannot work, refused before anything was attempted (a
// connection the SDK does not allow, an unreadable certificate file).
int ReportOptionsError(const absl::Status& status);

// Prints "keybrokerctl: <message>" on stderr. Returns kExitUsage.
int ReportUsageError(absl::string_view message);

}  // namespace keybroker::ctl

#endif  // KEYBROKER_CTL_JSON_OUTPUT_H_
