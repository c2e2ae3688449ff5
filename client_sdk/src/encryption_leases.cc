#include "client_sdk/src/encryption_leases.h"

#include <algorithm>
#include <array>

#include "common/status_macros.h"
#include "common/thread_slots.h"

namespace keybroker::sdk::internal {
namespace {

constexpr uint64_t kMaxBlock = 1024;
constexpr uint64_t kBlocksPerBudget = 4096;

uint64_t NextId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

bool TryHoldSlot(std::atomic<bool>& held) {
  // A plain load first: a slot another thread holds is not written to.
  return !held.load(std::memory_order_relaxed) && !held.exchange(true, std::memory_order_acquire);
}

}  // namespace

uint64_t EncryptionLeases::BlockFor(const DekBudget& budget) {
  return std::clamp<uint64_t>(budget.max_uses / kBlocksPerBudget, 1, kMaxBlock);
}

EncryptionLeases::EncryptionLeases(EncryptionKeys* keys, const DekBudget& budget,
                                   const Clock* clock)
    : keys_(keys),
      clock_(clock),
      block_(BlockFor(budget)),
      retry_delay_(budget.retry_delay),
      id_(NextId()) {}

absl::Status EncryptionLeases::WithKey(absl::string_view alias,
                                       absl::FunctionRef<absl::Status(const EncryptionKey&)> use) {
  AliasLeases* leases = Find(alias);
  Lease& lease = leases->slots[ThisThreadIndex() % kSlots];
  if (!TryHoldSlot(lease.held)) {
    ASSIGN_OR_RETURN(std::shared_ptr<const EncryptionKey> key, keys_->Acquire(alias));
    return use(*key);
  }
  absl::Status status = Ready(alias, *leases, lease);
  if (status.ok()) {
    --lease.uses_left;
    status = use(*lease.key);
  }
  ReleaseSlot(lease.held);
  return status;
}

absl::Status EncryptionLeases::Ready(absl::string_view alias, AliasLeases& leases, Lease& lease) {
  const absl::Time now = clock_->Now();
  // Read before Reserve below: a lease renewed under this count got its DEK
  // after the Drop that set it (Drop follows the keys' drop).
  const uint64_t drops = leases.drops.load(std::memory_order_acquire);
  const bool live = lease.uses_left > 0 && lease.drops == drops;
  if (live && now < lease.check_at) return absl::OkStatus();
  if (live && now < lease.key->expires) {
    // Past the refresh age: the next DEK should be on its way. Ask again a
    // retry delay later in case this fetch fails.
    keys_->RefreshIfDue(alias);
    lease.check_at = std::min(lease.key->expires, now + retry_delay_);
    return absl::OkStatus();
  }
  // Let go of the spent DEK first: if this was its last holder, it is wiped.
  lease.key.reset();
  lease.uses_left = 0;
  ASSIGN_OR_RETURN(Reservation reservation, keys_->Reserve(alias, block_));
  lease.key = std::move(reservation.key);
  lease.uses_left = reservation.uses;
  lease.check_at = std::min(lease.key->refresh_after, lease.key->expires);
  lease.drops = drops;
  DropOthers(leases, lease.key.get());
  return absl::OkStatus();
}

void EncryptionLeases::DropOthers(AliasLeases& leases, const EncryptionKey* current) {
  DropIdle(leases, [current](const Lease& other) { return other.key.get() != current; });
}

void EncryptionLeases::Drop(absl::string_view alias) {
  AliasLeases* leases;
  {
    absl::MutexLock lock(&mu_);
    auto it = aliases_.find(alias);
    if (it == aliases_.end()) return;  // never encrypted under
    leases = it->second.get();
  }
  leases->drops.fetch_add(1, std::memory_order_release);
  // The leases in use see the new count at their next record.
  DropIdle(*leases, [](const Lease&) { return true; });
}

void EncryptionLeases::DropIdle(AliasLeases& leases, absl::FunctionRef<bool(const Lease&)> drop) {
  for (Lease& lease : leases.slots) {
    if (!TryHoldSlot(lease.held)) continue;  // the caller's, or in use: it renews itself
    if (lease.key != nullptr && drop(lease)) {
      lease.key.reset();
      lease.uses_left = 0;
    }
    ReleaseSlot(lease.held);
  }
}

EncryptionLeases::AliasLeases* EncryptionLeases::Find(absl::string_view alias) {
  // The last few aliases this thread used, across EncryptionLeases objects
  // (told apart by id_, never reused).
  struct Cached {
    uint64_t owner = 0;
    std::string alias;
    AliasLeases* leases = nullptr;
  };
  thread_local std::array<Cached, 4> cache;
  thread_local size_t next_victim = 0;
  for (const Cached& entry : cache) {
    if (entry.owner == id_ && entry.alias == alias) return entry.leases;
  }
  AliasLeases* leases;
  {
    absl::MutexLock lock(&mu_);
    auto it = aliases_.find(alias);
    if (it == aliases_.end()) {
      it = aliases_.emplace(std::string(alias), std::make_unique<AliasLeases>()).first;
    }
    leases = it->second.get();
  }
  Cached& entry = cache[next_victim++ % cache.size()];
  entry.owner = id_;
  entry.alias.assign(alias.data(), alias.size());
  entry.leases = leases;
  return leases;
}

}  // namespace keybroker::sdk::internal
