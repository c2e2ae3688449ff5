#include "server/startup_checks.h"

#include "absl/time/clock.h"
#include "common/log.h"

namespace keybroker::server {
namespace {

// Logs what DescribeKey says of `alias`.
void CheckKey(const BrokerCore& core, const std::string& alias, absl::Duration timeout) {
  kms::CallOptions options;
  options.deadline = absl::Now() + timeout;
  absl::StatusOr<KeyStatus> status = core.DescribeKey(alias, options);
  if (!status.ok()) {
    log::Warn("key_check_failed",
              {{"alias", alias}, {"error", std::string(status.status().message())}});
    return;
  }
  // An inaccessible customer key has been logged (customer_key_inaccessible)
  // by KeyHealth, from the KMS's own answer.
  if (!status->accessible) return;
  if (!status->description.quantum_resistant) {
    log::Warn("key_not_quantum_resistant",
              {{"alias", alias},
               {"algorithm", status->description.algorithm},
               {"message", "RSA key wrapping is not quantum-resistant; prefer a Managed HSM "
                           "AES key for long-lived data"}});
  }
}

}  // namespace

void CheckConfiguredKeys(const KeyRegistry& registry, const BrokerCore& core,
                         absl::Duration per_key_timeout, const std::atomic<bool>& stop) {
  for (const std::string& alias : registry.aliases()) {
    if (stop) return;
    CheckKey(core, alias, per_key_timeout);
  }
  log::Info("key_checks_done", {{"keys", registry.aliases().size()}});
}

}  // namespace keybroker::server
