#include "crypto/random.h"

#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <climits>

#include "common/error_reason.h"
#include "common/status_macros.h"

namespace keybroker::crypto {

absl::Status FillRandom(absl::Span<uint8_t> out) {
  if (out.empty()) return absl::OkStatus();
  if (out.size() > INT_MAX || RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    return Internal("the random number generator failed");
  }
  return absl::OkStatus();
}

namespace {

// Bumped in every forked child: a thread's batch drawn under an older
// generation is the parent's and must not be used again.
std::atomic<uint64_t> fork_generation{0};

void CountFork() { fork_generation.fetch_add(1, std::memory_order_relaxed); }

struct NonceBatch {
  static constexpr size_t kNonces = 64;
  uint8_t bytes[kNonces * kMaxBatchedNonce];
  size_t left = 0;  // nonces not handed out yet, taken from the end
  uint64_t generation = 0;
};

}  // namespace

absl::Status FillNonce(absl::Span<uint8_t> nonce) {
  if (nonce.size() > kMaxBatchedNonce) return Internal("a batched nonce is at most 12 bytes");
  static const bool fork_handler_installed = pthread_atfork(nullptr, nullptr, CountFork) == 0;
  if (!fork_handler_installed) return FillRandom(nonce);  // no batches without fork safety
  thread_local NonceBatch batch;
  const uint64_t generation = fork_generation.load(std::memory_order_relaxed);
  if (batch.left == 0 || batch.generation != generation) {
    RETURN_IF_ERROR(FillRandom(batch.bytes));
    batch.left = NonceBatch::kNonces;
    batch.generation = generation;
  }
  --batch.left;
  const uint8_t* drawn = batch.bytes + batch.left * kMaxBatchedNonce;
  std::copy(drawn, drawn + nonce.size(), nonce.begin());
  return absl::OkStatus();
}

absl::StatusOr<SecretBytes> RandomSecret(size_t size) {
  SecretBytes secret(size);
  absl::Status status = FillRandom(secret.RevealMutable());
  if (!status.ok()) return status;
  return secret;
}

}  // namespace keybroker::crypto
