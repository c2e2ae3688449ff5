// URL helpers for the Azure adapters: split an absolute http(s) URL into the
// parts the transport needs, name its origin, and percent-encode form and
// query values.
//
// Only what Key Vault, Managed HSM, Entra ID and IMDS URLs use is accepted:
// http or https, a host, an optional port, a path and query. User info
// ("user@host") is refused so that credentials never ride in a URL.
// All functions are pure and safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_URL_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_URL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keybroker::kms::azure {

struct Url {
  std::string scheme;          // "http" or "https", lower case
  std::string host;            // lower case; IPv6 literals keep their brackets
  int port = 0;                // as written, else the scheme's default (80, 443)
  std::string path_and_query;  // starts with "/"; the fragment is dropped

  // Returns "scheme://host:port", the unit of connection reuse and of the
  // per-vault concurrency limit. The port is always written, so
  // https://v.vault.azure.net and https://V.vault.azure.net:443 share one.
  std::string Origin() const;
};

// Parses absolute `url`. INVALID_ARGUMENT when it is not http(s), has no host,
// carries user info or has a bad port; the message names the problem, not the
// URL.
absl::StatusOr<Url> ParseUrl(absl::string_view url);

// Returns ParseUrl(url)->Origin(), or ParseUrl's error.
absl::StatusOr<std::string> OriginOf(absl::string_view url);

// Returns `value` percent-encoded for a query value or an
// application/x-www-form-urlencoded body: RFC 3986 unreserved characters
// (ALPHA DIGIT - . _ ~) are kept, every other byte becomes %XX (upper case),
// so a space is %20, never '+'.
std::string UrlEncode(absl::string_view value);

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_URL_H_
