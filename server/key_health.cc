#include "server/key_health.h"

#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "common/log.h"

namespace keybroker::server {
namespace {

// The reasons that describe the key's own state (customer-caused).
std::optional<ErrorReason> KeyStateReason(const absl::Status& status) {
  std::optional<ErrorReason> reason = ReasonOf(status);
  if (reason == ErrorReason::kKeyNotAccessible || reason == ErrorReason::kKeyDisabled ||
      reason == ErrorReason::kKeyNotFound) {
    return reason;
  }
  return std::nullopt;
}

constexpr ErrorReason kKeyStateReasons[] = {ErrorReason::kKeyNotAccessible,
                                            ErrorReason::kKeyDisabled, ErrorReason::kKeyNotFound};

}  // namespace

void KeyHealth::Track(const KeyRegistry& registry) {
  // The KMSs are asked before the lock is taken: a KMS tells KeyAdded while
  // holding its own lock, so holding ours while calling it could deadlock.
  std::vector<std::pair<const BoundKey*, absl::StatusOr<std::string>>> keys;
  for (const BoundKey& bound : registry.bindings()) {
    if (bound.kms->kind() == crypto::EdekKms::kLocal) continue;
    keys.emplace_back(&bound, bound.kms->EdekKeyNameOf(bound.key_id));
  }
  absl::MutexLock lock(&mu_);
  for (auto& [bound, edek_name] : keys) {
    Key& key = keys_[bound->key_id];
    key.key_id = bound->key_id;
    if (edek_name.ok()) key.edek_key_name = *std::move(edek_name);
    key.aliases.push_back(bound->alias);
  }
  PublishLocked();
}

void KeyHealth::KeyRequestDone(absl::string_view key_id, absl::string_view version,
                               bool current, const absl::Status& result) {
  std::optional<ErrorReason> reason = KeyStateReason(result);
  if (!result.ok() && !reason.has_value()) return;  // says nothing about the key
  // A version the vault does not know says nothing about the key either:
  // anyone can put a made-up version in an EDEK. A deleted key is told by a
  // request for its current version (the latest, or the version the key is
  // pinned to), which every wrap's metadata refresh, the access probe and
  // the start-up checks make.
  if (reason == ErrorReason::kKeyNotFound && !current) return;
  // Nor does a disabled old version: a customer retiring a version disables
  // it while the key serves on. A disabled current version is seen by the
  // requests for the current version (wraps' refreshes, the access probe);
  // for a pinned key that is the pinned version, so disabling it marks the
  // key.
  if (reason == ErrorReason::kKeyDisabled && !current) return;
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(key_id);
  if (it == keys_.end()) return;
  Key& key = it->second;
  if (key.inaccessible == reason) return;
  // What only the current version can tell (disabled, deleted) only its
  // success clears: an old version unwrapping while the current one is
  // disabled must not flap the key back to accessible at every read.
  const bool current_state = key.inaccessible == ErrorReason::kKeyDisabled ||
                             key.inaccessible == ErrorReason::kKeyNotFound;
  if (!reason.has_value() && !current && current_state) return;
  const std::optional<ErrorReason> before = key.inaccessible;
  key.inaccessible = reason;
  PublishLocked();
  for (const auto& [id, listener] : listeners_) listener(key);
  const std::string aliases = absl::StrJoin(key.aliases, ",");
  if (reason.has_value()) {
    log::Warn("customer_key_inaccessible",
              {{"alias", aliases},
               {"key_id", std::string(key_id)},
               {"version", std::string(version)},
               {"reason", std::string(ErrorReasonName(*reason))},
               {"kms_request_id", KmsRequestIdOf(result)},
               {"cause", "customer"},
               {"message", std::string(result.message())}});
  } else {
    log::Info("customer_key_recovered",
              {{"alias", aliases},
               {"key_id", std::string(key_id)},
               {"version", std::string(version)},
               {"previous_reason", std::string(ErrorReasonName(*before))},
               {"cause", "customer"}});
  }
}

void KeyHealth::KeyAdded(absl::string_view key_id, absl::string_view edek_key_name) {
  absl::MutexLock lock(&mu_);
  Key& key = keys_[key_id];
  if (!key.key_id.empty()) return;  // a configured key, or added before
  key.key_id = std::string(key_id);
  key.edek_key_name = std::string(edek_key_name);
  key.aliases.push_back(key.key_id);
  key.runtime = true;
}

void KeyHealth::KeyRemoved(absl::string_view key_id) {
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(key_id);
  if (it == keys_.end() || !it->second.runtime) return;
  const bool counted = it->second.inaccessible.has_value();
  keys_.erase(it);
  if (counted) PublishLocked();
}

std::optional<ErrorReason> KeyHealth::InaccessibleReason(absl::string_view alias) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [key_id, key] : keys_) {
    for (const std::string& a : key.aliases) {
      if (a == alias) return key.inaccessible;
    }
  }
  return std::nullopt;
}

KeyHealth::Subscription KeyHealth::Listen(Listener listener) {
  absl::MutexLock lock(&mu_);
  Subscription subscription;
  subscription.id = next_listener_++;
  listeners_[subscription.id] = std::move(listener);
  for (const auto& [key_id, key] : keys_) subscription.keys.push_back(key);
  return subscription;
}

void KeyHealth::Unlisten(uint64_t id) {
  absl::MutexLock lock(&mu_);
  listeners_.erase(id);
}

void KeyHealth::PublishLocked() {
  if (metrics_ == nullptr) return;
  for (ErrorReason reason : kKeyStateReasons) {
    int count = 0;
    for (const auto& [key_id, key] : keys_) count += key.inaccessible == reason ? 1 : 0;
    metrics_->SetKeysInaccessible(reason, count);
  }
  for (const auto& [key_id, key] : keys_) {
    if (key.runtime) continue;  // its alias is a URI
    for (const std::string& alias : key.aliases) {
      metrics_->SetKeyAccessible(alias, !key.inaccessible.has_value());
    }
  }
}

}  // namespace keybroker::server
