// GrpcKeyWatch: Client's KeyWatch, the WatchKeys stream read on a thread of
// its own with a blocking reader (one thread per watch, and a watch per
// Encryptor: simpler to make correct than a reactor, and few enough).
//
// The thread opens the stream, hands each event to the callback, and when
// the stream ends with an error (the broker restarting, the connection
// lost) opens it again after a ReconnectBackoff wait (100 ms doubling to
// 10 s, with jitter); the broker's initial events then re-establish the
// state, including changes missed in between. UNIMPLEMENTED (a broker older
// than WatchKeys) stops the watch for good: retrying cannot help, and
// status() says so. The stream has no deadline: it is meant to stay open;
// the channel's keepalive pings (channel.h) end it when its connection dies
// without a word.
//
// The destructor cancels the stream in flight (TryCancel wakes the blocked
// read) or the backoff wait, and joins the thread.
#ifndef KEYBROKER_CLIENT_SDK_SRC_GRPC_KEY_WATCH_H_
#define KEYBROKER_CLIENT_SDK_SRC_GRPC_KEY_WATCH_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client_sdk/src/reconnect_backoff.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "keybroker/sdk/key_watch.h"
#include "keybroker/v1/key_broker.grpc.pb.h"

namespace keybroker::sdk::internal {

struct KeyWatchBackoff {
  absl::Duration initial = absl::Milliseconds(100);
  absl::Duration max = absl::Seconds(10);
};

class GrpcKeyWatch : public KeyWatch {
 public:
  // Starts watching `keys` over `channel` (shared: the watch may outlive the
  // Client that made it).
  GrpcKeyWatch(std::shared_ptr<grpc::Channel> channel, const std::vector<std::string>& keys,
               KeyEventCallback on_event, KeyWatchBackoff backoff = {});
  ~GrpcKeyWatch() override;

  GrpcKeyWatch(const GrpcKeyWatch&) = delete;
  GrpcKeyWatch& operator=(const GrpcKeyWatch&) = delete;

  absl::Status status() const override ABSL_LOCKS_EXCLUDED(mu_);
  bool stopped() const override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The thread: streams until cancelled or stopped.
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Reads one stream to its end; returns how it ended. `*delivered` tells
  // whether it brought any event (then the backoff starts over).
  grpc::Status Stream(grpc::ClientContext& context, bool* delivered) ABSL_LOCKS_EXCLUDED(mu_);
  // Records how a stream ended; false when the watch is to end (cancelled,
  // or an error retrying cannot cure).
  bool Ended(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_);

  const std::unique_ptr<v1::KeyBroker::Stub> stub_;
  const KeyEventCallback on_event_;
  v1::WatchKeysRequest request_;  // set in the constructor, then only read
  ReconnectBackoff backoff_;      // the thread's alone

  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  // The stream open now, for the destructor to cancel; null between streams.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once everything above is set
};

}  // namespace keybroker::sdk::internal

#endif  // KEYBROKER_CLIENT_SDK_SRC_GRPC_KEY_WATCH_H_
