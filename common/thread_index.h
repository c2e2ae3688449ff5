// ThisThreadIndex: a small number per thread (0, 1, 2, ... in the order
// threads first ask), for choosing a per-thread slot in a fixed array so that
// threads of a hot path each write their own cache line. Two threads may get
// the same slot of an array smaller than the number of threads; callers
// handle that (a slot is try-locked, and a taken one means the slow path).
#ifndef KEYBROKER_COMMON_THREAD_INDEX_H_
#define KEYBROKER_COMMON_THREAD_INDEX_H_

#include <atomic>
#include <cstddef>

namespace keybroker {

inline size_t ThisThreadIndex() {
  static std::atomic<size_t> next{0};
  thread_local const size_t index = next.fetch_add(1, std::memory_order_relaxed);
  return index;
}

}  // namespace keybroker

#endif  // KEYBROKER_COMMON_THREAD_INDEX_H_
