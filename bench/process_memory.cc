#include "bench/process_memory.h"

#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace keybroker::bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// "VmRSS:	   21904 kB" -> bytes.
double KilobytesField(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  absl::ConsumeSuffix(&value, " kB");
  double kilobytes = 0;
  return absl::SimpleAtod(value, &kilobytes) ? kilobytes * 1024 : 0;
}

}  // namespace

absl::StatusOr<ProcessMemory> ReadProcessMemory(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  if (!in) return absl::NotFoundError(absl::StrCat("no process ", pid));
  ProcessMemory memory;
  std::string line;
  while (std::getline(in, line)) {
    std::pair<absl::string_view, absl::string_view> field =
        absl::StrSplit(line, absl::MaxSplits(':', 1));
    if (field.first == "VmRSS") memory.rss_bytes = KilobytesField(field.second);
    if (field.first == "VmHWM") memory.hwm_bytes = KilobytesField(field.second);
    if (field.first == "RssAnon") memory.anon_bytes = KilobytesField(field.second);
    if (field.first == "RssFile") memory.file_bytes = KilobytesField(field.second);
    if (field.first == "Threads") {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(field.second), &memory.threads);
    }
  }
  if (memory.rss_bytes == 0) return absl::NotFoundError(absl::StrCat("no VmRSS for ", pid));
  return memory;
}

std::string Describe(const ProcessMemory& memory) {
  return absl::StrFormat("RSS %.1f MiB (anon %.1f, file %.1f), peak %.1f MiB, %d threads",
                         memory.rss_bytes / kMiB, memory.anon_bytes / kMiB,
                         memory.file_bytes / kMiB, memory.hwm_bytes / kMiB, memory.threads);
}

}  // namespace keybroker::bench
