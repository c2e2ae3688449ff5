// libFuzzer target for the EDEK parser: any input must either be rejected
// with EDEK_INVALID or decode to an EDEK that re-encodes to exactly the input
// (the encoding is canonical), and never crash or read out of bounds.
#include <cstdint>
#include <cstdlib>

#include "common/error_reason.h"
#include "crypto/edek.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<keybroker::crypto::Edek> edek = keybroker::crypto::DecodeEdek(input);
  if (!edek.ok()) {
    if (keybroker::ReasonOf(edek.status()) != keybroker::ErrorReason::kEdekInvalid) std::abort();
    return 0;
  }
  absl::StatusOr<std::string> encoded = keybroker::crypto::EncodeEdek(*edek);
  if (!encoded.ok() || *encoded != input) std::abort();
  return 0;
}
