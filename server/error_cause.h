// Whose fault an RPC's failure is: what lets alerts page for the service's own
// faults only. The BYOK design says a customer's revoked, disabled or deleted
// key is expected (a diagnostic log and a metric, never a page), and so is a
// caller's bad request.
#ifndef KEYBROKER_SERVER_ERROR_CAUSE_H_
#define KEYBROKER_SERVER_ERROR_CAUSE_H_

#include <chrono>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace keybroker::server {

enum class ErrorCause {
  kNone,      // the call succeeded
  kClient,    // the caller's request: bad EDEK or field, unknown alias, a Rotate
              // the keyring or key pin does not allow, its deadline or cancellation
  kCustomer,  // a customer-managed key the customer revoked (RBAC, access policy,
              // firewall), disabled, expired or deleted
  kService,   // what the broker's operator controls: the broker itself, its
              // credentials (Entra refusing its identity), TLS trust, its
              // configuration, the KMS's reachability and throttling, a replica
              // behind on the keyring
};
inline constexpr int kErrorCauseCount = 4;

// Returns who caused `status`: from its reason (common/error_reason.h) when it
// has one, else from its code (CANCELLED, DEADLINE_EXCEEDED and the request
// codes are the caller's; anything else is the service's).
ErrorCause CauseOf(const absl::Status& status);

// "none", "client", "customer" or "service": the metrics label and log field.
absl::string_view ErrorCauseName(ErrorCause cause);

// Whether a call gRPC cancelled at `now` ran out of its caller's `deadline`
// (a ServerContext's deadline(); time_point::max() for none) rather than was
// cancelled: gRPC cancels a call at its deadline too, and its caller is to be
// told apart as DEADLINE_EXCEEDED. Also true a little before the deadline:
// the caller's own timer fires first and cancels the call, and that cancel
// can reach the server before the server's view of the deadline passes.
bool AtCallerDeadline(std::chrono::system_clock::time_point deadline, absl::Time now);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_ERROR_CAUSE_H_
