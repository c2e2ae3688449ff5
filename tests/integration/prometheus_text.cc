#include "tests/integration/prometheus_text.h"

#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace keybroker::testing {
namespace {

bool IsNameChar(char c, bool first) {
  return absl::ascii_isalpha(c) || c == '_' || c == ':' || (!first && absl::ascii_isdigit(c));
}

// Consumes a metric or label name from the front of `text`.
std::string ConsumeName(absl::string_view* text) {
  size_t n = 0;
  while (n < text->size() && IsNameChar((*text)[n], n == 0)) ++n;
  std::string name(text->substr(0, n));
  text->remove_prefix(n);
  return name;
}

// Consumes a quoted label value ("..." with \\, \" and \n escapes).
absl::StatusOr<std::string> ConsumeQuoted(absl::string_view* text) {
  if (!absl::ConsumePrefix(text, "\"")) return absl::InvalidArgumentError("label value unquoted");
  std::string value;
  while (!text->empty()) {
    char c = text->front();
    text->remove_prefix(1);
    if (c == '"') return value;
    if (c != '\\') {
      value.push_back(c);
      continue;
    }
    if (text->empty()) break;
    char escaped = text->front();
    text->remove_prefix(1);
    if (escaped == 'n') {
      value.push_back('\n');
    } else if (escaped == '\\' || escaped == '"') {
      value.push_back(escaped);
    } else {
      return absl::InvalidArgumentError("unknown escape in label value");
    }
  }
  return absl::InvalidArgumentError("unterminated label value");
}

absl::Status ConsumeLabels(absl::string_view* text, PrometheusLabels* labels) {
  if (!absl::ConsumePrefix(text, "{")) return absl::OkStatus();
  while (!absl::ConsumePrefix(text, "}")) {
    std::string name = ConsumeName(text);
    if (name.empty() || !absl::ConsumePrefix(text, "=")) {
      return absl::InvalidArgumentError("malformed label");
    }
    absl::StatusOr<std::string> value = ConsumeQuoted(text);
    if (!value.ok()) return value.status();
    if (!labels->emplace(name, *std::move(value)).second) {
      return absl::InvalidArgumentError(absl::StrCat("label ", name, " repeated"));
    }
    if (!absl::ConsumePrefix(text, ",") && !absl::StartsWith(*text, "}")) {
      return absl::InvalidArgumentError("labels not separated by ','");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<double> ParseValue(absl::string_view text) {
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || std::isnan(value) || std::isinf(value)) {
    return absl::InvalidArgumentError(absl::StrCat("not a sample value: ", text));
  }
  return value;
}

absl::StatusOr<PrometheusSample> ParseSample(absl::string_view line) {
  PrometheusSample sample;
  sample.name = ConsumeName(&line);
  if (sample.name.empty()) return absl::InvalidArgumentError("no metric name");
  if (absl::Status labels = ConsumeLabels(&line, &sample.labels); !labels.ok()) return labels;
  std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
  int64_t timestamp = 0;
  if (fields.empty() || fields.size() > 2 ||
      (fields.size() == 2 && !absl::SimpleAtoi(fields[1], &timestamp))) {
    return absl::InvalidArgumentError("expected a value and an optional timestamp");
  }
  absl::StatusOr<double> value = ParseValue(fields[0]);
  if (!value.ok()) return value.status();
  sample.value = *value;
  return sample;
}

bool Includes(const PrometheusLabels& labels, const PrometheusLabels& subset) {
  for (const auto& [name, value] : subset) {
    auto it = labels.find(name);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<PrometheusScrape> PrometheusScrape::Parse(absl::string_view text) {
  PrometheusScrape scrape;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    absl::StatusOr<PrometheusSample> sample = ParseSample(line);
    if (!sample.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", number, ": ", sample.status().message(), ": ", line));
    }
    scrape.samples_.push_back(*std::move(sample));
  }
  return scrape;
}

std::optional<double> PrometheusScrape::Find(absl::string_view name,
                                             const PrometheusLabels& labels) const {
  for (const PrometheusSample& sample : samples_) {
    if (sample.name == name && sample.labels == labels) return sample.value;
  }
  return std::nullopt;
}

double PrometheusScrape::Sum(absl::string_view name, const PrometheusLabels& subset) const {
  double sum = 0;
  for (const PrometheusSample& sample : Select(name, subset)) sum += sample.value;
  return sum;
}

std::vector<PrometheusSample> PrometheusScrape::Select(absl::string_view name,
                                                       const PrometheusLabels& subset) const {
  std::vector<PrometheusSample> selected;
  for (const PrometheusSample& sample : samples_) {
    if (sample.name == name && Includes(sample.labels, subset)) selected.push_back(sample);
  }
  return selected;
}

std::string ToString(const PrometheusSample& sample) {
  std::vector<std::string> labels;
  for (const auto& [name, value] : sample.labels) labels.push_back(absl::StrCat(name, "=\"", value, "\""));
  return absl::StrCat(sample.name, labels.empty() ? "" : absl::StrCat("{", absl::StrJoin(labels, ","), "}"),
                      " ", sample.value);
}

}  // namespace keybroker::testing
