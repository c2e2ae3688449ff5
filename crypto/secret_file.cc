#include "crypto/secret_file.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "crypto/wipe.h"

namespace keybroker::crypto {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<SecretBytes> ReadSecretFile(const std::string& path, size_t max_size) {
  std::string buffer;
  absl::Status status = ReadFileInto(path, max_size, &buffer);
  SecretBytes secret = SecretBytes::CopyFrom(buffer);
  WipeString(&buffer);
  if (!status.ok()) return status;
  return secret;
}

absl::StatusOr<SecretBytes> ParseHexKey32(const SecretBytes& text, absl::string_view source) {
  absl::string_view hex = absl::StripAsciiWhitespace(text.RevealAsStringView());
  SecretBytes key(32);
  bool ok = hex.size() == 64;
  for (size_t i = 0; ok && i < 32; ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    ok = hi >= 0 && lo >= 0;
    if (ok) key.RevealMutable()[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, " must hold a 32-byte key as 64 hex characters"));
  }
  return key;
}

}  // namespace keybroker::crypto
