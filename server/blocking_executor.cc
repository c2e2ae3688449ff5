#include "server/blocking_executor.h"

namespace keybroker::server {

BlockingExecutor::BlockingExecutor(int threads, size_t max_queued) : max_queued_(max_queued) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

BlockingExecutor::~BlockingExecutor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

void BlockingExecutor::Submit(std::function<void()> task) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      tasks_.push_back(std::move(task));
      return;
    }
  }
  // No worker would take it any more: run it here rather than drop it (a
  // dropped task would leave its RPC unfinished).
  task();
}

bool BlockingExecutor::TrySubmit(std::function<void()>& task) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      if (tasks_.size() >= max_queued_) return false;
      tasks_.push_back(std::move(task));
      return true;
    }
  }
  task();
  return true;
}

void BlockingExecutor::Work() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](BlockingExecutor* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->tasks_.empty();
          },
          this));
      if (tasks_.empty()) return;  // stopping, and nothing left to do
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace keybroker::server
