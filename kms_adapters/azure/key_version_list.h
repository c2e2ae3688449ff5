// Reading one page of Key Vault's "list key versions" answer (§3.6): the
// versions it holds, with their attributes, and where the next page is.
//
// The answer's nextLink is absolute and is followed verbatim (it carries
// Key Vault's own $skiptoken), but only when it points back at the same
// vault and the same key's versions: a vault answer must never make the
// broker call another host. Pure functions, safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_KEY_VERSION_LIST_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_KEY_VERSION_LIST_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace keybroker::kms::azure {

// One KeyItem: a version and its attributes (no key material).
struct KeyVersionItem {
  std::string version;  // lower-case, from the versioned kid
  bool enabled = true;
  std::optional<absl::Time> created, not_before, expires;
};

struct KeyVersionPage {
  std::vector<KeyVersionItem> items;
  // The next page's path and query ("/keys/k/versions?api-version=...&
  // $skiptoken=..."); empty on the last page.
  std::string next_path_and_query;
};

// Parses a page for the versions of key `name` on the vault whose origin is
// `vault_origin` (Url::Origin(): "https://host:port"). Items whose kid is
// not a version of that key are skipped. INTERNAL when the body is not such
// a page, or its nextLink leads anywhere but to the next page of the same
// list. Wipes nothing: the page holds no secrets.
absl::StatusOr<KeyVersionPage> ParseKeyVersionPage(absl::string_view body,
                                                   absl::string_view vault_origin,
                                                   absl::string_view name);

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_KEY_VERSION_LIST_H_
