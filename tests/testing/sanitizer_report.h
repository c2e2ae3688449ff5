// SanitizerReport: finds the report of AddressSanitizer, LeakSanitizer,
// UndefinedBehaviorSanitizer or ThreadSanitizer in a child process's output.
//
// In a KEYBROKER_SANITIZE build a child (the broker, keybrokerctl) that hits a
// finding prints a report on stderr and exits non-zero. A finding in the middle
// of a test usually fails it anyway (the child is gone); one at exit (a leak,
// a use after free during shutdown) would not, because tests stop the broker
// and rarely look at how it ended. Harnesses that start children pass the
// child's output through this and fail the test on a report.
#ifndef KEYBROKER_TESTS_TESTING_SANITIZER_REPORT_H_
#define KEYBROKER_TESTS_TESTING_SANITIZER_REPORT_H_

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace keybroker::testing {

// The lines of `lines` from the first line of a sanitizer report on; "" when
// there is none.
inline std::string SanitizerReport(const std::vector<std::string>& lines) {
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::string_view line = lines[i];
    if (absl::StrContains(line, "ERROR: AddressSanitizer") ||
        absl::StrContains(line, "ERROR: LeakSanitizer") ||
        absl::StrContains(line, "WARNING: ThreadSanitizer") ||
        absl::StrContains(line, ": runtime error: ")) {
      return absl::StrJoin(lines.begin() + i, lines.end(), "\n");
    }
  }
  return "";
}

// The same for output kept as one string.
inline std::string SanitizerReport(absl::string_view output) {
  return SanitizerReport(std::vector<std::string>(absl::StrSplit(output, '\n')));
}

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_TESTING_SANITIZER_REPORT_H_
