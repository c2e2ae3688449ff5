// EncryptionLeases: the per-thread side of EncryptionKeys, so that a warm
// Encrypt takes no lock and writes no cache line that another thread writes.
//
// Each thread encrypting under an alias holds a lease in a slot of its own
// (one cache line; a fixed array of slots per alias, picked by thread index):
// a DEK with a block of its uses reserved at once (EncryptionKeys::Reserve).
// A record spends one use of the lease; when the block is spent or the DEK
// too old, the lease is renewed through EncryptionKeys, which also starts
// the background fetch of the next DEK as before. Past the DEK's refresh age
// a lease asks EncryptionKeys to start that fetch, once per retry delay.
//
// Blocks are small against the budget (1/4096 of it, at most 1024 uses, at
// least 1), so uses reserved and never spent cost little of it, and a small
// budget is counted one use at a time. A thread whose slot another thread
// holds (more threads than slots) takes its use the shared way (Acquire).
//
// A DEK replaced by a newer one stays in the leases that still have uses of
// it until they are spent; when a lease renews onto a DEK, it drops the other
// leases of its alias that hold another DEK (unless in use), so a replaced
// DEK is wiped soon after the last thread stops using it.
//
// Drop(alias), after EncryptionKeys dropped the alias's DEKs (a key made
// inaccessible), makes every lease of the alias renew before its next
// record: a per-alias drop count that a lease compares with the one it was
// renewed under (a load of a line only Drop writes), and idle leases let go
// of the DEK at once.
//
// Safe for concurrent use. Keys must outlive this object.
#ifndef KEYBROKER_CLIENT_SDK_SRC_ENCRYPTION_LEASES_H_
#define KEYBROKER_CLIENT_SDK_SRC_ENCRYPTION_LEASES_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client_sdk/src/encryption_keys.h"
#include "keybroker/sdk/clock.h"

namespace keybroker::sdk::internal {

class EncryptionLeases {
 public:
  // `keys` and `clock` must outlive this object; `budget` is the keys'.
  EncryptionLeases(EncryptionKeys* keys, const DekBudget& budget, const Clock* clock);

  EncryptionLeases(const EncryptionLeases&) = delete;
  EncryptionLeases& operator=(const EncryptionLeases&) = delete;

  // Calls `use` with a DEK of `alias`, one of its uses spent for the call,
  // and returns what `use` returns; or the error of getting a DEK
  // (EncryptionKeys::Acquire's), without calling `use`.
  absl::Status WithKey(absl::string_view alias,
                       absl::FunctionRef<absl::Status(const EncryptionKey&)> use);

  // Makes every lease of `alias` renew through the keys before its next use.
  // Call it after the keys dropped the alias: a lease renewed since then gets
  // a new DEK (or the source's refusal).
  void Drop(absl::string_view alias) ABSL_LOCKS_EXCLUDED(mu_);

  // The number of uses a lease reserves at once under `budget`.
  static uint64_t BlockFor(const DekBudget& budget);

 private:
  static constexpr size_t kSlots = 16;
  // One thread's lease of one alias: written only by the thread holding it.
  struct alignas(64) Lease {
    std::atomic<bool> held{false};
    std::shared_ptr<const EncryptionKey> key;  // null until the first renewal
    uint64_t uses_left = 0;
    absl::Time check_at;  // look at the DEK's age again from then on
    uint64_t drops = 0;   // AliasLeases::drops when the lease was renewed
  };
  struct AliasLeases {
    Lease slots[kSlots];
    // Drop calls for the alias; on a line of its own, which the records
    // only read.
    alignas(64) std::atomic<uint64_t> drops{0};
  };

  // Returns the leases of `alias`, made on first use; from a per-thread
  // cache of the last few aliases without a lock.
  AliasLeases* Find(absl::string_view alias) ABSL_LOCKS_EXCLUDED(mu_);
  // Takes each lease of `leases` that no thread holds at the moment and
  // lets go of its DEK if `drop` says so.
  static void DropIdle(AliasLeases& leases, absl::FunctionRef<bool(const Lease&)> drop);
  // Makes `lease` (held) usable for one more record: renews it when its
  // uses are spent, its DEK expired or the alias was dropped, starts the
  // next DEK's fetch when its refresh age passed.
  absl::Status Ready(absl::string_view alias, AliasLeases& leases, Lease& lease);
  // Drops the leases of `leases` that hold a DEK other than `current` and
  // that no thread holds at the moment.
  static void DropOthers(AliasLeases& leases, const EncryptionKey* current);

  EncryptionKeys* const keys_;
  const Clock* const clock_;
  const uint64_t block_;
  const absl::Duration retry_delay_;
  const uint64_t id_;  // unique per object: per-thread caches never confuse two

  absl::Mutex mu_;
  // Entries are never removed, so cached pointers stay valid.
  std::map<std::string, std::unique_ptr<AliasLeases>, std::less<>> aliases_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::sdk::internal

#endif  // KEYBROKER_CLIENT_SDK_SRC_ENCRYPTION_LEASES_H_
