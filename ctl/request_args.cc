#include "ctl/request_args.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ctl/wipe.h"

namespace keybroker::ctl {
namespace {

// Longer deadlines are a typo, and would overflow the clock's arithmetic.
constexpr double kMaxTimeoutSeconds = 24 * 60 * 60;

struct Utf8Lead {
  size_t length;  // of the whole sequence; 0 when the byte cannot start one
  uint32_t bits;  // the code point bits the lead byte carries
};

Utf8Lead DecodeLead(unsigned char lead) {
  if (lead < 0x80) return {1, lead};
  if ((lead & 0xE0) == 0xC0) return {2, lead & 0x1Fu};
  if ((lead & 0xF0) == 0xE0) return {3, lead & 0x0Fu};
  if ((lead & 0xF8) == 0xF0) return {4, lead & 0x07u};
  return {0, 0};
}

}  // namespace

bool IsValidUtf8(absl::string_view text) {
  static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  for (size_t i = 0; i < text.size();) {
    auto [length, code_point] = DecodeLead(static_cast<unsigned char>(text[i]));
    if (length == 0 || text.size() - i < length) return false;
    for (size_t k = 1; k < length; ++k) {
      unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    if (code_point < kSmallest[length] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

absl::Status CheckTimeoutSeconds(absl::string_view text) {
  double seconds = 0;
  if (!absl::SimpleAtod(text, &seconds) || !std::isfinite(seconds) || seconds <= 0 ||
      seconds > kMaxTimeoutSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a number of seconds in (0, ", kMaxTimeoutSeconds, "]"));
  }
  return absl::OkStatus();
}

absl::Status AddContextPairs(const std::vector<std::string>& pairs,
                             google::protobuf::Map<std::string, std::string>* context) {
  for (const std::string& pair : pairs) {
    size_t equals = pair.find('=');
    if (equals == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("--context \"", pair, "\" is not KEY=VALUE"));
    }
    std::string key = pair.substr(0, equals);
    // A silent last-one-wins would bind a context the operator did not mean.
    if (!context->insert({key, pair.substr(equals + 1)}).second) {
      return absl::InvalidArgumentError(absl::StrCat("--context key \"", key, "\" given twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeBase64Flag(absl::string_view flag, absl::string_view text, std::string* out) {
  if (absl::Base64Unescape(text, out)) return absl::OkStatus();
  // Whatever decoded before the bad byte may be key material.
  WipeString(out);
  return absl::InvalidArgumentError(absl::StrCat(flag, " is not valid standard base64"));
}

}  // namespace keybroker::ctl
