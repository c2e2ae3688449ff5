// Per-thread slots: fixed arrays with one entry per thread index, so that
// the threads of a hot path each write their own cache line.
//
// ThisThreadIndex() is a small number per thread (0, 1, 2, ... in the order
// threads first ask); a slot is array[ThisThreadIndex() % size]. Two threads
// may get the same slot of an array smaller than the number of threads, so a
// slot is taken with TryHoldSlot (never waits) and a taken one means the
// caller's slow path. Everything in a slot but its flag is written only by
// the thread holding it.
#ifndef KEYBROKER_COMMON_THREAD_SLOTS_H_
#define KEYBROKER_COMMON_THREAD_SLOTS_H_

#include <atomic>
#include <cstddef>

namespace keybroker {

inline size_t ThisThreadIndex() {
  static std::atomic<size_t> next{0};
  thread_local const size_t index = next.fetch_add(1, std::memory_order_relaxed);
  return index;
}

// Takes a slot's flag: true if the calling thread now holds the slot.
inline bool TryHoldSlot(std::atomic<bool>& held) {
  // A plain load first: a slot another thread holds is not written to.
  return !held.load(std::memory_order_relaxed) && !held.exchange(true, std::memory_order_acquire);
}

// Lets go of a slot taken with TryHoldSlot, publishing what was written.
inline void ReleaseSlot(std::atomic<bool>& held) { held.store(false, std::memory_order_release); }

}  // namespace keybroker

#endif  // KEYBROKER_COMMON_THREAD_SLOTS_H_
