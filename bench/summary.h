// What every benchmark binary under bench/ shares for its `--summary`
// output: one markdown table row per comparison, exactly
//
//   | comparison | measured | baseline: what and its figure | ratio | target | met |
//
// on stdout (scripts/bench.sh prints them under one header), and the
// formatting of the figures in them. Progress and details go to stderr.
//
// Plain functions without state; safe for concurrent use.
#ifndef KEYBROKER_BENCH_SUMMARY_H_
#define KEYBROKER_BENCH_SUMMARY_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace keybroker::bench {

struct SummaryRow {
  std::string comparison;  // what was measured, e.g. "EncryptingProducer 1 KiB records"
  std::string measured;    // the figure with its unit
  std::string baseline;    // "what: figure", or "limit" for an absolute target
  std::string ratio;       // measured / baseline ("93%"), or "-"
  std::string target;      // e.g. ">= 90%", "<= 30 MiB"
  bool met = false;
};

// Returns `row` as one markdown table row (no trailing newline).
std::string FormatRow(const SummaryRow& row);

// Writes `row` and a newline to stdout and flushes it.
void PrintRow(const SummaryRow& row);

// Returns `value` rounded to an integer with thousands separators:
// 1234567.8 -> "1,234,568".
std::string WithSeparators(double value);

// Returns `fraction` as a whole percentage: 0.934 -> "93%".
std::string Percent(double fraction);

// Returns `bytes` in MiB with one decimal: "21.4 MiB".
std::string Mebibytes(double bytes);

// Returns the median of `values` (the upper one of an even count); 0 when
// empty.
double Median(std::vector<double> values);

// Returns true if `argv` holds the flag `name` ("--summary").
bool HasFlag(int argc, char** argv, absl::string_view name);

}  // namespace keybroker::bench

#endif  // KEYBROKER_BENCH_SUMMARY_H_
