// Views of strings as bytes, for the OpenSSL wrappers' Span parameters.
#ifndef KEYBROKER_CRYPTO_BYTES_H_
#define KEYBROKER_CRYPTO_BYTES_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace keybroker::crypto {

inline absl::Span<const uint8_t> AsBytes(absl::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline absl::Span<uint8_t> AsMutableBytes(std::string& s) {
  return {reinterpret_cast<uint8_t*>(s.data()), s.size()};
}

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_BYTES_H_
