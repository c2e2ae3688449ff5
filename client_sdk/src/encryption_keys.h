// EncryptionKeys: the DEKs an Encryptor encrypts with, one current DEK per
// key alias, each used for a bounded number of encryptions and a bounded time.
//
// When a DEK has used `refresh_uses` of its encryptions or reached
// `refresh_age`, one background fetch (a thread of its own, one per alias at
// a time) gets the next DEK from the DekSource, so a warm alias never waits on
// the broker: the next DEK takes over the moment the current one runs out.
// A caller that finds no usable DEK (a cold alias, or both budgets spent
// before the fetch returned) waits for the fetch in flight or starts one; all
// such callers share that one DekSource call, and if it fails they all get
// its error. A failed background fetch is retried no sooner than
// `retry_delay` later (callers that must wait always fetch).
//
// The age refresh is noticed by Acquire: an alias idle from `refresh_age`
// to `max_age` gets no new DEK ahead of time and its next caller waits.
//
// DropIf forgets the DEKs of a key that became inaccessible (a WatchKeys
// event): the next caller fetches, and gets the source's refusal. A fetch in
// flight then is not used either: its DEK may have been made just before the
// refusal.
//
// Safe for concurrent use. Acquire and Reserve on a warm alias take the lock
// shared, count the uses with an atomic, allocate nothing and do no I/O.
// Encrypt's per-record path does not come here: it spends uses reserved per
// thread in blocks (encryption_leases.h) and calls Reserve once per block.
#ifndef KEYBROKER_CLIENT_SDK_SRC_ENCRYPTION_KEYS_H_
#define KEYBROKER_CLIENT_SDK_SRC_ENCRYPTION_KEYS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client_sdk/src/keyed_dek.h"
#include "crypto/secret_bytes.h"
#include "keybroker/sdk/clock.h"
#include "keybroker/sdk/dek_source.h"
#include "keybroker/sdk/encryptor.h"

namespace keybroker::sdk::internal {

// AES-GCM with random 96-bit nonces: at most 2^32 encryptions per key
// (NIST SP 800-38D, section 8.3).
inline constexpr uint64_t kMaxEncryptionsPerDek = uint64_t{1} << 32;

// How long and how much one DEK may be used.
struct DekBudget {
  uint64_t max_uses = 0;       // 1..kMaxEncryptionsPerDek
  uint64_t refresh_uses = 0;   // 1..max_uses: fetch the next DEK from this use on
  absl::Duration max_age;      // encrypt with a DEK only this long after it arrived
  absl::Duration refresh_age;  // fetch the next DEK from this age on
  absl::Duration retry_delay;  // between failed background fetches

  // Returns the budget `options` ask for, with max_encryptions_per_dek capped
  // at kMaxEncryptionsPerDek. INVALID_ARGUMENT (reason INVALID_REQUEST) for
  // zero encryptions, a non-positive age, refresh_at outside (0, 1], or a
  // negative retry delay.
  static absl::StatusOr<DekBudget> FromOptions(const EncryptorOptions& options);
};

// One DEK as Encrypt uses it. Immutable once published, but for `uses`.
struct EncryptionKey {
  explicit EncryptionKey(crypto::SecretBytes plaintext) : dek(std::move(plaintext)) {}

  const KeyedDek dek;  // 32 bytes, with its per-thread cipher contexts
  std::string edek;    // 1..65535 bytes
  absl::Time refresh_after;
  absl::Time expires;
  // Uses handed out; runs past max_uses when callers find the DEK spent.
  mutable std::atomic<uint64_t> uses{0};
};

// Uses of one DEK reserved at once (EncryptionKeys::Reserve).
struct Reservation {
  std::shared_ptr<const EncryptionKey> key;
  uint64_t uses = 0;  // 1 up to the number asked for
};

class EncryptionKeys {
 public:
  // `source` and `clock` must outlive this object. Does no I/O.
  EncryptionKeys(DekSource* source, Context context, DekBudget budget, const Clock* clock);
  // Waits for fetches in flight (each as long as its DekSource call takes:
  // the Client's per-call timeout). No Acquire may be running.
  ~EncryptionKeys();

  EncryptionKeys(const EncryptionKeys&) = delete;
  EncryptionKeys& operator=(const EncryptionKeys&) = delete;

  // Returns a DEK of `alias` with one encryption reserved for the caller,
  // waiting for the DekSource only when no DEK of `alias` has budget left.
  // The DekSource's error (with context added, code and reason kept) when the
  // fetch this call waited for failed; INTERNAL when it returned a DEK that is
  // not 32 bytes or an EDEK that is empty or over 65535 bytes. The key stays
  // valid while the returned pointer is held; its DEK is wiped when the last
  // holder lets go after it was replaced.
  absl::StatusOr<std::shared_ptr<const EncryptionKey>> Acquire(absl::string_view alias);

  // As Acquire, reserving up to `uses` (at least 1) encryptions at once:
  // fewer when the DEK has fewer left. Uses reserved and never spent count
  // as spent (the budget is never exceeded, at worst used up early).
  absl::StatusOr<Reservation> Reserve(absl::string_view alias, uint64_t uses);

  // Starts the background fetch of the next DEK of `alias` if its current
  // DEK is past its refresh age and no fetch is running, ready or waiting
  // out the retry delay. For callers holding reserved uses, who do not call
  // Acquire or Reserve while they last.
  void RefreshIfDue(absl::string_view alias) ABSL_LOCKS_EXCLUDED(mu_);

  // Drops the current and next DEK of each alias for which `drop` returns
  // true, given the alias and one of its DEKs' EDEK (called for each DEK
  // held, or once with an empty EDEK for an alias holding none), and
  // discards the fetches in flight for those aliases. Returns the aliases
  // dropped. Callers holding one of these DEKs may finish with it; nobody
  // gets it from here again.
  std::vector<std::string> DropIf(
      absl::FunctionRef<bool(absl::string_view alias, absl::string_view edek)> drop)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // One alias. Every field is guarded by mu_ (nested types cannot say so).
  struct AliasState {
    std::shared_ptr<EncryptionKey> current;  // encrypting now, or null
    std::shared_ptr<EncryptionKey> next;     // fetched ahead, not used yet
    bool fetching = false;                   // `fetcher` is calling the source
    uint64_t fetches_completed = 0;          // wakes the callers waiting for a fetch
    absl::Status last_fetch_status;
    absl::Time retry_after = absl::InfinitePast();  // for background fetches
    std::thread fetcher;  // while fetching; then moved to finished_fetchers_
    uint64_t drops = 0;   // DropIf calls that dropped this alias: a fetch started
                          // before the last one is not used
  };

  // Takes up to `wanted` uses of `key` if it has age and uses left:
  // `*granted` becomes the number taken (at least 1), `*used` the number of
  // uses handed out including these.
  bool TryReserve(const std::shared_ptr<EncryptionKey>& key, absl::Time now, uint64_t wanted,
                  uint64_t* granted, uint64_t* used) const;
  bool RefreshDueLocked(const AliasState& state, const EncryptionKey& key, uint64_t used,
                        absl::Time now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Reservation> ReserveSlow(absl::string_view alias, uint64_t wanted)
      ABSL_LOCKS_EXCLUDED(mu_);
  void StartBackgroundFetch(absl::string_view alias) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status StartFetchLocked(const std::string& alias, AliasState& state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `drops` is state.drops when the fetch started.
  void Fetch(const std::string& alias, AliasState& state, uint64_t drops) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether `drop` says so of `state` (see DropIf).
  static bool ShouldDrop(
      absl::FunctionRef<bool(absl::string_view alias, absl::string_view edek)> drop,
      absl::string_view alias, const AliasState& state);
  absl::StatusOr<std::shared_ptr<EncryptionKey>> MakeKey(DataKey data_key) const;

  // Set at construction.
  DekSource* const source_;
  const Context context_;
  const DekBudget budget_;
  const Clock* const clock_;

  mutable absl::Mutex mu_;
  // Entries are never removed, so AliasState and key references stay valid;
  // std::less<> finds by string_view without building a key string.
  std::map<std::string, std::unique_ptr<AliasState>, std::less<>> aliases_ ABSL_GUARDED_BY(mu_);
  // Fetch threads that are done (or about to return): joined when the next
  // fetch of any alias starts, so that an Encryptor of thousands of aliases
  // does not keep a finished thread (and its stack) per alias.
  std::vector<std::thread> finished_fetchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::sdk::internal

#endif  // KEYBROKER_CLIENT_SDK_SRC_ENCRYPTION_KEYS_H_
