// The text of Key Vault, Managed HSM and Entra ID error responses, split by
// where it may go.
//
// A status message travels to the broker's gRPC callers, who are not the
// vault's owners: it carries only short identifier-shaped fields the service
// sent (error codes, request and trace ids), checked with ServiceIdentifier.
// The service's own prose (Key Vault's error.message, Entra's
// error_description) can name principals, tenants, vault internals or echo
// what a proxy saw; it goes only to a diagnostic log line, through
// DiagnosticText. Pure functions, safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_ERROR_TEXT_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_ERROR_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace keybroker::kms::azure {

// How much of a service's error text a log line keeps.
inline constexpr size_t kMaxDiagnosticText = 1024;

// Returns `text` when it has the shape of a service identifier (an error
// code such as "ForbiddenByRbac" or "invalid_client", a GUID request id):
// 1 to `max_size` letters, digits, '-', '_' or '.'. Returns "" for anything
// else, which then stays out of status messages.
std::string ServiceIdentifier(absl::string_view text, size_t max_size = 64);

// Returns `text` fit for a log field: bearer tokens, JWTs and form-encoded
// client secrets or assertions replaced by "[redacted]" (a proxy may echo a
// request), control characters as spaces, valid UTF-8, and at most
// `max_size` bytes.
std::string DiagnosticText(absl::string_view text, size_t max_size = kMaxDiagnosticText);

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_ERROR_TEXT_H_
