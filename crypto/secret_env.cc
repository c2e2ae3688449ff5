#include "crypto/secret_env.h"

#include <openssl/crypto.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace keybroker::crypto {
namespace {

// Where the kernel keeps the environment the process started with (what
// /proc/self/environ shows): fields 50 and 51 of /proc/self/stat, proc(5),
// Linux 3.5 and later. An empty range when they cannot be read.
struct AddressRange {
  uintptr_t begin = 0, end = 0;
  bool Contains(const void* p, size_t size) const {
    uintptr_t at = reinterpret_cast<uintptr_t>(p);
    return begin <= at && at < end && size <= end - at;
  }
};

AddressRange StartUpEnvironment() {
  std::ifstream in("/proc/self/stat");
  std::string stat;
  std::getline(in, stat);
  // The command name (field 2) is in parentheses and may hold spaces.
  size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos) return {};
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(name_end + 1), ' ', absl::SkipEmpty());
  constexpr size_t kFirst = 3, kEnvStart = 50 - kFirst, kEnvEnd = 51 - kFirst;
  uint64_t begin = 0, end = 0;
  if (fields.size() <= kEnvEnd || !absl::SimpleAtoi(fields[kEnvStart], &begin) ||
      !absl::SimpleAtoi(fields[kEnvEnd], &end) || begin > end) {
    return {};
  }
  return {static_cast<uintptr_t>(begin), static_cast<uintptr_t>(end)};
}

}  // namespace

std::optional<SecretBytes> TakeSecretFromEnvironment(const char* name) {
  char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  size_t size = std::strlen(value);
  SecretBytes secret = SecretBytes::CopyFrom(absl::string_view(value, size));
  if (size > 0 && StartUpEnvironment().Contains(value, size)) OPENSSL_cleanse(value, size);
  ::unsetenv(name);
  return secret;
}

}  // namespace keybroker::crypto
