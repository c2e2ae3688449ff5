#include "client_sdk/src/encryption_keys.h"

#include <algorithm>
#include <cmath>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client_sdk/src/ciphertext_format.h"
#include "client_sdk/src/reconnect_backoff.h"
#include "common/error_reason.h"
#include "common/status_macros.h"
#include "crypto/aes_gcm.h"

namespace keybroker::sdk::internal {

absl::StatusOr<DekBudget> DekBudget::FromOptions(const EncryptorOptions& options) {
  if (options.max_encryptions_per_dek == 0) {
    return InvalidRequest("encryptor: max_encryptions_per_dek must be at least 1");
  }
  if (options.max_dek_age <= absl::ZeroDuration()) {
    return InvalidRequest("encryptor: max_dek_age must be positive");
  }
  // Written so that NaN fails too.
  if (!(options.refresh_at > 0.0 && options.refresh_at <= 1.0)) {
    return InvalidRequest("encryptor: refresh_at must be in (0, 1]");
  }
  if (options.background_retry_delay < absl::ZeroDuration()) {
    return InvalidRequest("encryptor: background_retry_delay must not be negative");
  }
  DekBudget budget;
  budget.max_uses = std::min(options.max_encryptions_per_dek, kMaxEncryptionsPerDek);
  const double refresh_uses = std::floor(options.refresh_at * static_cast<double>(budget.max_uses));
  budget.refresh_uses =
      std::clamp<uint64_t>(static_cast<uint64_t>(refresh_uses), 1, budget.max_uses);
  budget.max_age = options.max_dek_age;
  budget.refresh_age = options.max_dek_age * options.refresh_at;
  budget.retry_delay = options.background_retry_delay;
  return budget;
}

EncryptionKeys::EncryptionKeys(DekSource* source, Context context, DekBudget budget,
                               const Clock* clock)
    : source_(source), context_(std::move(context)), budget_(budget), clock_(clock) {}

EncryptionKeys::~EncryptionKeys() {
  std::vector<std::thread> fetchers;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [alias, state] : aliases_) {
      if (state->fetcher.joinable()) fetchers.push_back(std::move(state->fetcher));
    }
    for (std::thread& done : finished_fetchers_) fetchers.push_back(std::move(done));
  }
  // A fetch still running takes mu_ once more to publish its result: join
  // with the lock released.
  for (std::thread& fetcher : fetchers) fetcher.join();
}

absl::StatusOr<std::shared_ptr<const EncryptionKey>> EncryptionKeys::Acquire(
    absl::string_view alias) {
  ASSIGN_OR_RETURN(Reservation reservation, Reserve(alias, 1));
  return std::move(reservation.key);
}

absl::StatusOr<Reservation> EncryptionKeys::Reserve(absl::string_view alias, uint64_t uses) {
  const uint64_t wanted = std::max<uint64_t>(uses, 1);
  const absl::Time now = clock_->Now();
  Reservation reservation;
  bool refresh = false;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = aliases_.find(alias);
    uint64_t used = 0;
    if (it != aliases_.end() &&
        TryReserve(it->second->current, now, wanted, &reservation.uses, &used)) {
      reservation.key = it->second->current;
      refresh = RefreshDueLocked(*it->second, *it->second->current, used, now);
    }
  }
  if (reservation.key == nullptr) return ReserveSlow(alias, wanted);
  if (refresh) StartBackgroundFetch(alias);
  return reservation;
}

void EncryptionKeys::RefreshIfDue(absl::string_view alias) {
  const absl::Time now = clock_->Now();
  bool refresh = false;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = aliases_.find(alias);
    if (it != aliases_.end() && it->second->current != nullptr) {
      refresh = RefreshDueLocked(*it->second, *it->second->current, 0, now);
    }
  }
  if (refresh) StartBackgroundFetch(alias);
}

bool EncryptionKeys::TryReserve(const std::shared_ptr<EncryptionKey>& key, absl::Time now,
                                uint64_t wanted, uint64_t* granted, uint64_t* used) const {
  if (key == nullptr || now >= key->expires) return false;
  // Relaxed: the count only has to hand out each use once; the key's other
  // fields were published under mu_.
  const uint64_t before = key->uses.fetch_add(wanted, std::memory_order_relaxed);
  if (before >= budget_.max_uses) return false;
  *granted = std::min(wanted, budget_.max_uses - before);
  *used = before + *granted;
  return true;
}

bool EncryptionKeys::RefreshDueLocked(const AliasState& state, const EncryptionKey& key,
                                      uint64_t used, absl::Time now) const {
  const bool due = used >= budget_.refresh_uses || now >= key.refresh_after;
  return due && !state.fetching && state.next == nullptr && now >= state.retry_after;
}

void EncryptionKeys::StartBackgroundFetch(absl::string_view alias) {
  absl::MutexLock lock(&mu_);
  auto it = aliases_.find(alias);
  AliasState& state = *it->second;
  // Another caller may have started it since the shared lock was dropped.
  if (state.fetching || state.next != nullptr || clock_->Now() < state.retry_after) return;
  absl::Status started = StartFetchLocked(it->first, state);
  if (!started.ok()) {
    // Nobody waits for a background fetch: keep the error for the callers
    // that will, and try again later.
    state.last_fetch_status = started;
    state.retry_after = clock_->Now() + budget_.retry_delay;
  }
}

absl::StatusOr<Reservation> EncryptionKeys::ReserveSlow(absl::string_view alias, uint64_t wanted) {
  absl::MutexLock lock(&mu_);
  auto it = aliases_.find(alias);
  if (it == aliases_.end()) {
    it = aliases_.emplace(std::string(alias), std::make_unique<AliasState>()).first;
  }
  const std::string& name = it->first;
  AliasState& state = *it->second;
  while (true) {
    const absl::Time now = clock_->Now();
    uint64_t used = 0;
    Reservation reservation;
    if (TryReserve(state.current, now, wanted, &reservation.uses, &used)) {
      if (RefreshDueLocked(state, *state.current, used, now)) {
        // Best effort, as on the fast path: this caller has its DEK.
        if (!StartFetchLocked(name, state).ok()) state.retry_after = now + budget_.retry_delay;
      }
      reservation.key = state.current;
      return reservation;
    }
    if (state.next != nullptr && now < state.next->expires) {
      state.current = std::move(state.next);  // leaves next null
      continue;
    }
    // Neither DEK may encrypt any more: drop them (each is wiped when the
    // last encryption holding it returns) and wait for a new one.
    state.current.reset();
    state.next.reset();
    if (!state.fetching) RETURN_IF_ERROR(StartFetchLocked(name, state));
    const uint64_t seen = state.fetches_completed;
    auto fetched = [&state, seen]() { return state.fetches_completed != seen; };
    mu_.Await(absl::Condition(&fetched));
    // Share the failure of the fetch waited for rather than start another.
    if (!state.last_fetch_status.ok()) return state.last_fetch_status;
  }
}

absl::Status EncryptionKeys::StartFetchLocked(const std::string& alias, AliasState& state) {
  // Finished fetchers handed themselves over under mu_ and touch nothing
  // after that, so these joins are immediate.
  for (std::thread& done : finished_fetchers_) done.join();
  finished_fetchers_.clear();
  state.fetching = true;
  const uint64_t drops = state.drops;
  try {
    state.fetcher = std::thread([this, &alias, &state, drops] { Fetch(alias, state, drops); });
  } catch (const std::system_error& e) {
    state.fetching = false;
    return Internal(absl::StrCat("encryptor: cannot start a thread to fetch a DEK for key alias \"",
                                 alias, "\": ", e.what()));
  }
  return absl::OkStatus();
}

void EncryptionKeys::Fetch(const std::string& alias, AliasState& state, uint64_t drops) {
  absl::StatusOr<DataKey> data_key = source_->GenerateDek(alias, context_);
  absl::StatusOr<std::shared_ptr<EncryptionKey>> key =
      data_key.ok() ? MakeKey(std::move(*data_key)) : data_key.status();
  absl::MutexLock lock(&mu_);
  state.fetching = false;
  // This thread's own handle (StartFetchLocked set it before this lock was
  // free): joined by whoever starts the next fetch, or the destructor.
  finished_fetchers_.push_back(std::move(state.fetcher));
  ++state.fetches_completed;  // wakes the waiters (Await re-checks on unlock)
  if (key.ok()) {
    // Dropped meanwhile: the key may have become inaccessible after this DEK
    // was made. Waiters find no DEK and fetch again.
    if (state.drops == drops) state.next = std::move(*key);
    state.last_fetch_status = absl::OkStatus();
    state.retry_after = absl::InfinitePast();
    return;
  }
  state.last_fetch_status =
      Annotate(key.status(), absl::StrCat("encryptor: new DEK for key alias \"", alias, "\""));
  // A broker that says when to ask again (KMS_THROTTLED, SERVER_BUSY) is
  // not asked sooner in the background. (An Encrypt with no DEK left still
  // asks at once.)
  state.retry_after = clock_->Now() + WaitAfter(key.status(), budget_.retry_delay);
}

std::vector<std::string> EncryptionKeys::DropIf(
    absl::FunctionRef<bool(absl::string_view alias, absl::string_view edek)> drop) {
  std::vector<std::string> dropped;
  absl::MutexLock lock(&mu_);
  for (auto& [alias, state] : aliases_) {
    if (!ShouldDrop(drop, alias, *state)) continue;
    // Wiped when the last encryption holding them returns.
    state->current.reset();
    state->next.reset();
    ++state->drops;
    dropped.push_back(alias);
  }
  return dropped;
}

bool EncryptionKeys::ShouldDrop(
    absl::FunctionRef<bool(absl::string_view alias, absl::string_view edek)> drop,
    absl::string_view alias, const AliasState& state) {
  bool held = false;
  for (const EncryptionKey* key : {state.current.get(), state.next.get()}) {
    if (key == nullptr) continue;
    held = true;
    if (drop(alias, key->edek)) return true;
  }
  // An alias whose DEKs are all gone may still have a fetch in flight.
  return !held && drop(alias, "");
}

absl::StatusOr<std::shared_ptr<EncryptionKey>> EncryptionKeys::MakeKey(DataKey data_key) const {
  if (data_key.plaintext.size() != crypto::AesGcm::kKeySize) {
    return Internal(absl::StrCat("the key source returned a ", data_key.plaintext.size(),
                                 "-byte DEK; AES-256-GCM needs 32"));
  }
  if (data_key.edek.empty() || data_key.edek.size() > kMaxEdekSize) {
    return Internal(absl::StrCat("the key source returned an EDEK of ", data_key.edek.size(),
                                 " bytes; a ciphertext holds 1 to 65535"));
  }
  auto key = std::make_shared<EncryptionKey>(std::move(data_key.plaintext));
  key->edek = std::move(data_key.edek);
  const absl::Time now = clock_->Now();
  key->refresh_after = now + budget_.refresh_age;
  key->expires = now + budget_.max_age;
  return key;
}

}  // namespace keybroker::sdk::internal
