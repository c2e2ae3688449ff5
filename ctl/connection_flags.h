// keybrokerctl's global options that say how to reach the broker, and the
// SDK Client they make. The Client owns the rest: TLS set-up, the rule that
// plaintext goes only to this host, deadlines, and the decoding of the
// broker's errors (keybroker/sdk/client.h), so that keybrokerctl reaches the
// broker exactly as applications do.
#ifndef KEYBROKER_CTL_CONNECTION_FLAGS_H_
#define KEYBROKER_CTL_CONNECTION_FLAGS_H_

#include <memory>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "keybroker/sdk/client.h"

namespace keybroker::ctl {

struct ConnectionFlags {
  // --addr (target), --tls, --ca-file, --cert-file, --key-file,
  // --allow-plaintext. The timeout is taken from timeout_seconds.
  sdk::ClientOptions client;
  // --timeout: the deadline of the call, in (possibly fractional) seconds.
  double timeout_seconds = 10;
};

// Adds the connection options to `app`, with their defaults (--addr
// 127.0.0.1:50051, --timeout 10). They write into `flags`, which must outlive
// parsing.
void AddConnectionOptions(CLI::App& app, ConnectionFlags* flags);

// Returns a Client for `flags` (not yet connected). INVALID_ARGUMENT as
// sdk::Client::Create gives it; its refusal of plaintext to another host is
// said in keybrokerctl's flags (--tls, --ca-file, --allow-plaintext).
absl::StatusOr<std::unique_ptr<sdk::Client>> ConnectToBroker(const ConnectionFlags& flags);

}  // namespace keybroker::ctl

#endif  // KEYBROKER_CTL_CONNECTION_FLAGS_H_
