// Turns keybrokerctl's textual arguments into request fields: the repeated
// --context KEY=VALUE and base64 byte strings. Errors are usage errors: the
// messages name the flag and are meant for the operator's terminal.
#ifndef KEYBROKER_CTL_REQUEST_ARGS_H_
#define KEYBROKER_CTL_REQUEST_ARGS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keybroker/sdk/dek_source.h"

namespace keybroker::ctl {

// Returns the encryption context of the "KEY=VALUE" `pairs`, each split on
// its first '=' (values may contain '='). INVALID_ARGUMENT when an entry has
// no '=' or a key is given twice.
absl::StatusOr<sdk::Context> ParseContext(const std::vector<std::string>& pairs);

// Decodes standard base64 `text` into `out` (replacing its contents).
// INVALID_ARGUMENT, naming `flag`, when `text` is not base64.
absl::Status DecodeBase64Flag(absl::string_view flag, absl::string_view text, std::string* out);

// Checks a per-call timeout: a number of seconds, more than 0 and at most a
// day. INVALID_ARGUMENT otherwise.
absl::Status CheckTimeoutSeconds(absl::string_view text);

}  // namespace keybroker::ctl

#endif  // KEYBROKER_CTL_REQUEST_ARGS_H_
