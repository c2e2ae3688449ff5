#include "bench/summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace keybroker::bench {

std::string FormatRow(const SummaryRow& row) {
  return absl::StrCat("| ", row.comparison, " | ", row.measured, " | ", row.baseline, " | ",
                      row.ratio, " | ", row.target, " | ", row.met ? "yes" : "no", " |");
}

void PrintRow(const SummaryRow& row) {
  std::printf("%s\n", FormatRow(row).c_str());
  std::fflush(stdout);
}

std::string WithSeparators(double value) {
  const bool negative = value < 0;
  std::string digits = absl::StrCat(static_cast<long long>(std::llround(std::fabs(value))));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return negative ? "-" + out : out;
}

std::string Percent(double fraction) { return absl::StrFormat("%.0f%%", 100 * fraction); }

std::string Mebibytes(double bytes) {
  return absl::StrFormat("%.1f MiB", bytes / (1024.0 * 1024.0));
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

bool HasFlag(int argc, char** argv, absl::string_view name) {
  for (int i = 1; i < argc; ++i) {
    if (name == argv[i]) return true;
  }
  return false;
}

}  // namespace keybroker::bench
