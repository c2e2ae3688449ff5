// Start-up look at every configured key, in the background: a customer key
// that is inaccessible is logged as a diagnostic (never a start-up failure:
// one customer's revoked key must not stop the broker for everyone), and RSA
// keys get the warning that RSA wrapping is not quantum-resistant.
#ifndef KEYBROKER_SERVER_STARTUP_CHECKS_H_
#define KEYBROKER_SERVER_STARTUP_CHECKS_H_

#include <atomic>

#include "server/broker_core.h"
#include "server/key_registry.h"

namespace keybroker::server {

// Describes each alias of `registry` through `core` (each within
// `per_key_timeout`) and logs what it finds. Blocks until done, or until
// `stop` turns true between two keys.
void CheckConfiguredKeys(const KeyRegistry& registry, const BrokerCore& core,
                         absl::Duration per_key_timeout, const std::atomic<bool>& stop);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_STARTUP_CHECKS_H_
