#include "kms_adapters/azure/entra/token_endpoint.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crypto/wipe.h"
#include "kms_adapters/azure/entra/token_response.h"
#include "kms_adapters/azure/url.h"

namespace keybroker::kms::azure {
namespace {

constexpr size_t kMaxIdentifier = 256;

// A tenant GUID or verified domain name ("contoso.onmicrosoft.com"): it goes
// into the URL path, so nothing that could change the path.
bool IsTenantId(absl::string_view tenant) {
  if (tenant.empty() || tenant.size() > kMaxIdentifier) return false;
  for (char c : tenant) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return tenant != "." && tenant != "..";
}

}  // namespace

absl::StatusOr<std::string> TokenEndpointUrl(absl::string_view authority_host,
                                             absl::string_view tenant_id) {
  std::string authority(absl::StripAsciiWhitespace(authority_host));
  if (!absl::StrContains(authority, "://")) authority = absl::StrCat("https://", authority);
  // A naive join of "https://login.microsoftonline.com/" gives "//tenant"
  // (keyvault-protocol.md §9.3).
  while (absl::EndsWith(authority, "/")) authority.pop_back();
  absl::StatusOr<Url> url = ParseUrl(authority);
  if (!url.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("entra authority host is not a valid URL: ", url.status().message()));
  }
  if (url->scheme != "https") {
    return absl::InvalidArgumentError("entra authority host must use https");
  }
  if (absl::StrContains(authority, '?') || absl::StrContains(authority, '#')) {
    return absl::InvalidArgumentError("entra authority host must not have a query");
  }
  if (!IsTenantId(tenant_id)) {
    return absl::InvalidArgumentError("entra tenant id must be a tenant GUID or domain name");
  }
  return absl::StrCat(authority, "/", tenant_id, "/oauth2/v2.0/token");
}

absl::StatusOr<std::string> ParseClientId(absl::string_view text) {
  absl::string_view id = absl::StripAsciiWhitespace(text);
  bool ok = !id.empty() && id.size() <= kMaxIdentifier;
  for (char c : id) ok = ok && absl::ascii_isgraph(static_cast<unsigned char>(c));
  if (!ok) {
    return absl::InvalidArgumentError(
        "entra client id must be one word of printable ASCII (an application GUID)");
  }
  return std::string(id);
}

absl::StatusOr<crypto::SecretBytes> TrimSecret(const crypto::SecretBytes& secret,
                                               absl::string_view what) {
  absl::string_view trimmed = absl::StripAsciiWhitespace(secret.RevealAsStringView());
  if (trimmed.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  return crypto::SecretBytes::CopyFrom(trimmed);
}

absl::StatusOr<AccessToken> PostTokenRequest(HttpClient& http, const std::string& token_url,
                                             absl::Span<const FormField> form, absl::Time now,
                                             absl::Time deadline) {
  HttpRequest request;
  request.method = "POST";
  request.url = token_url;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"Accept", "application/json"}};
  // Sized once so that no reallocation leaves an unwiped copy behind.
  size_t size = 0;
  for (const FormField& field : form) size += field.name.size() + 3 * field.value.size() + 2;
  request.body.reserve(size);
  for (const FormField& field : form) {
    std::string value = UrlEncode(field.value);
    absl::StrAppend(&request.body, request.body.empty() ? "" : "&", field.name, "=", value);
    crypto::WipeString(&value);
  }
  absl::StatusOr<HttpResponse> response = http.Send(request, deadline);
  crypto::WipeString(&request.body);
  return TokenFromResponse(TokenService::kEntraId, std::move(response), now);
}

}  // namespace keybroker::kms::azure
