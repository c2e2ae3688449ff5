// Structured diagnostic logging: one JSON object per line on standard error,
// {"ts": RFC 3339 UTC, "level": ..., "event": ..., <fields>}.
//
// Debug and info lines are buffered and written by a background thread within
// about 50 ms (so request threads do no I/O); warnings and errors are written
// at once. Flush() writes what is buffered (main calls it before exiting).
//
// Fields are whatever the caller passes; never pass secrets (DEKs, tokens,
// client secrets) or EDEK plaintext. crypto::SecretBytes has no conversion to
// JSON, so passing one does not compile. Safe for concurrent use.
#ifndef KEYBROKER_COMMON_LOG_H_
#define KEYBROKER_COMMON_LOG_H_

#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "common/json_fields.h"
#include "nlohmann/json.hpp"

namespace keybroker::log {

// A JSON object of event fields, kept in the order written.
using Fields = nlohmann::ordered_json;

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug", "info", "warn" or "error".
bool ParseLevel(absl::string_view text, Level* level);

// Sets the lowest level written (default: info).
void SetLevel(Level level);

// Replaces where lines go (default: standard error); for tests.
// A null function restores the default.
void SetSinkForTesting(std::function<void(const std::string& line)> sink);

// Longest string field written; longer ones are cut (Capped).
inline constexpr size_t kMaxFieldBytes = 2048;

// `text` itself when at most `max_bytes` long, else its first `max_bytes`
// bytes (at a UTF-8 boundary) followed by "...(N bytes)". For strings from
// outside (identities, aliases, error text) in log lines and messages.
std::string Capped(absl::string_view text, size_t max_bytes = 256);

// Writes one event if `level` is enabled. `fields` must be a JSON object.
// String fields longer than kMaxFieldBytes are capped.
void Write(Level level, absl::string_view event, Fields fields = Fields::object());

// As Write, with the fields already written as JSON text (json_fields.h):
// for lines written on every RPC, where building a Fields object costs more
// than the line is worth. The line is the same.
void Write(Level level, absl::string_view event, const JsonFields& fields);

// Writes buffered lines now.
void Flush();

inline void Debug(absl::string_view event, Fields fields = Fields::object()) {
  Write(Level::kDebug, event, std::move(fields));
}
inline void Info(absl::string_view event, Fields fields = Fields::object()) {
  Write(Level::kInfo, event, std::move(fields));
}
inline void Info(absl::string_view event, const JsonFields& fields) {
  Write(Level::kInfo, event, fields);
}
inline void Warn(absl::string_view event, Fields fields = Fields::object()) {
  Write(Level::kWarn, event, std::move(fields));
}
inline void Error(absl::string_view event, Fields fields = Fields::object()) {
  Write(Level::kError, event, std::move(fields));
}

}  // namespace keybroker::log

#endif  // KEYBROKER_COMMON_LOG_H_
