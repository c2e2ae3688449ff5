#include "keybroker/sdk/fhir/account_provisioner.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/status_macros.h"

namespace keybroker::sdk::fhir {
namespace {

bool ValidAccountName(absl::string_view account) {
  if (account.empty() || account.size() > 64) return false;
  for (char c : account) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AccountProvisioner>> AccountProvisioner::Create(
    Client* client, std::string service_managed_alias) {
  if (client == nullptr) return InvalidRequest("fhir: client is null");
  if (service_managed_alias.empty()) return InvalidRequest("fhir: service-managed alias is empty");
  return std::unique_ptr<AccountProvisioner>(
      new AccountProvisioner(client, std::move(service_managed_alias)));
}

absl::StatusOr<std::string> AccountProvisioner::CreateAccount(absl::string_view account,
                                                              absl::string_view key_alias) const {
  if (!ValidAccountName(account)) {
    return InvalidRequest(
        "account name must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-'");
  }
  const std::string alias = key_alias.empty() ? service_managed_alias_ : std::string(key_alias);
  RETURN_IF_ERROR(DescribeAccountKey(account, alias).status());
  return alias;
}

absl::StatusOr<KeyDescription> AccountProvisioner::DescribeAccountKey(
    absl::string_view account, absl::string_view key_alias) const {
  absl::StatusOr<KeyDescription> key = client_->DescribeKey(key_alias);
  if (ReasonOf(key.status()) == ErrorReason::kKeyNotFound) {
    return InvalidRequest(
        absl::StrCat("key '", key_alias, "' is not configured in the key broker"));
  }
  if (!key.ok())
    return Annotate(key.status(), absl::StrCat("checking the key of account ", account));
  if (!key->accessible) {
    // DescribeKey answers OK with the reason; keep that reason for FhirError.
    std::optional<ErrorReason> reason = ParseErrorReason(key->reason);
    return MakeError(reason.value_or(ErrorReason::kKeyNotAccessible),
                     absl::StrCat("key '", key_alias, "' of account ", account,
                                  " is not accessible (", key->reason, ")"));
  }
  return key;
}

}  // namespace keybroker::sdk::fhir
