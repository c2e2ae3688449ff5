// Strict UTF-8 checks. proto3 `string` fields must hold well-formed UTF-8, or
// the whole message fails to serialize or parse (and strict clients reject
// it), so text that may come from untrusted bytes is checked or cleaned.
#ifndef KEYBROKER_COMMON_UTF8_H_
#define KEYBROKER_COMMON_UTF8_H_

#include <string>

#include "absl/strings/string_view.h"

namespace keybroker {

// Returns whether `text` is well-formed UTF-8: no overlong forms, surrogates,
// or code points past U+10FFFF.
bool IsValidUtf8(absl::string_view text);

// Returns `text` with each byte that does not start a well-formed sequence
// replaced by '?'.
std::string ToValidUtf8(absl::string_view text);

}  // namespace keybroker

#endif  // KEYBROKER_COMMON_UTF8_H_
