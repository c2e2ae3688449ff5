// AccountProvisioner: the key check of FHIR account creation.
//
// CreateAccount(account, key alias) asks the broker to describe the key an
// account will use (the customer's own key, or the service-managed default
// when none is given) and refuses the account when that key is unknown or not
// accessible, so that provisioning with an inaccessible key fails at once
// instead of on the first write. It returns the alias to record as the
// account's key (the mapping a ResourceProtector's KeyAliasResolver reads);
// storing it is the caller's job. Errors render with FhirError::FromStatus:
//
//   key not accessible (customer removed access)  403 forbidden  (KEY_NOT_ACCESSIBLE)
//   key disabled or expired                       403 forbidden  (KEY_DISABLED)
//   broker's policy refuses this service the key  403 security   (CALLER_NOT_AUTHORIZED)
//   unknown alias, bad account name               400 invalid    (INVALID_REQUEST)
//   broker unreachable                            503 transient
//
// Safe for concurrent use.
#ifndef KEYBROKER_SDK_FHIR_ACCOUNT_PROVISIONER_H_
#define KEYBROKER_SDK_FHIR_ACCOUNT_PROVISIONER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keybroker/sdk/client.h"

namespace keybroker::sdk::fhir {

class AccountProvisioner {
 public:
  // `client` must outlive the provisioner. `service_managed_alias` is the key
  // of accounts created without their own. INVALID_ARGUMENT (INVALID_REQUEST)
  // for a null client or an empty alias. Does no I/O.
  static absl::StatusOr<std::unique_ptr<AccountProvisioner>> Create(
      Client* client, std::string service_managed_alias);

  // Checks the key of a new account and returns the alias to record for it:
  // `key_alias`, or the service-managed alias when `key_alias` is empty.
  // `account` must be 1..64 characters of [A-Za-z0-9._-]. Errors: see above.
  absl::StatusOr<std::string> CreateAccount(absl::string_view account,
                                            absl::string_view key_alias) const;

  // Describes `key_alias`, the key recorded for an existing `account`, with
  // the same errors as CreateAccount (an inaccessible key is an error here).
  // Its key_version is the version that new records are sealed under.
  absl::StatusOr<KeyDescription> DescribeAccountKey(absl::string_view account,
                                                    absl::string_view key_alias) const;

 private:
  AccountProvisioner(Client* client, std::string service_managed_alias)
      : client_(client), service_managed_alias_(std::move(service_managed_alias)) {}

  // Set at construction.
  Client* const client_;
  const std::string service_managed_alias_;
};

}  // namespace keybroker::sdk::fhir

#endif  // KEYBROKER_SDK_FHIR_ACCOUNT_PROVISIONER_H_
