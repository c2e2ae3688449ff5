// The WatchKeys streams (keybroker.v1.KeyBroker.WatchKeys).
//
// A stream opens with the state of each key watched, then carries one event
// at each change the key-health tracker reports (server/key_health.h): a key
// found inaccessible (by the access probe, server/key_prober.h, or by any
// request), or accessible again. Keys of the local keyring are
// service-managed: always accessible, one opening event and no more.
//
// Events queue per stream and are written one at a time. The queue is
// bounded: a client that stops reading loses its stream (RESOURCE_EXHAUSTED)
// rather than the broker its memory; it reconnects and gets the state anew.
//
// KeyWatchHub keeps the open streams so that Close can end them: a stream
// never ends by itself, and the server's shutdown would wait its whole grace
// period for one. Safe for concurrent use.
#ifndef KEYBROKER_SERVER_KEY_WATCH_H_
#define KEYBROKER_SERVER_KEY_WATCH_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_callback.h"
#include "keybroker/v1/key_broker.pb.h"
#include "server/key_health.h"

namespace keybroker::server {

// One key a stream watches.
struct WatchedKey {
  std::string alias;
  std::string key_id;
  std::string edek_key_name;
  bool customer_managed = false;  // false: always accessible
};

// Why a stream ended.
enum class WatchEnd {
  kCancelled,         // the client cancelled it or went away (CANCELLED)
  kDeadlineExceeded,  // the client's deadline passed (DEADLINE_EXCEEDED)
  kShutdown,          // the broker is shutting down (UNAVAILABLE)
  kSlowClient,        // the client read too slowly (RESOURCE_EXHAUSTED)
};

// "cancelled", "deadline", "shutdown" or "slow_client": the audit line's field.
absl::string_view WatchEndName(WatchEnd end);

// What a stream did, told once when gRPC is done with it.
struct WatchSummary {
  grpc::Status status;  // what its client was told
  WatchEnd end = WatchEnd::kCancelled;
  uint64_t events_sent = 0;  // written to the client, the opening ones included
};
using WatchEndCallback = std::function<void(const WatchSummary&)>;

// Of a stream of every key: whether it also carries the key named at run
// time (by URI) that authorization rules know as `uri_name`. Such keys come
// and go, so they are not listed when the stream opens: the stream opens
// with those found inaccessible and carries their changes.
using RuntimeKeyFilter = std::function<bool(const std::string& uri_name)>;

class KeyWatchStream;

class KeyWatchHub {
 public:
  // Streams at most this many events behind their client are ended.
  static constexpr size_t kMaxQueuedEvents = 1024;

  // `health` must outlive the hub, and the hub every stream (Close, then
  // wait for the server to stop, before destroying it).
  explicit KeyWatchHub(KeyHealth* health) : health_(health) {}

  // A stream of `keys`' states, started; or, after Close, one that fails.
  // `runtime_keys` (may be empty: none) picks keys named at run time that
  // it carries too. `deadline` is the call's (its context's deadline()): a
  // cancel at it ends the stream as kDeadlineExceeded, not kCancelled.
  // `on_end` (may be empty) is called once, when gRPC is done with the
  // stream (its OnDone, on a gRPC thread); what it uses must outlive the hub.
  grpc::ServerWriteReactor<v1::KeyEvent>* Open(std::vector<WatchedKey> keys,
                                               RuntimeKeyFilter runtime_keys,
                                               std::chrono::system_clock::time_point deadline,
                                               WatchEndCallback on_end = nullptr);
  // Ends every open stream with UNAVAILABLE, and makes Open refuse.
  void Close();

  size_t open_streams() const;

 private:
  friend class KeyWatchStream;
  void Remove(KeyWatchStream* stream);

  KeyHealth* const health_;
  mutable absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<KeyWatchStream*> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_KEY_WATCH_H_
