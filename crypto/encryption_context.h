// EncryptionContext: the caller's key/value pairs bound to an EDEK, in one
// canonical byte encoding so that the same pairs in any order bind alike.
//
// Canonical encoding (big-endian lengths):
//   u32 pair count, then per pair sorted by key (bytewise):
//   u32 key length, key bytes, u32 value length, value bytes.
// The empty context encodes as four zero bytes.
//
// Immutable; safe for concurrent use.
#ifndef KEYBROKER_CRYPTO_ENCRYPTION_CONTEXT_H_
#define KEYBROKER_CRYPTO_ENCRYPTION_CONTEXT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keybroker::crypto {

class EncryptionContext {
 public:
  static constexpr size_t kMaxPairs = 64;
  static constexpr size_t kMaxTotalBytes = 8192;  // keys plus values

  using Pair = std::pair<absl::string_view, absl::string_view>;

  // Builds a context from pairs in any order. INVALID_ARGUMENT (reason
  // INVALID_REQUEST) for an empty or duplicate key, or above the limits.
  static absl::StatusOr<EncryptionContext> FromPairs(std::vector<Pair> pairs);

  // Builds a context from any map-like container of string pairs (a
  // std::map or a protobuf Map).
  template <typename Map>
  static absl::StatusOr<EncryptionContext> FromMap(const Map& map) {
    std::vector<Pair> pairs;
    pairs.reserve(map.size());
    for (const auto& [key, value] : map) pairs.emplace_back(key, value);
    return FromPairs(std::move(pairs));
  }

  // The empty context.
  EncryptionContext();

  const std::string& canonical() const { return canonical_; }
  size_t size() const { return pair_count_; }

 private:
  EncryptionContext(std::string canonical, size_t pair_count)
      : canonical_(std::move(canonical)), pair_count_(pair_count) {}

  std::string canonical_;
  size_t pair_count_ = 0;
};

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_ENCRYPTION_CONTEXT_H_
