// Reads secrets (master keys, client secrets, private keys) from files
// without leaving unwiped copies behind.
#ifndef KEYBROKER_CRYPTO_SECRET_FILE_H_
#define KEYBROKER_CRYPTO_SECRET_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "crypto/secret_bytes.h"

namespace keybroker::crypto {

// Returns the contents of `path` (at most `max_size` bytes). NOT_FOUND if it
// does not exist; FAILED_PRECONDITION if unreadable or too large.
absl::StatusOr<SecretBytes> ReadSecretFile(const std::string& path, size_t max_size = 65536);

// Returns the 32-byte key written as 64 hex characters in `text` (surrounding
// whitespace ignored). INVALID_ARGUMENT naming `source` (never the text) if it
// is not that.
absl::StatusOr<SecretBytes> ParseHexKey32(const SecretBytes& text, absl::string_view source);

}  // namespace keybroker::crypto

#endif  // KEYBROKER_CRYPTO_SECRET_FILE_H_
