// What /proc/PID/status says about a process's memory: resident set size
// now (VmRSS) and at its peak (VmHWM), split into anonymous and file-backed
// pages, and its thread count. Plain functions; safe for concurrent use.
#ifndef KEYBROKER_BENCH_PROCESS_MEMORY_H_
#define KEYBROKER_BENCH_PROCESS_MEMORY_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"

namespace keybroker::bench {

struct ProcessMemory {
  double rss_bytes = 0;   // VmRSS
  double hwm_bytes = 0;   // VmHWM: the peak RSS so far
  double anon_bytes = 0;  // RssAnon: heap, stacks, arenas
  double file_bytes = 0;  // RssFile: mapped binaries and libraries
  int threads = 0;
};

// Reads /proc/`pid`/status. NOT_FOUND when the process is gone.
absl::StatusOr<ProcessMemory> ReadProcessMemory(pid_t pid);

// "RSS 21.4 MiB (anon 9.1, file 12.3), peak 25.0 MiB, 18 threads", for logs.
std::string Describe(const ProcessMemory& memory);

}  // namespace keybroker::bench

#endif  // KEYBROKER_BENCH_PROCESS_MEMORY_H_
