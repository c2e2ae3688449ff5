#include "ctl/request_args.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "crypto/wipe.h"

namespace keybroker::ctl {

using ::keybroker::crypto::WipeString;
namespace {

// Longer deadlines are a typo, and would overflow the clock's arithmetic.
constexpr double kMaxTimeoutSeconds = 24 * 60 * 60;

}  // namespace

absl::Status CheckTimeoutSeconds(absl::string_view text) {
  double seconds = 0;
  if (!absl::SimpleAtod(text, &seconds) || !std::isfinite(seconds) || seconds <= 0 ||
      seconds > kMaxTimeoutSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a number of seconds in (0, ", kMaxTimeoutSeconds, "]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<sdk::Context> ParseContext(const std::vector<std::string>& pairs) {
  sdk::Context context;
  for (const std::string& pair : pairs) {
    size_t equals = pair.find('=');
    if (equals == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("--context \"", pair, "\" is not KEY=VALUE"));
    }
    std::string key = pair.substr(0, equals);
    // A silent last-one-wins would bind a context the operator did not mean.
    if (!context.emplace(key, pair.substr(equals + 1)).second) {
      return absl::InvalidArgumentError(absl::StrCat("--context key \"", key, "\" given twice"));
    }
  }
  return context;
}

absl::Status DecodeBase64Flag(absl::string_view flag, absl::string_view text, std::string* out) {
  if (absl::Base64Unescape(text, out)) return absl::OkStatus();
  // Whatever decoded before the bad byte may be key material.
  WipeString(out);
  return absl::InvalidArgumentError(absl::StrCat(flag, " is not valid standard base64"));
}

}  // namespace keybroker::ctl
