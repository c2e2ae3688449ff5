// KeyRegistry: which KMS and key each alias means, and which KMS reads each
// kind of EDEK. Built once at start, then read-only: safe for concurrent use
// without locks.
#ifndef KEYBROKER_SERVER_KEY_REGISTRY_H_
#define KEYBROKER_SERVER_KEY_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "kms_adapters/kms.h"

namespace keybroker::server {

struct BoundKey {
  std::string alias;
  kms::Kms* kms = nullptr;  // owned by the registry
  std::string key_id;
};

class KeyRegistry {
 public:
  // Takes ownership of `kms`; at most one per kind.
  absl::Status AddKms(std::unique_ptr<kms::Kms> kms);
  // Binds `alias` to `key_id` on the KMS of `kind` (added before).
  absl::Status Bind(const std::string& alias, crypto::EdekKms kind, const std::string& key_id);

  // The key behind `alias`; KEY_NOT_FOUND if no such alias is configured.
  absl::StatusOr<const BoundKey*> Find(absl::string_view alias) const;
  // The KMS that reads EDEKs of `kind`; EDEK_INVALID if none is configured.
  absl::StatusOr<kms::Kms*> KmsFor(crypto::EdekKms kind) const;

  const std::vector<std::string>& aliases() const { return aliases_; }
  const std::vector<BoundKey>& bindings() const { return bindings_; }

  // Keeps `dependency` (clients, credentials a KMS uses) alive for as long as
  // the KMSs.
  void KeepAlive(std::shared_ptr<void> dependency) {
    dependencies_.push_back(std::move(dependency));
  }

 private:
  // Destroyed after kms_ (members go in reverse order).
  std::vector<std::shared_ptr<void>> dependencies_;
  std::vector<std::unique_ptr<kms::Kms>> kms_;
  std::vector<BoundKey> bindings_;
  absl::flat_hash_map<std::string, BoundKey> keys_;
  std::vector<std::string> aliases_;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_KEY_REGISTRY_H_
