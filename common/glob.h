// Glob patterns as the configuration writes them: `*` matches any run of
// characters (slashes included: identities and URIs are matched whole), `?`
// any one character, everything else itself. No character classes, no
// escapes: the names matched (SPIFFE IDs, aliases, host names, context
// values) have no use for them, and fewer rules are easier to audit.
//
// Stateless; safe for concurrent use.
#ifndef KEYBROKER_COMMON_GLOB_H_
#define KEYBROKER_COMMON_GLOB_H_

#include "absl/strings/string_view.h"

namespace keybroker {

// Whether `text` matches `pattern` entirely. Linear in the lengths times the
// number of stars at worst (backtracking only to the last star), with no
// allocation, so a hostile text cannot make a match expensive.
bool GlobMatch(absl::string_view pattern, absl::string_view text);

}  // namespace keybroker

#endif  // KEYBROKER_COMMON_GLOB_H_
