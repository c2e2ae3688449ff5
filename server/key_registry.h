// KeyRegistry: which KMS and key each alias means, and which KMS reads each
// kind of EDEK. Built once at start, then read-only: safe for concurrent use
// without locks. Keys named at run time by URI are the KMSs' business
// (kms::Kms::KeyIdForUri): the registry only routes them.
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
  // Of a key named by URI (KeyRegistry::Resolve): what its EDEKs name it
  // (KeyUriEdekName). Empty for a configured alias.
  std::string edek_key_name;
};

class KeyRegistry {
 public:
  // Takes ownership of `kms`; at most one per kind.
  absl::Status AddKms(std::unique_ptr<kms::Kms> kms);
  // Binds `alias` to `key_id` on the KMS of `kind` (added before).
  absl::Status Bind(const std::string& alias, crypto::EdekKms kind, const std::string& key_id);

  // The key behind `alias`; KEY_NOT_FOUND if no such alias is configured.
  absl::StatusOr<const BoundKey*> Find(absl::string_view alias) const;
  // What an RPC's `key` names: a configured alias, else a key URI
  // (https://{host}/keys/{name}[/{version}]) that a KMS takes at run time,
  // whose BoundKey carries KeyUriName(key) as its alias and
  // KeyUriEdekName(key) as its edek_key_name. KEY_NOT_FOUND for an
  // unknown alias or a URI no key source covers (nothing is sent anywhere);
  // INVALID_REQUEST for a malformed URI.
  absl::StatusOr<BoundKey> Resolve(absl::string_view key) const;
  // The configured alias whose key `uri` names (any version of it), or
  // null: a URI of a configured key is that key, and authorization decides
  // it on the alias, as it decides the key's EDEKs.
  const std::string* ConfiguredAliasOfUri(absl::string_view uri) const;
  // Whether `key` is written as a key URI rather than an alias.
  static bool IsKeyUri(absl::string_view key);
  // What a key URI is known as to authorization rules, audit lines and key
  // health: https://{host}/keys/{name}, lower-cased, without a version (the
  // key, whichever version); empty when `uri` is malformed.
  static std::string KeyUriName(absl::string_view uri);
  // What EDEKs under a key URI's key name it (crypto::Edek::key_name:
  // {host}/{name}, lower-cased); empty when `uri` is malformed.
  static std::string KeyUriEdekName(absl::string_view uri);
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
  // KeyUriName of each configured Azure key -> its (first) alias.
  absl::flat_hash_map<std::string, std::string> alias_of_uri_;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_KEY_REGISTRY_H_
