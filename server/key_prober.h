// KeyProber: the access probe, so that a customer's revocation is noticed
// within an interval however long the caches live.
//
// For each customer key used within `idle` (kms::Kms::KeysUsedWithin), one
// request to its KMS every `interval`, past every cache (kms::Kms::Probe).
// The KMS reports the outcome to the key-health tracker like any request's
// (server/key_health.h): a refusal marks the key inaccessible, which drops
// its cached unwraps and metadata and tells WatchKeys clients; the next
// success marks it accessible again. Keys no longer used stop being probed.
//
// One probe at a time, from one thread: at most one probe request is in
// flight per vault (and in all), and a round's probes are spread evenly over
// it. Each round is `interval` shortened by up to a fifth at random, so that
// replicas do not probe in step and a key is probed at least once an
// interval (plus the time its round's probes take).
#ifndef KEYBROKER_SERVER_KEY_PROBER_H_
#define KEYBROKER_SERVER_KEY_PROBER_H_

#include <atomic>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/key_registry.h"

namespace keybroker::server {

class KeyProber {
 public:
  struct Options {
    absl::Duration interval = absl::Seconds(10);  // cache.access_probe_seconds
    absl::Duration idle = absl::Minutes(15);      // cache.access_probe_idle_seconds
    absl::Duration request_timeout = absl::Seconds(10);
  };

  // Starts probing the remote KMSs of `registry`, which must outlive this.
  KeyProber(const KeyRegistry* registry, Options options);
  // Stops (an ongoing probe is cancelled) and returns once the thread has.
  ~KeyProber();

  KeyProber(const KeyProber&) = delete;
  KeyProber& operator=(const KeyProber&) = delete;

 private:
  void Run();
  // Waits `delay`; false when stopping.
  bool Sleep(absl::Duration delay);

  const KeyRegistry* const registry_;
  const Options options_;
  absl::Mutex mu_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_KEY_PROBER_H_
