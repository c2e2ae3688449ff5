// DekSource: where an Encryptor gets data encryption keys. Client implements
// it over gRPC; tests may use a fake. Implementations are safe for
// concurrent use.
#ifndef KEYBROKER_SDK_DEK_SOURCE_H_
#define KEYBROKER_SDK_DEK_SOURCE_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/secret_bytes.h"

namespace keybroker::sdk {

// The encryption context bound to an EDEK (key/value pairs).
using Context = std::map<std::string, std::string>;

// A fresh DEK: its plaintext (32 bytes), the EDEK to store, and the key
// version that wrapped it.
struct DataKey {
  crypto::SecretBytes plaintext;
  std::string edek;
  std::string key_version;
};

class DekSource {
 public:
  virtual ~DekSource() = default;

  // GenerateDek on the broker: a new DEK under `key_alias`, bound to `context`.
  virtual absl::StatusOr<DataKey> GenerateDek(absl::string_view key_alias,
                                              const Context& context) = 0;

  // Unwrap on the broker: the DEK inside `edek`, which was bound to `context`.
  virtual absl::StatusOr<crypto::SecretBytes> Unwrap(absl::string_view edek,
                                                     const Context& context) = 0;
};

}  // namespace keybroker::sdk

#endif  // KEYBROKER_SDK_DEK_SOURCE_H_
