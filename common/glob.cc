#include "common/glob.h"

namespace keybroker {

bool GlobMatch(absl::string_view pattern, absl::string_view text) {
  size_t p = 0, t = 0;
  // Where to resume after the last star: the pattern position after it and
  // the text position it has absorbed up to.
  size_t star = absl::string_view::npos, absorbed = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = ++p;
      absorbed = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star != absl::string_view::npos) {
      // Let the last star absorb one more character and retry from there.
      p = star;
      t = ++absorbed;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace keybroker
