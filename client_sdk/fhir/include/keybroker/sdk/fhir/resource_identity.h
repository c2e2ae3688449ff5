// ResourceIdentity: what names one stored version of a FHIR resource inside
// an account, and the associated data (AAD) that binds a ciphertext to it.
//
// AAD encoding, version 1 (all lengths u32 big-endian, byte counts):
//
//   "keybroker-fhir-aad-v1"            21 bytes, no length prefix (a domain label)
//   len(account)       || account
//   len(resourceType)  || resourceType
//   len(id)            || id
//   len(versionId)     || versionId
//
// Every field is length-prefixed, so no two different tuples give the same
// bytes ("a","bc" vs "ab","c"): a blob stored for one (account, type, id,
// version) does not decrypt under any other. A plain value type.
#ifndef KEYBROKER_SDK_FHIR_RESOURCE_IDENTITY_H_
#define KEYBROKER_SDK_FHIR_RESOURCE_IDENTITY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keybroker::sdk::fhir {

struct ResourceIdentity {
  std::string resource_type;  // "Patient"
  std::string id;             // the logical id
  std::string version_id;     // meta.versionId

  bool operator==(const ResourceIdentity& other) const {
    return resource_type == other.resource_type && id == other.id && version_id == other.version_id;
  }
};

// Returns the identity read from a resource's JSON. INVALID_ARGUMENT (reason
// INVALID_REQUEST, message naming what is wrong) when `resource_json` is not a
// JSON object or resourceType, id or meta.versionId is missing, not a
// string, or empty.
absl::StatusOr<ResourceIdentity> IdentityOf(absl::string_view resource_json);

// Returns the version-1 AAD (above) for `identity` in `account`.
std::string ResourceAad(absl::string_view account, const ResourceIdentity& identity);

}  // namespace keybroker::sdk::fhir

#endif  // KEYBROKER_SDK_FHIR_RESOURCE_IDENTITY_H_
