#include "kms_adapters/azure/key_version_list.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "kms_adapters/azure/url.h"
#include "nlohmann/json.hpp"

namespace keybroker::kms::azure {
namespace {

using Json = nlohmann::json;

std::optional<absl::Time> OptionalTime(const Json& attributes, const char* field) {
  auto it = attributes.find(field);
  if (it == attributes.end() || !it->is_number_integer()) return std::nullopt;
  return absl::FromUnixSeconds(it->get<int64_t>());
}

bool IsVersionId(absl::string_view version) {
  return version.size() == 32 && std::all_of(version.begin(), version.end(), absl::ascii_isxdigit);
}

// The item's version when its kid is ".../keys/{name}/{version}" (names
// compare case-insensitively, §1.1); nullopt otherwise.
std::optional<KeyVersionItem> ReadItem(const Json& item, absl::string_view name) {
  if (!item.is_object()) return std::nullopt;
  auto kid = item.find("kid");
  if (kid == item.end() || !kid->is_string()) return std::nullopt;
  std::string text = absl::AsciiStrToLower(kid->get<std::string>());
  size_t slash = text.rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  KeyVersionItem parsed;
  parsed.version = text.substr(slash + 1);
  if (!IsVersionId(parsed.version) ||
      !absl::EndsWith(absl::string_view(text).substr(0, slash),
                      absl::StrCat("/keys/", absl::AsciiStrToLower(name)))) {
    return std::nullopt;
  }
  auto attributes = item.find("attributes");
  if (attributes != item.end() && attributes->is_object()) {
    auto enabled = attributes->find("enabled");
    parsed.enabled = enabled == attributes->end() || !enabled->is_boolean() || enabled->get<bool>();
    parsed.created = OptionalTime(*attributes, "created");
    parsed.not_before = OptionalTime(*attributes, "nbf");
    parsed.expires = OptionalTime(*attributes, "exp");
  }
  return parsed;
}

// The next page's path and query, when `link` is the same vault's list of
// the same key's versions.
absl::StatusOr<std::string> NextPage(absl::string_view link, absl::string_view vault_origin,
                                     absl::string_view name) {
  absl::StatusOr<Url> url = ParseUrl(link);
  const std::string expected = absl::StrCat("/keys/", absl::AsciiStrToLower(name), "/versions?");
  if (!url.ok() || url->Origin() != vault_origin ||
      !absl::StartsWith(absl::AsciiStrToLower(url->path_and_query), expected)) {
    return Internal("list key versions: the answer's nextLink leaves the key's version list");
  }
  return url->path_and_query;
}

}  // namespace

absl::StatusOr<KeyVersionPage> ParseKeyVersionPage(absl::string_view body,
                                                   absl::string_view vault_origin,
                                                   absl::string_view name) {
  Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("value") || !json["value"].is_array()) {
    return Internal("list key versions: response has no value list");
  }
  KeyVersionPage page;
  for (const Json& item : json["value"]) {
    if (std::optional<KeyVersionItem> parsed = ReadItem(item, name)) {
      page.items.push_back(*std::move(parsed));
    }
  }
  auto link = json.find("nextLink");
  if (link != json.end() && link->is_string() && !link->get<std::string>().empty()) {
    absl::StatusOr<std::string> next = NextPage(link->get<std::string>(), vault_origin, name);
    if (!next.ok()) return next.status();
    page.next_path_and_query = *std::move(next);
  }
  return page;
}

}  // namespace keybroker::kms::azure
