#include "crypto/encryption_context.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"

namespace keybroker::crypto {
namespace {

void AppendU32(std::string& out, size_t value) {
  out.push_back(static_cast<char>((value >> 24) & 0xff));
  out.push_back(static_cast<char>((value >> 16) & 0xff));
  out.push_back(static_cast<char>((value >> 8) & 0xff));
  out.push_back(static_cast<char>(value & 0xff));
}

}  // namespace

EncryptionContext::EncryptionContext() : canonical_(4, '\0') {}

absl::StatusOr<EncryptionContext> EncryptionContext::FromPairs(std::vector<Pair> pairs) {
  if (pairs.size() > kMaxPairs) {
    return InvalidRequest(
        absl::StrCat("encryption context has ", pairs.size(), " pairs; at most ", kMaxPairs));
  }
  std::sort(pairs.begin(), pairs.end(),
            [](const Pair& a, const Pair& b) { return a.first < b.first; });
  size_t total = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].first.empty()) return InvalidRequest("encryption context has an empty key");
    if (i > 0 && pairs[i].first == pairs[i - 1].first) {
      return InvalidRequest("encryption context has a duplicate key");
    }
    total += pairs[i].first.size() + pairs[i].second.size();
  }
  if (total > kMaxTotalBytes) {
    return InvalidRequest(absl::StrCat("encryption context is ", total, " bytes; at most ",
                                       kMaxTotalBytes));
  }
  std::string canonical;
  canonical.reserve(4 + 8 * pairs.size() + total);
  AppendU32(canonical, pairs.size());
  for (const auto& [key, value] : pairs) {
    AppendU32(canonical, key.size());
    canonical.append(key.data(), key.size());
    AppendU32(canonical, value.size());
    canonical.append(value.data(), value.size());
  }
  return EncryptionContext(std::move(canonical), pairs.size());
}

}  // namespace keybroker::crypto
