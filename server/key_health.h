// KeyHealth: which customer-managed keys are inaccessible now, and why.
//
// Fed by the remote KMS's answers (kms::KmsObserver::KeyRequestDone), so its
// state is the KMS's latest word on each key, never a cached copy's. When a
// key becomes inaccessible (KEY_NOT_ACCESSIBLE, KEY_DISABLED, KEY_NOT_FOUND)
// or recovers, it writes one diagnostic log line (`customer_key_inaccessible`
// with alias, key id, version, reason, the KMS's request id and
// `cause: customer`; `customer_key_recovered`) and updates the
// keybroker_keys_inaccessible / keybroker_key_accessible gauges. Customer
// causes are expected in a BYOK service: they are diagnosed, never alerted on.
// Other failures (throttling, outages) say nothing about the key and leave
// its state alone.
//
// Listeners hear of each change of a key's state, in order: the broker drops
// the key's cached unwraps, and WatchKeys streams tell clients.
//
// Safe for concurrent use; called only after a remote request, so a mutex is
// cheap next to it.
#ifndef KEYBROKER_SERVER_KEY_HEALTH_H_
#define KEYBROKER_SERVER_KEY_HEALTH_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/error_reason.h"
#include "kms_adapters/kms_observer.h"
#include "server/key_registry.h"
#include "server/metrics.h"

namespace keybroker::server {

// A tracked key's state: on a change, and in snapshots.
struct KeyState {
  std::string key_id;
  std::string edek_key_name;         // what EDEKs under the key name (kms::Kms::EdekKeyNameOf)
  std::vector<std::string> aliases;  // the aliases bound to the key
  std::optional<ErrorReason> inaccessible;  // nullopt: accessible (or not known otherwise)
  // Named at run time by its URI (its one "alias"): counted in
  // keybroker_keys_inaccessible but given no keybroker_key_accessible
  // series, whose labels must never carry a URI.
  bool runtime = false;
};

class KeyHealth final : public kms::KmsObserver {
 public:
  // Called with the key's new state, under KeyHealth's lock (so changes
  // arrive in order): must be quick and must not call back into KeyHealth.
  using Listener = std::function<void(const KeyState&)>;

  // `metrics` may be null; it must outlive this.
  explicit KeyHealth(BrokerMetrics* metrics) : metrics_(metrics) {}

  // Starts tracking the registry's customer-managed keys (built after this,
  // since its KMSs report here). Keys of the local keyring are
  // service-managed and never tracked.
  void Track(const KeyRegistry& registry);

  void KeyRequestDone(absl::string_view key_id, absl::string_view version, bool current,
                      const absl::Status& result) override;
  // A key named at run time, tracked under its URI (`key_id`) from now on,
  // and dropped again: the number tracked stays within the KMS's bound.
  void KeyAdded(absl::string_view key_id, absl::string_view edek_key_name) override;
  void KeyRemoved(absl::string_view key_id) override;

  // The reason `alias`'s key was last seen inaccessible; nullopt when it is
  // accessible (or unknown).
  std::optional<ErrorReason> InaccessibleReason(absl::string_view alias) const;

  // Adds `listener` and returns its id, with the state of every tracked key
  // at that moment (nothing changes between the two).
  struct Subscription {
    uint64_t id = 0;
    std::vector<KeyState> keys;
  };
  Subscription Listen(Listener listener);
  // Removes a listener; once this returns it is not called again.
  void Unlisten(uint64_t id);

 private:
  using Key = KeyState;

  void PublishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  BrokerMetrics* const metrics_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Key> keys_ ABSL_GUARDED_BY(mu_);  // by key id
  absl::flat_hash_map<uint64_t, Listener> listeners_ ABSL_GUARDED_BY(mu_);
  uint64_t next_listener_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_KEY_HEALTH_H_
