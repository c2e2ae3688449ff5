// How a Client reaches the broker: the gRPC channel built from ClientOptions
// (credentials, TLS name override, service config). Stateless and
// thread-safe.
#ifndef KEYBROKER_CLIENT_SDK_SRC_CHANNEL_H_
#define KEYBROKER_CLIENT_SDK_SRC_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/channel.h"
#include "keybroker/sdk/client.h"

namespace keybroker::sdk::internal {

// Returns the service config every Client channel gets: round_robin over the
// target's addresses, and a retry policy for all keybroker.v1.KeyBroker
// methods that retries UNAVAILABLE up to `max_attempts` attempts in all
// (clamped to 2..5, gRPC's bounds) with exponential backoff from 0.1 s to 1 s.
std::string ServiceConfigJson(int max_attempts);

// Whether every address `target` names is on this host: a unix socket,
// "localhost", 127.0.0.0/8 or ::1, alone or in an ipv4:/ipv6:/dns: target.
// Plaintext is allowed to such targets without ClientOptions.allow_plaintext.
bool IsLocalTarget(absl::string_view target);

// Returns a channel to `options.target` (not yet connected). Certificate
// files are read here, once; the copy of the private key is wiped as soon as
// the credentials hold theirs. INVALID_ARGUMENT naming the option when the
// target is empty, a file cannot be read, only one of cert_file and key_file
// is set, server_name_override is set without TLS, or the channel would be
// plaintext to another host without allow_plaintext.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ClientOptions& options);

}  // namespace keybroker::sdk::internal

#endif  // KEYBROKER_CLIENT_SDK_SRC_CHANNEL_H_
