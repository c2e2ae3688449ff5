// ErrorInfoOf: the google.rpc.ErrorInfo a failed Client call carried, exactly
// as it was sent.
//
// keybroker::ReasonOf (keybroker/common/error_reason.h) is what programs
// branch on: it gives only reasons of the "keybroker" domain that this SDK
// version knows and that go with the error's code. Tools that show an error
// to a person (keybrokerctl prints it as JSON) want the ErrorInfo whatever it
// says: a reason a newer broker added, or another domain's (a proxy in
// between). Stateless and thread-safe.
#ifndef KEYBROKER_SDK_ERROR_INFO_H_
#define KEYBROKER_SDK_ERROR_INFO_H_

#include <optional>
#include <string>

#include "absl/status/status.h"

namespace keybroker::sdk {

struct ErrorInfo {
  std::string reason;  // e.g. "KEY_NOT_FOUND"
  std::string domain;  // "keybroker" for the broker's own errors
};

// Returns the ErrorInfo of an error that a Client call returned (the last
// one, if the answer held several). nullopt for OK, for errors that carried
// none (those gRPC makes itself: UNAVAILABLE when no broker answers,
// DEADLINE_EXCEEDED), and for errors that did not come from a call.
std::optional<ErrorInfo> ErrorInfoOf(const absl::Status& status);

}  // namespace keybroker::sdk

#endif  // KEYBROKER_SDK_ERROR_INFO_H_
