#include "kms_adapters/azure/entra/managed_identity_credential.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "kms_adapters/azure/entra/token_endpoint.h"
#include "kms_adapters/azure/entra/token_response.h"
#include "kms_adapters/azure/url.h"

namespace keybroker::kms::azure {

std::string ResourceForScope(absl::string_view scope) {
  absl::string_view resource = scope;
  absl::ConsumeSuffix(&resource, "/.default");
  while (absl::ConsumeSuffix(&resource, "/")) {
  }
  return std::string(resource);
}

absl::StatusOr<std::unique_ptr<ManagedIdentityCredential>> ManagedIdentityCredential::Create(
    const Options& options, HttpClient* http, const Clock* clock) {
  std::string endpoint(absl::StripAsciiWhitespace(options.endpoint));
  while (absl::EndsWith(endpoint, "/")) endpoint.pop_back();
  absl::StatusOr<Url> url = ParseUrl(endpoint);
  if (!url.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("managed identity endpoint: ", url.status().message()));
  }
  if (url->path_and_query != "/") {
    return absl::InvalidArgumentError(
        "managed identity endpoint must be scheme://host[:port] without a path");
  }
  std::string client_id;
  if (!options.client_id.empty()) {
    ASSIGN_OR_RETURN(client_id, ParseClientId(options.client_id));
  }
  return std::unique_ptr<ManagedIdentityCredential>(
      new ManagedIdentityCredential(std::move(endpoint), std::move(client_id), http, clock));
}

absl::StatusOr<AccessToken> ManagedIdentityCredential::Fetch(absl::string_view scope,
                                                             absl::Time deadline) {
  HttpRequest request;
  request.method = "GET";
  request.url = absl::StrCat(endpoint_, "/metadata/identity/oauth2/token?api-version=2018-02-01",
                             "&resource=", UrlEncode(ResourceForScope(scope)));
  if (!client_id_.empty()) absl::StrAppend(&request.url, "&client_id=", UrlEncode(client_id_));
  // Required, lower case: IMDS refuses requests without it (SSRF guard).
  request.headers = {{"Metadata", "true"}};
  absl::Time now = clock_->Now();
  return TokenFromResponse(TokenService::kImds, http_->Send(request, deadline), now);
}

}  // namespace keybroker::kms::azure
