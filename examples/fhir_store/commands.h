// The fhir_store subcommands. Each returns the JSON to print, or a Status for
// FhirError::FromStatus to render as an OperationOutcome.
#ifndef KEYBROKER_EXAMPLES_FHIR_STORE_COMMANDS_H_
#define KEYBROKER_EXAMPLES_FHIR_STORE_COMMANDS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "examples/fhir_store/sqlite_store.h"
#include "keybroker/sdk/fhir/account_provisioner.h"
#include "keybroker/sdk/fhir/resource_protector.h"

namespace keybroker::examples {

// What the commands work with; every pointer outlives the call.
struct Store {
  const sdk::fhir::AccountProvisioner* provisioner;
  const sdk::fhir::ResourceProtector* protector;
  SqliteStore* db;
};

// Checks the key (the service-managed one when `key_alias` is empty) and
// records the account. Returns {"account":..., "key":...}.
absl::StatusOr<std::string> CreateAccount(const Store& store, absl::string_view account,
                                          absl::string_view key_alias);

// Encrypts and stores `resource_json`. Returns {"resourceType","id","versionId"}.
absl::StatusOr<std::string> PutResource(const Store& store, absl::string_view account,
                                        absl::string_view resource_json);

// Returns the stored resource JSON (the latest version when `version_id` is empty).
absl::StatusOr<std::string> GetResource(const Store& store, absl::string_view account,
                                        absl::string_view type, absl::string_view id,
                                        absl::string_view version_id);

}  // namespace keybroker::examples

#endif  // KEYBROKER_EXAMPLES_FHIR_STORE_COMMANDS_H_
