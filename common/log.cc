#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace keybroker::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};

absl::Mutex g_sink_mu;
std::function<void(const std::string&)>* g_sink ABSL_GUARDED_BY(g_sink_mu) = nullptr;

absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

void WriteToStderr(absl::string_view text) {
  const char* data = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, data, left);
    if (n <= 0) return;
    data += n;
    left -= static_cast<size_t>(n);
  }
}

// Standard error, written from a background thread: a request thread only
// appends its line to a buffer (audit lines come with every RPC, and the hot
// paths do no I/O). Warnings and errors are written at once, after whatever
// is buffered, so order is kept and the lines that matter most are never
// left in memory. Lines are whole in each write(2), so they do not
// interleave with other writers of the descriptor.
class BufferedStderr {
 public:
  static BufferedStderr& Get() {
    static BufferedStderr* const instance = new BufferedStderr();  // never destroyed
    return *instance;
  }

  void Append(const std::string& line, bool urgent) {
    {
      absl::MutexLock lock(&mu_);
      pending_ += line;
      if (!urgent && pending_.size() < kFlushBytes) return;
    }
    Flush();
  }

  void Flush() {
    absl::MutexLock write_lock(&write_mu_);  // batches leave in the order taken
    std::string batch;
    {
      absl::MutexLock lock(&mu_);
      batch.swap(pending_);
    }
    WriteToStderr(batch);
  }

 private:
  static constexpr size_t kFlushBytes = 64 * 1024;
  static constexpr absl::Duration kFlushInterval = absl::Milliseconds(50);

  BufferedStderr() {
    std::atexit([] { BufferedStderr::Get().Flush(); });
    std::thread([this] {
      for (;;) {
        absl::SleepFor(kFlushInterval);
        Flush();
      }
    }).detach();
  }

  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  std::string pending_ ABSL_GUARDED_BY(mu_);
};

bool Enabled(Level level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

// The line's timestamp: RFC 3339 UTC with milliseconds.
std::string Timestamp() {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
}

// Hands a finished line (ending in a newline) to the sink or to stderr.
void Emit(Level level, const std::string& text) {
  {
    absl::MutexLock lock(&g_sink_mu);
    if (g_sink != nullptr) {
      (*g_sink)(text);
      return;
    }
  }
  BufferedStderr::Get().Append(text, level >= Level::kWarn);
}

}  // namespace

bool ParseLevel(absl::string_view text, Level* level) {
  for (Level candidate : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (text == LevelName(candidate)) {
      *level = candidate;
      return true;
    }
  }
  return false;
}

void SetLevel(Level level) { g_min_level.store(static_cast<int>(level)); }

void SetSinkForTesting(std::function<void(const std::string& line)> sink) {
  absl::MutexLock lock(&g_sink_mu);
  delete g_sink;
  g_sink = sink ? new std::function<void(const std::string&)>(std::move(sink)) : nullptr;
}

std::string Capped(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  // Cut at a character boundary: never leave half a UTF-8 sequence.
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(text.substr(0, cut), "...(", text.size(), " bytes)");
}

void Write(Level level, absl::string_view event, Fields fields) {
  if (!Enabled(level)) return;
  nlohmann::ordered_json line = nlohmann::ordered_json::object();
  line["ts"] = Timestamp();
  line["level"] = LevelName(level);
  line["event"] = std::string(event);
  if (fields.is_object()) {
    for (auto& [key, value] : fields.items()) {
      // A field may not overwrite the line's own ts/level/event.
      bool reserved = key == "ts" || key == "level" || key == "event";
      // Strings that may come from outside (peer names, error bodies) are
      // capped, so a hostile caller cannot make a line of any length.
      if (value.is_string() && value.get_ref<const std::string&>().size() > kMaxFieldBytes) {
        value = Capped(value.get_ref<const std::string&>(), kMaxFieldBytes);
      }
      line[reserved ? "field_" + key : key] = std::move(value);
    }
  }
  // Invalid UTF-8 in a field is replaced rather than thrown on.
  std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  text.push_back('\n');
  Emit(level, text);
}

void Write(Level level, absl::string_view event, const JsonFields& fields) {
  if (!Enabled(level)) return;
  // The same members in the same order as the Fields overload writes them.
  std::string text;
  text.reserve(64 + event.size() + fields.text().size());
  text.append("{\"ts\":");
  AppendJsonString(Timestamp(), &text);
  text.append(",\"level\":");
  AppendJsonString(LevelName(level), &text);
  text.append(",\"event\":");
  AppendJsonString(event, &text);
  text.append(fields.text());
  text.append("}\n");
  Emit(level, text);
}

void Flush() { BufferedStderr::Get().Flush(); }

}  // namespace keybroker::log
