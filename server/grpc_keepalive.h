// HTTP/2 keepalive on the broker's gRPC connections, for WatchKeys streams:
// they stay open and quiet for hours, and a connection that dies without a
// word (a client host gone, a NAT or load balancer that dropped the flow)
// is otherwise never noticed by either end.
//
// Both ends ping (gRPC core's semantics, doc/keepalive.md):
// - The SDK pings the broker after 30 s without traffic while a call is open
//   (client_sdk/src/channel.h), so that a watcher notices a dead broker.
//   The broker must accept those pings: gRPC servers by default take a ping
//   on a connection on which they send nothing (a quiet watch) at most every
//   5 minutes, count each faster one as a strike, and at the strike after
//   `max_ping_strikes` end the connection with GOAWAY too_many_pings. Here
//   pings every `min_client_ping_interval` (10 s) or slower are accepted: a
//   third of the SDK's interval, so that a conforming client never strikes,
//   while a client that floods pings still loses its connection at its
//   third strike (gRPC's default of two, kept).
// - The broker pings a connection with a call open after `time` (60 s)
//   without traffic, and drops it when no ack comes within `timeout` (20 s):
//   a dead watcher's stream ends (CANCELLED) and its resources go within
//   80 s. A live SDK client's own pings keep the connection busy, so the
//   broker rarely needs to ping it. The broker's pings go on over a quiet
//   stream (gRPC holds only clients to GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA),
//   and only while a call is open: an idle connection is not pinged.
#ifndef KEYBROKER_SERVER_GRPC_KEEPALIVE_H_
#define KEYBROKER_SERVER_GRPC_KEEPALIVE_H_

#include "absl/time/time.h"
#include "grpcpp/server_builder.h"

namespace keybroker::server {

struct ServerKeepalive {
  absl::Duration time = absl::Seconds(60);     // quiet time before the broker pings
  absl::Duration timeout = absl::Seconds(20);  // wait for the ack
  // The shortest interval between a client's pings the broker accepts on a
  // connection on which it sends nothing.
  absl::Duration min_client_ping_interval = absl::Seconds(10);
  int max_ping_strikes = 2;  // faster pings tolerated; the next one is a GOAWAY
};

// Sets `keepalive`'s channel arguments on `builder`. Tests pass shorter
// durations.
void SetKeepalive(grpc::ServerBuilder& builder, const ServerKeepalive& keepalive = {});

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_GRPC_KEEPALIVE_H_
