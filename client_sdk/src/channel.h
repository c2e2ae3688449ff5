// How a Client reaches the broker: the gRPC channel built from ClientOptions
// (credentials, TLS name override, service config). Stateless and
// thread-safe.
#ifndef KEYBROKER_CLIENT_SDK_SRC_CHANNEL_H_
#define KEYBROKER_CLIENT_SDK_SRC_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/channel_arguments.h"
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

// HTTP/2 keepalive of every Client channel, for its WatchKeys streams: a
// watch waits, silent, for events that may never come, and without pings a
// connection that died without a word (a broker host gone, a NAT or load
// balancer that dropped the flow) would leave it waiting forever, and the
// Encryptor trusting DEKs it should have dropped. With them, a stream whose
// connection answers no ping within `time` + `timeout` (40 s) ends
// UNAVAILABLE and the watch reconnects (to another replica if there is one).
//
// Pings go only while a call is open (GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS
// 0), so a Client that does not watch pings only under a call that lasts
// past `time`, and an idle channel never. They go on however long the stream
// stays quiet (GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA 0: by default gRPC
// stops after two pings without data, which is exactly a quiet watch). The
// broker accepts a ping every 10 s or slower on a busy connection
// (server/grpc_keepalive.h); 30 s keeps well above that, as gRPC requires:
// pings faster than the server allows end in GOAWAY too_many_pings.
// Tests pass shorter ones.
struct Keepalive {
  absl::Duration time = absl::Seconds(30);     // quiet time before a ping
  absl::Duration timeout = absl::Seconds(10);  // wait for its ack
};

// The channel arguments MakeChannel uses: the service config, the TLS name
// override, and `keepalive`.
grpc::ChannelArguments ChannelArgumentsFor(const ClientOptions& options,
                                          const Keepalive& keepalive = {});

// Returns a channel to `options.target` (not yet connected). Certificate
// files are read here, once; the copy of the private key is wiped as soon as
// the credentials hold theirs. INVALID_ARGUMENT naming the option when the
// target is empty, a file cannot be read, only one of cert_file and key_file
// is set, server_name_override is set without TLS, or the channel would be
// plaintext to another host without allow_plaintext.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ClientOptions& options,
                                                           const Keepalive& keepalive = {});

}  // namespace keybroker::sdk::internal

#endif  // KEYBROKER_CLIENT_SDK_SRC_CHANNEL_H_
