#include "common/json_fields.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace keybroker::log {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// Reads the UTF-8 sequence at the start of `text` (its first byte 0x80 or
// above). Returns its length if well-formed; otherwise 0, with `skip` set to
// the bytes one U+FFFD replaces: the lead byte and whatever continuation
// bytes could still have completed it (Unicode's "maximal subpart", as
// nlohmann's decoder does), at least one byte.
size_t SequenceLength(absl::string_view text, size_t* skip) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  *skip = 1;
  size_t length;
  unsigned char low = 0x80, high = 0xBF;  // the allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // past U+10FFFF
  } else {
    return 0;  // a stray continuation byte, or a lead byte UTF-8 never uses
  }
  size_t i = 1;
  for (; i < length && i < text.size(); ++i) {
    const unsigned char c = byte(i);
    const bool fits = i == 1 ? (c >= low && c <= high) : (c & 0xC0) == 0x80;
    if (!fits) break;
  }
  if (i == length) return length;
  *skip = i;
  return 0;
}

}  // namespace

void AppendJsonString(absl::string_view value, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t i = 0;
  while (i < value.size()) {
    // The longest run that needs no escaping, copied at once.
    size_t run = i;
    while (run < value.size()) {
      const unsigned char c = static_cast<unsigned char>(value[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++run;
    }
    out->append(value.data() + i, run - i);
    i = run;
    if (i == value.size()) break;
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c >= 0x80) {
      size_t skip = 0;
      const size_t length = SequenceLength(value.substr(i), &skip);
      if (length == 0) {
        out->append(kReplacement);
        i += skip;
      } else {
        out->append(value.data() + i, length);
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default: {
        const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out->append(escaped, sizeof(escaped));
      }
    }
    ++i;
  }
  out->push_back('"');
}

void JsonFields::Name(absl::string_view name) {
  text_.push_back(',');
  // A field may not overwrite the line's own ts/level/event (log.h).
  const bool reserved = name == "ts" || name == "level" || name == "event";
  if (reserved) {
    AppendJsonString(absl::StrCat("field_", name), &text_);
  } else {
    AppendJsonString(name, &text_);
  }
  text_.push_back(':');
}

JsonFields& JsonFields::String(absl::string_view name, absl::string_view value) {
  Name(name);
  if (value.size() > kMaxFieldBytes) {
    AppendJsonString(Capped(value, kMaxFieldBytes), &text_);
  } else {
    AppendJsonString(value, &text_);
  }
  return *this;
}

JsonFields& JsonFields::Number(absl::string_view name, double value) {
  Name(name);
  if (!std::isfinite(value)) {
    text_.append("null");
    return *this;
  }
  char buffer[32];
  // Shortest round-trip form, as nlohmann writes doubles.
  const std::to_chars_result written = std::to_chars(buffer, buffer + sizeof(buffer), value);
  text_.append(buffer, written.ptr);
  return *this;
}

JsonFields& JsonFields::Integer(absl::string_view name, int64_t value) {
  Name(name);
  absl::StrAppend(&text_, value);
  return *this;
}

JsonFields& JsonFields::Bool(absl::string_view name, bool value) {
  Name(name);
  text_.append(value ? "true" : "false");
  return *this;
}

}  // namespace keybroker::log
