#include "kms_adapters/azure/error_text.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace keybroker::kms::azure {
namespace {

constexpr absl::string_view kRedacted = "[redacted]";

// Names after which a service or proxy would write a credential: an
// Authorization header, a form body, a token response.
constexpr absl::string_view kCredentialNames[] = {
    "bearer", "client_secret", "client_assertion", "access_token", "refresh_token",
};

// Shorter values are words ("Bearer or PoP token"), not credentials.
constexpr size_t kMinCredentialSize = 8;

// How much of a body is looked at: bounds the work an endless body costs.
constexpr size_t kMaxScannedFactor = 16;

bool IsIdentifierChar(char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.'; }

// Characters of tokens and secrets, percent-encoded or not.
bool IsCredentialChar(char c) {
  return IsIdentifierChar(c) || c == '~' || c == '+' || c == '/' || c == '=' || c == '%';
}

// The end of the run of credential characters from `begin`.
size_t CredentialEnd(absl::string_view text, size_t begin) {
  size_t end = begin;
  while (end < text.size() && IsCredentialChar(text[end])) ++end;
  return end;
}

// When a credential name starts at `at`, sets [*begin, *end) to the value
// after it (past separators such as '=', ':', quotes) and returns true.
bool NamedCredentialAt(absl::string_view text, size_t at, size_t* begin, size_t* end) {
  for (absl::string_view name : kCredentialNames) {
    if (!absl::StartsWithIgnoreCase(text.substr(at), name)) continue;
    size_t value = at + name.size();
    while (value < text.size() && absl::string_view(" \t=:\"'").find(text[value]) !=
                                      absl::string_view::npos) {
      ++value;
    }
    size_t value_end = CredentialEnd(text, value);
    if (value_end - value < kMinCredentialSize) return false;
    *begin = value;
    *end = value_end;
    return true;
  }
  return false;
}

// The size of a JWT (base64url of "{", dots) starting at `at`, or 0.
size_t JwtSizeAt(absl::string_view text, size_t at) {
  if (!absl::StartsWith(text.substr(at), "eyJ")) return 0;
  if (at > 0 && IsCredentialChar(text[at - 1])) return 0;
  size_t end = at;
  while (end < text.size() && IsIdentifierChar(text[end])) ++end;
  absl::string_view run = text.substr(at, end - at);
  return run.size() >= 2 * kMinCredentialSize && absl::StrContains(run, '.') ? run.size() : 0;
}

std::string Redact(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t at = 0;
  while (at < text.size()) {
    size_t begin = 0, end = 0;
    if (NamedCredentialAt(text, at, &begin, &end)) {
      absl::StrAppend(&out, text.substr(at, begin - at), kRedacted);
      at = end;
    } else if (size_t jwt = JwtSizeAt(text, at); jwt > 0) {
      absl::StrAppend(&out, kRedacted);
      at += jwt;
    } else {
      out.push_back(text[at++]);
    }
  }
  return out;
}

}  // namespace

std::string ServiceIdentifier(absl::string_view text, size_t max_size) {
  if (text.empty() || text.size() > max_size ||
      !std::all_of(text.begin(), text.end(), IsIdentifierChar)) {
    return "";
  }
  return std::string(text);
}

std::string DiagnosticText(absl::string_view text, size_t max_size) {
  std::string out = Redact(text.substr(0, kMaxScannedFactor * max_size));
  for (char& c : out) {
    if (absl::ascii_iscntrl(static_cast<unsigned char>(c))) c = ' ';
  }
  out.resize(std::min(out.size(), max_size));
  // '?' for a character the cut split: the size stays within max_size.
  return ToValidUtf8(out);
}

}  // namespace keybroker::kms::azure
