// The Prometheus text exposition format (version 0.0.4) read into samples,
// for tests that assert on a scrape of /metrics.
//
// ParsePrometheusText keeps every sample line (histogram _bucket, _sum and
// _count lines included, under those names) and skips comments (# HELP,
// # TYPE); it fails on any line that is not a well-formed sample.
#ifndef KEYBROKER_TESTS_INTEGRATION_PROMETHEUS_TEXT_H_
#define KEYBROKER_TESTS_INTEGRATION_PROMETHEUS_TEXT_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keybroker::testing {

using PrometheusLabels = std::map<std::string, std::string>;

struct PrometheusSample {
  std::string name;
  PrometheusLabels labels;  // unescaped values
  double value = 0;
};

class PrometheusScrape {
 public:
  static absl::StatusOr<PrometheusScrape> Parse(absl::string_view text);

  const std::vector<PrometheusSample>& samples() const { return samples_; }

  // The value of the series `name` with exactly `labels`; nullopt if absent.
  std::optional<double> Find(absl::string_view name, const PrometheusLabels& labels) const;

  // The sum over every series `name` whose labels include `subset` (0 when
  // none does): how much a counter grew, whatever its other labels say.
  double Sum(absl::string_view name, const PrometheusLabels& subset = {}) const;

  // The series `name` whose labels include `subset`.
  std::vector<PrometheusSample> Select(absl::string_view name,
                                       const PrometheusLabels& subset = {}) const;

 private:
  std::vector<PrometheusSample> samples_;
};

// "name{a="1",b="2"} value", for failure messages.
std::string ToString(const PrometheusSample& sample);

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_INTEGRATION_PROMETHEUS_TEXT_H_
