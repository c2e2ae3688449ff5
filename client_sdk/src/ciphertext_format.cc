#include "client_sdk/src/ciphertext_format.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/status_macros.h"
#include "crypto/bytes.h"

namespace keybroker::sdk::internal {
namespace {

constexpr size_t kEdekOffset = 3;  // after the format byte and the u16 length

absl::Status CheckEdekFits(absl::string_view edek) {
  if (edek.empty() || edek.size() > kMaxEdekSize) {
    return Internal(absl::StrCat("ciphertext: an EDEK of ", edek.size(),
                                 " bytes does not fit (1 to 65535 bytes)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CiphertextSlots> LayOutCiphertext(absl::string_view edek, size_t plaintext_size,
                                                 std::string& out) {
  RETURN_IF_ERROR(CheckEdekFits(edek));
  // Every byte is written by the layout or by the caller: resize, not
  // assign, so that a reused buffer of the right size is not cleared first.
  out.resize(CiphertextSize(edek.size(), plaintext_size));
  return LayOutCiphertext(edek, plaintext_size, crypto::AsMutableBytes(out));
}

absl::StatusOr<CiphertextSlots> LayOutCiphertext(absl::string_view edek, size_t plaintext_size,
                                                 absl::Span<uint8_t> out) {
  RETURN_IF_ERROR(CheckEdekFits(edek));
  if (out.size() != CiphertextSize(edek.size(), plaintext_size)) {
    return Internal(absl::StrCat("ciphertext: a buffer of ", out.size(),
                                 " bytes for a ciphertext of ",
                                 CiphertextSize(edek.size(), plaintext_size)));
  }
  const size_t header_size = kEdekOffset + edek.size() + kCiphertextNonceSize;
  out[0] = kFormatV1;
  out[1] = static_cast<uint8_t>(edek.size() >> 8);
  out[2] = static_cast<uint8_t>(edek.size() & 0xff);
  std::copy(edek.begin(), edek.end(), out.begin() + kEdekOffset);

  CiphertextSlots slots;
  slots.header = out.subspan(0, header_size);
  slots.nonce = out.subspan(header_size - kCiphertextNonceSize, kCiphertextNonceSize);
  slots.encrypted = out.subspan(header_size, plaintext_size);
  slots.tag = out.subspan(header_size + plaintext_size, kCiphertextTagSize);
  return slots;
}

absl::StatusOr<CiphertextParts> ParseCiphertext(absl::string_view ciphertext) {
  if (ciphertext.size() < kEdekOffset) {
    return EdekInvalid(absl::StrCat("ciphertext: truncated: ", ciphertext.size(),
                                    " bytes, shorter than a header"));
  }
  const uint8_t format = static_cast<uint8_t>(ciphertext[0]);
  if (format != kFormatV1) {
    return EdekInvalid(absl::StrCat("ciphertext: unknown format byte 0x",
                                    absl::Hex(format, absl::kZeroPad2),
                                    " (this SDK reads format 0x01)"));
  }
  const size_t edek_size =
      (size_t{static_cast<uint8_t>(ciphertext[1])} << 8) | static_cast<uint8_t>(ciphertext[2]);
  if (edek_size == 0) return EdekInvalid("ciphertext: the EDEK length is 0");
  if (ciphertext.size() < kFixedOverhead + edek_size) {
    return EdekInvalid(absl::StrCat("ciphertext: truncated: ", ciphertext.size(), " bytes; with a ",
                                    edek_size, "-byte EDEK it needs at least ",
                                    kFixedOverhead + edek_size));
  }
  const size_t header_size = kEdekOffset + edek_size + kCiphertextNonceSize;
  const size_t encrypted_size = ciphertext.size() - header_size - kCiphertextTagSize;
  absl::Span<const uint8_t> all = crypto::AsBytes(ciphertext);
  CiphertextParts parts;
  parts.edek = ciphertext.substr(kEdekOffset, edek_size);
  parts.header = all.subspan(0, header_size);
  parts.nonce = all.subspan(header_size - kCiphertextNonceSize, kCiphertextNonceSize);
  parts.encrypted = all.subspan(header_size, encrypted_size);
  parts.tag = all.subspan(header_size + encrypted_size, kCiphertextTagSize);
  return parts;
}

}  // namespace keybroker::sdk::internal
