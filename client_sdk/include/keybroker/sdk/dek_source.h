// DekSource: where an Encryptor gets data encryption keys, and optionally
// hears that a key became inaccessible (WatchKeys). Client implements it
// over gRPC; tests may use a fake. Implementations are safe for concurrent
// use.
#ifndef KEYBROKER_SDK_DEK_SOURCE_H_
#define KEYBROKER_SDK_DEK_SOURCE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/secret_bytes.h"
#include "keybroker/sdk/key_watch.h"

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

  // Starts watching the accessibility of `keys` (aliases; empty: every key
  // the caller may describe), calling `on_event` as key_watch.h says, until
  // the returned KeyWatch is destroyed. nullptr when this source cannot
  // watch, which is the default: an in-process source has no broker cache to
  // follow, and an Encryptor over it keeps its caches for their TTLs.
  virtual std::unique_ptr<KeyWatch> WatchKeys(const std::vector<std::string>& keys,
                                              KeyEventCallback on_event) {
    return nullptr;
  }
};

}  // namespace keybroker::sdk

#endif  // KEYBROKER_SDK_DEK_SOURCE_H_
