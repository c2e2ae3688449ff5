#include "server/blocking_executor.h"

#include <atomic>
#include <functional>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace keybroker::server {
namespace {

TEST(BlockingExecutorTest, TrySubmitRefusesBeyondTheQueueBound) {
  absl::Notification release;
  std::atomic<int> ran{0};
  {
    BlockingExecutor executor(/*threads=*/1, /*max_queued=*/2);
    absl::Notification started;
    std::function<void()> blocker = [&] {
      started.Notify();
      release.WaitForNotification();
      ++ran;
    };
    ASSERT_TRUE(executor.TrySubmit(blocker));
    started.WaitForNotification();  // the one thread is busy; the queue is empty
    for (int i = 0; i < 2; ++i) {
      std::function<void()> task = [&] { ++ran; };
      EXPECT_TRUE(executor.TrySubmit(task)) << i;
    }
    std::function<void()> refused = [&] { ++ran; };
    EXPECT_FALSE(executor.TrySubmit(refused));
    EXPECT_TRUE(static_cast<bool>(refused)) << "a refused task is left to the caller";
    release.Notify();
  }  // the destructor finishes what was queued
  EXPECT_EQ(ran.load(), 3);
}

}  // namespace
}  // namespace keybroker::server
