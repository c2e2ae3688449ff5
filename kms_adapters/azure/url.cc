#include "kms_adapters/azure/url.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace keybroker::kms::azure {
namespace {

bool IsUnreserved(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

// A registered name or IPv4 address; IDNs arrive already in punycode.
bool IsHostName(absl::string_view host) {
  if (host.empty()) return false;
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return true;
}

// "[...]" holding hex digits, ':' and '.' (an IPv4 tail).
bool IsIpv6Literal(absl::string_view host) {
  if (host.size() < 3 || host.front() != '[' || host.back() != ']') return false;
  for (char c : host.substr(1, host.size() - 2)) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
  }
  return true;
}

absl::Status ParsePort(absl::string_view text, int* port) {
  if (text.empty()) return absl::OkStatus();  // "host:" means the default port
  bool digits_only = std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
  int value = 0;
  if (!digits_only || !absl::SimpleAtoi(text, &value) || value < 1 || value > 65535) {
    return absl::InvalidArgumentError("url port must be a number from 1 to 65535");
  }
  *port = value;
  return absl::OkStatus();
}

// Fills host and port of `url` from `authority` ("host", "host:port",
// "[v6]:port").
absl::Status ParseAuthority(absl::string_view authority, Url* url) {
  if (absl::StrContains(authority, '@')) {
    return absl::InvalidArgumentError("url must not carry user info");
  }
  size_t host_end = authority.find(':');
  if (!authority.empty() && authority.front() == '[') {
    host_end = authority.find(']');
    if (host_end != absl::string_view::npos) ++host_end;
  }
  absl::string_view host = authority.substr(0, host_end);
  absl::string_view after_host =
      host_end == absl::string_view::npos ? absl::string_view() : authority.substr(host_end);
  if (!IsHostName(host) && !IsIpv6Literal(host)) {
    return absl::InvalidArgumentError("url has no valid host");
  }
  if (!after_host.empty()) {
    if (after_host.front() != ':') return absl::InvalidArgumentError("url has no valid host");
    RETURN_IF_ERROR(ParsePort(after_host.substr(1), &url->port));
  }
  url->host = absl::AsciiStrToLower(host);
  return absl::OkStatus();
}

}  // namespace

std::string Url::Origin() const { return absl::StrCat(scheme, "://", host, ":", port); }

absl::StatusOr<Url> ParseUrl(absl::string_view text) {
  size_t scheme_end = text.find("://");
  if (scheme_end == absl::string_view::npos) {
    return absl::InvalidArgumentError("url is not absolute (no scheme://)");
  }
  Url url;
  url.scheme = absl::AsciiStrToLower(text.substr(0, scheme_end));
  if (url.scheme == "https") {
    url.port = 443;
  } else if (url.scheme == "http") {
    url.port = 80;
  } else {
    return absl::InvalidArgumentError("url scheme must be http or https");
  }
  absl::string_view rest = text.substr(scheme_end + 3);
  size_t authority_end = rest.find_first_of("/?#");
  RETURN_IF_ERROR(ParseAuthority(rest.substr(0, authority_end), &url));
  absl::string_view tail =
      authority_end == absl::string_view::npos ? absl::string_view() : rest.substr(authority_end);
  tail = tail.substr(0, tail.find('#'));
  url.path_and_query = absl::StartsWith(tail, "/") ? std::string(tail) : absl::StrCat("/", tail);
  return url;
}

absl::StatusOr<std::string> OriginOf(absl::string_view url) {
  ASSIGN_OR_RETURN(Url parsed, ParseUrl(url));
  return parsed.Origin();
}

std::string UrlEncode(absl::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  // The worst case up front: a regrown buffer would leave unwiped copies of
  // secrets (client secrets are form-encoded).
  out.reserve(3 * value.size());
  for (char c : value) {
    if (IsUnreserved(c)) {
      out.push_back(c);
    } else {
      unsigned char byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
  return out;
}

}  // namespace keybroker::kms::azure
