// How keybrokerctl reaches the broker: the channel (address, TLS) and the
// per-call settings (deadline), built from the global command-line flags.
#ifndef KEYBROKER_CTL_CHANNEL_H_
#define KEYBROKER_CTL_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace keybroker::ctl {

struct ConnectionFlags {
  // host:port, or unix:/path for a Unix domain socket.
  std::string addr = "127.0.0.1:50051";
  // Deadline of each call.
  double timeout_seconds = 10;
  // TLS with the system's roots. Implied by any of the files below.
  bool tls = false;
  // PEM roots to trust instead of the system's.
  std::string ca_file;
  // PEM client certificate chain and private key, for mutual TLS; both or
  // neither.
  std::string cert_file;
  std::string key_file;
};

// Returns a channel to `flags.addr`, plaintext or TLS as the flags say. Does
// not connect (the first call does). INVALID_ARGUMENT when a PEM file cannot
// be read or only one of cert_file and key_file is given.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ConnectionFlags& flags);

// Returns a context for one call, with the deadline the flags give.
std::unique_ptr<grpc::ClientContext> MakeCallContext(const ConnectionFlags& flags);

}  // namespace keybroker::ctl

#endif  // KEYBROKER_CTL_CHANNEL_H_
