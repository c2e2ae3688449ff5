// BlockingExecutor: a fixed pool of threads for calls that may wait on a
// remote KMS, so that they never occupy gRPC's callback threads (which must
// not block). Tasks run in submission order. The queue is bounded: when a
// slow KMS holds every thread, TrySubmit refuses new work at once rather
// than let calls pile up. The destructor finishes queued tasks, then joins.
// Safe for concurrent use.
#ifndef KEYBROKER_SERVER_BLOCKING_EXECUTOR_H_
#define KEYBROKER_SERVER_BLOCKING_EXECUTOR_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace keybroker::server {

class BlockingExecutor {
 public:
  // `max_queued`: tasks that may wait for a thread (running ones excluded).
  explicit BlockingExecutor(int threads, size_t max_queued = SIZE_MAX);
  ~BlockingExecutor();
  BlockingExecutor(const BlockingExecutor&) = delete;
  BlockingExecutor& operator=(const BlockingExecutor&) = delete;

  // Queues `task`; once the executor is being destroyed, runs it inline.
  void Submit(std::function<void()> task);
  // Queues `task` unless `max_queued` tasks already wait; false (and `task`
  // untouched) then. Once the executor is being destroyed, runs it inline.
  bool TrySubmit(std::function<void()>& task);

 private:
  void Work();

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  const size_t max_queued_;
  std::vector<std::thread> threads_;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_BLOCKING_EXECUTOR_H_
