// Whose fault an RPC's failure is: what lets alerts page for the service's own
// faults only. The BYOK design says a customer's revoked, disabled or deleted
// key is expected (a diagnostic log and a metric, never a page), and so is a
// caller's bad request.
#ifndef KEYBROKER_SERVER_ERROR_CAUSE_H_
#define KEYBROKER_SERVER_ERROR_CAUSE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace keybroker::server {

enum class ErrorCause {
  kNone,      // the call succeeded
  kClient,    // the caller's request: bad EDEK or field, unknown alias, its deadline
  kCustomer,  // a customer-managed key the customer revoked, disabled or deleted
  kService,   // the broker or its KMS: throttling, unavailability, internal faults
};
inline constexpr int kErrorCauseCount = 4;

ErrorCause CauseOf(const absl::Status& status);

// "none", "client", "customer" or "service": the metrics label and log field.
absl::string_view ErrorCauseName(ErrorCause cause);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_ERROR_CAUSE_H_
