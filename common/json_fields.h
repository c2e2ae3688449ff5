// JsonFields: a log line's fields written straight into JSON text, for the
// lines written on every RPC (the audit line), where building an
// nlohmann::json object per call and serializing it cost more CPU than the
// call's own cryptography (issue 12: about 5 us per line).
//
// The text is what nlohmann's dump of the same fields gives (log.h): strings
// escaped as JSON requires ('"', '\\' and every control character below
// U+0020; \b \f \n \r \t by name, the rest as \u00XX), invalid UTF-8
// replaced by U+FFFD, strings over log::kMaxFieldBytes capped as
// log::Capped caps them, and a field named ts, level or event renamed
// field_<name> so that it cannot overwrite the line's own. Numbers are the
// shortest text that reads back as the same double (null for NaN and
// infinities, as nlohmann writes them).
//
// Pass it to log::Write (log.h). Not safe for concurrent use.
#ifndef KEYBROKER_COMMON_JSON_FIELDS_H_
#define KEYBROKER_COMMON_JSON_FIELDS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace keybroker::log {

class JsonFields {
 public:
  JsonFields() { text_.reserve(512); }

  JsonFields& String(absl::string_view name, absl::string_view value);
  JsonFields& Number(absl::string_view name, double value);
  JsonFields& Integer(absl::string_view name, int64_t value);
  JsonFields& Bool(absl::string_view name, bool value);

  // The fields so far, each preceded by a comma: `,"name":value,...`, ready
  // to follow a line's "event" member.
  const std::string& text() const { return text_; }

 private:
  void Name(absl::string_view name);

  std::string text_;
};

// Appends `value` to `out` as a JSON string (quotes included), escaped, with
// invalid UTF-8 replaced by U+FFFD. No capping.
void AppendJsonString(absl::string_view value, std::string* out);

}  // namespace keybroker::log

#endif  // KEYBROKER_COMMON_JSON_FIELDS_H_
