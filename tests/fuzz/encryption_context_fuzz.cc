// libFuzzer target for the encryption context (crypto/encryption_context.h),
// whose pairs come from every caller's request and whose canonical bytes are
// bound into each EDEK. The input is a list of pairs: FuzzInput fields, key
// then value, until the input ends.
//
// Invariants:
// - FromPairs accepts exactly the pairs the header's rules allow (at most
//   kMaxPairs, keys non-empty and distinct, at most kMaxTotalBytes in all),
//   and refuses the rest with INVALID_ARGUMENT / INVALID_REQUEST;
// - the canonical bytes decode, with a decoder written from the header's
//   layout, to exactly the input pairs sorted by key, and nothing after them
//   (so two different contexts never share canonical bytes);
// - the order of the pairs does not matter: reversed, they give the same bytes.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crypto/encryption_context.h"
#include "tests/fuzz/fuzz_support.h"

namespace keybroker::fuzz {
namespace {

using crypto::EncryptionContext;
using Pairs = std::vector<std::pair<std::string, std::string>>;

bool RulesAllow(const Pairs& pairs) {
  if (pairs.size() > EncryptionContext::kMaxPairs) return false;
  std::set<std::string> keys;
  size_t total = 0;
  for (const auto& [key, value] : pairs) {
    if (key.empty() || !keys.insert(key).second) return false;
    total += key.size() + value.size();
  }
  return total <= EncryptionContext::kMaxTotalBytes;
}

// Reads the canonical encoding: u32 count, then per pair u32 length + key,
// u32 length + value (big-endian). Fails the run on anything malformed.
Pairs DecodeCanonical(absl::string_view bytes) {
  auto u32 = [&bytes]() -> size_t {
    FUZZ_CHECK(bytes.size() >= 4, "canonical bytes truncated");
    size_t value = 0;
    for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
    bytes.remove_prefix(4);
    return value;
  };
  auto string = [&bytes, &u32]() {
    size_t size = u32();
    FUZZ_CHECK(bytes.size() >= size, "canonical bytes truncated");
    std::string out(bytes.substr(0, size));
    bytes.remove_prefix(size);
    return out;
  };
  Pairs pairs(u32());
  for (auto& [key, value] : pairs) {
    key = string();
    value = string();
  }
  FUZZ_CHECK(bytes.empty(), "trailing bytes after the canonical pairs");
  return pairs;
}

std::vector<EncryptionContext::Pair> Views(const Pairs& pairs) {
  return std::vector<EncryptionContext::Pair>(pairs.begin(), pairs.end());
}

void TestOneInput(FuzzInput input) {
  Pairs pairs;
  while (!input.empty()) {
    std::string key = input.Field();
    pairs.emplace_back(std::move(key), input.Field());
  }
  absl::StatusOr<EncryptionContext> context = EncryptionContext::FromPairs(Views(pairs));
  FUZZ_CHECK(context.ok() == RulesAllow(pairs), context.status().ToString());
  if (!context.ok()) {
    FUZZ_CHECK(context.status().code() == absl::StatusCode::kInvalidArgument &&
                   ReasonOf(context.status()) == ErrorReason::kInvalidRequest,
               context.status().ToString());
    return;
  }
  Pairs sorted = pairs;
  std::sort(sorted.begin(), sorted.end());
  FUZZ_CHECK(DecodeCanonical(context->canonical()) == sorted, "canonical bytes lose pairs");
  FUZZ_CHECK(context->size() == pairs.size());

  std::reverse(pairs.begin(), pairs.end());
  absl::StatusOr<EncryptionContext> reversed = EncryptionContext::FromPairs(Views(pairs));
  FUZZ_CHECK(reversed.ok() && reversed->canonical() == context->canonical(),
             "the order of the pairs changed the canonical bytes");
}

}  // namespace
}  // namespace keybroker::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  keybroker::fuzz::TestOneInput(keybroker::fuzz::FuzzInput(data, size));
  return 0;
}
