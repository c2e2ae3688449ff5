#include "crypto/random.h"

#include <sys/wait.h>
#include <unistd.h>

#include <bitset>
#include <cstdint>
#include <set>
#include <vector>

#include "absl/types/span.h"
#include "crypto/secret_bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::crypto {
namespace {

using ::testing::Each;
using ::testing::Not;

// These tests can only fail by chance with probability below 2^-100.

TEST(RandomTest, FillRandomOverwritesTheWholeBuffer) {
  // 16 zero bytes surviving in any fixed 16-byte window is a 2^-128 event.
  std::vector<uint8_t> buffer(64, 0);
  ASSERT_OK(FillRandom(absl::MakeSpan(buffer)));
  for (size_t start = 0; start < buffer.size(); start += 16) {
    std::vector<uint8_t> window(buffer.begin() + start, buffer.begin() + start + 16);
    EXPECT_THAT(window, Not(Each(0))) << "window at " << start;
  }
}

TEST(RandomTest, FillRandomGivesDifferentBytesEachCall) {
  std::vector<uint8_t> a(32), b(32);
  ASSERT_OK(FillRandom(absl::MakeSpan(a)));
  ASSERT_OK(FillRandom(absl::MakeSpan(b)));
  EXPECT_NE(a, b);
}

TEST(RandomTest, FillRandomAcceptsAnEmptyBuffer) { EXPECT_OK(FillRandom(absl::Span<uint8_t>())); }

TEST(RandomTest, BitsAreRoughlyBalanced) {
  // 64 Kibit: the share of ones is within 0.5 +- 0.02 (over 10 standard
  // deviations) unless the generator is badly broken.
  std::vector<uint8_t> buffer(8192);
  ASSERT_OK(FillRandom(absl::MakeSpan(buffer)));
  size_t ones = 0;
  for (uint8_t byte : buffer) ones += std::bitset<8>(byte).count();
  const double share = static_cast<double>(ones) / (buffer.size() * 8);
  EXPECT_GT(share, 0.48);
  EXPECT_LT(share, 0.52);
}

TEST(RandomTest, RandomSecretHasTheRequestedSizeAndDiffers) {
  absl::StatusOr<SecretBytes> a = RandomSecret(32);
  absl::StatusOr<SecretBytes> b = RandomSecret(32);
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(b->size(), 32u);
  EXPECT_FALSE(a->ConstantTimeEquals(*b));
  EXPECT_THAT(a->Reveal(), Not(Each(0)));
}

TEST(RandomTest, RandomSecretOfSizeZeroIsEmpty) {
  absl::StatusOr<SecretBytes> secret = RandomSecret(0);
  ASSERT_OK(secret);
  EXPECT_TRUE(secret->empty());
}

TEST(RandomTest, NoncesDoNotRepeatAcrossManyBatches) {
  std::set<std::vector<uint8_t>> seen;
  for (int i = 0; i < 10000; ++i) {
    std::vector<uint8_t> nonce(kMaxBatchedNonce);
    ASSERT_OK(FillNonce(absl::MakeSpan(nonce)));
    EXPECT_TRUE(seen.insert(nonce).second) << "nonce " << i << " repeated";
  }
}

TEST(RandomTest, NonceRefusesMoreThanTwelveBytes) {
  std::vector<uint8_t> nonce(kMaxBatchedNonce + 1);
  EXPECT_FALSE(FillNonce(absl::MakeSpan(nonce)).ok());
}

// The parent draws from a batch, forks, and both draw the next nonce: the
// child must not hand out the nonce the parent hands out next (the batch it
// inherited is the parent's).
TEST(RandomTest, AForkedChildDoesNotReuseTheParentsBatch) {
  std::vector<uint8_t> first(kMaxBatchedNonce);
  ASSERT_OK(FillNonce(absl::MakeSpan(first)));  // the batch now has 63 left
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::vector<uint8_t> nonce(kMaxBatchedNonce);
    const bool ok = FillNonce(absl::MakeSpan(nonce)).ok();
    const bool written =
        ok && write(pipe_fds[1], nonce.data(), nonce.size()) == static_cast<ssize_t>(nonce.size());
    _exit(written ? 0 : 1);
  }
  close(pipe_fds[1]);
  std::vector<uint8_t> childs(kMaxBatchedNonce);
  ASSERT_EQ(read(pipe_fds[0], childs.data(), childs.size()), static_cast<ssize_t>(childs.size()));
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::vector<uint8_t> parents(kMaxBatchedNonce);
  ASSERT_OK(FillNonce(absl::MakeSpan(parents)));
  EXPECT_NE(childs, parents);
}

}  // namespace
}  // namespace keybroker::crypto
