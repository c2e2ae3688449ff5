#include "server/key_watch.h"

#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/time/clock.h"
#include "common/error_reason.h"
#include "server/error_cause.h"

namespace keybroker::server {
namespace {

v1::KeyEvent EventOf(const WatchedKey& key, const std::optional<ErrorReason>& inaccessible,
                     bool initial) {
  v1::KeyEvent event;
  event.set_key(key.alias);
  event.set_accessible(!inaccessible.has_value());
  if (inaccessible.has_value()) event.set_reason(std::string(ErrorReasonName(*inaccessible)));
  event.set_edek_key_name(key.edek_key_name);
  event.set_initial(initial);
  return event;
}

grpc::Status ShuttingDown() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the broker is shutting down");
}

}  // namespace

absl::string_view WatchEndName(WatchEnd end) {
  switch (end) {
    case WatchEnd::kCancelled: return "cancelled";
    case WatchEnd::kDeadlineExceeded: return "deadline";
    case WatchEnd::kShutdown: return "shutdown";
    case WatchEnd::kSlowClient: return "slow_client";
  }
  return "cancelled";
}

// One stream. Deletes itself when gRPC is done with it (OnDone).
class KeyWatchStream final : public grpc::ServerWriteReactor<v1::KeyEvent> {
 public:
  KeyWatchStream(KeyWatchHub* hub, std::vector<WatchedKey> keys, RuntimeKeyFilter runtime_keys,
                 std::chrono::system_clock::time_point deadline, WatchEndCallback on_end)
      : hub_(hub),
        keys_(std::move(keys)),
        runtime_keys_(std::move(runtime_keys)),
        deadline_(deadline),
        on_end_(std::move(on_end)) {}

  // Queues the opening events and listens for changes; called once, by the
  // hub, under its lock (the order of locks: hub, then KeyHealth's, then the
  // stream's, which KeyHealth's listener call takes).
  void Start(KeyHealth* health) {
    // Listen's snapshot and the listener are consistent: no change falls
    // between them.
    KeyHealth::Subscription subscription =
        health->Listen([this](const KeyState& state) { OnChange(state); });
    absl::flat_hash_map<std::string, std::optional<ErrorReason>> states;
    for (const KeyState& state : subscription.keys) states[state.key_id] = state.inaccessible;
    absl::MutexLock lock(&mu_);
    health_ = health;
    listener_ = subscription.id;
    for (const WatchedKey& key : keys_) {
      std::optional<ErrorReason> inaccessible;
      if (key.customer_managed) {
        auto it = states.find(key.key_id);
        if (it != states.end()) inaccessible = it->second;
      }
      queue_.push_back(EventOf(key, inaccessible, /*initial=*/true));
    }
    // Keys named at run time open the stream only when inaccessible: that
    // is all a client does anything with, and there can be many.
    for (const KeyState& state : subscription.keys) {
      if (!state.inaccessible.has_value()) continue;
      if (std::optional<WatchedKey> key = RuntimeKeyOf(state)) {
        queue_.push_back(EventOf(*key, state.inaccessible, /*initial=*/true));
      }
    }
    WriteNextLocked();
  }

  void End(const grpc::Status& status, WatchEnd end) {
    absl::MutexLock lock(&mu_);
    FinishLocked(status, end);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (ok) ++summary_.events_sent;
    if (finish_after_write_.has_value()) {
      Finish(*finish_after_write_);
      return;
    }
    if (!ok) {  // the client went away, or the call was cancelled
      FinishCancelledLocked();
      return;
    }
    WriteNextLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishCancelledLocked();
  }

  void OnDone() override {
    KeyHealth* health;
    uint64_t listener;
    WatchSummary summary;
    {
      absl::MutexLock lock(&mu_);
      health = health_;
      listener = listener_;
      summary = summary_;
    }
    // No listener call after Unlisten returns; then nothing refers to this.
    if (health != nullptr) health->Unlisten(listener);
    // What `on_end_` uses outlives the hub, and the hub this stream.
    if (on_end_) on_end_(summary);
    hub_->Remove(this);
    delete this;
  }

 private:
  void OnChange(const KeyState& state) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    bool listed = false;
    for (const WatchedKey& key : keys_) {
      if (!key.customer_managed || key.key_id != state.key_id) continue;
      listed = true;
      if (!QueueLocked(EventOf(key, state.inaccessible, /*initial=*/false))) return;
    }
    if (!listed) {
      if (std::optional<WatchedKey> key = RuntimeKeyOf(state)) {
        if (!QueueLocked(EventOf(*key, state.inaccessible, /*initial=*/false))) return;
      }
    }
    WriteNextLocked();
  }

  // Queues `event`, or ends the stream of a client that reads too slowly
  // (false).
  bool QueueLocked(v1::KeyEvent event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (queue_.size() >= KeyWatchHub::kMaxQueuedEvents) {
      FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                "the client reads key events too slowly; reconnect"),
                   WatchEnd::kSlowClient);
      return false;
    }
    queue_.push_back(std::move(event));
    return true;
  }

  // The key named at run time that `state` is, if this stream carries it.
  std::optional<WatchedKey> RuntimeKeyOf(const KeyState& state) const {
    if (!runtime_keys_ || !state.runtime || state.aliases.empty()) return std::nullopt;
    const std::string& uri_name = state.aliases.front();  // a runtime key's one name
    if (!runtime_keys_(uri_name)) return std::nullopt;
    return WatchedKey{.alias = uri_name,
                      .key_id = state.key_id,
                      .edek_key_name = state.edek_key_name,
                      .customer_managed = true};
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || queue_.empty()) return;
    // The message must live until OnWriteDone.
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }

  // gRPC cancels the call both when the client cancels (or goes away) and
  // when the client's deadline passes: the deadline tells which.
  void FinishCancelledLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (AtCallerDeadline(deadline_, absl::Now())) {
      FinishLocked(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                "the client's deadline passed"),
                   WatchEnd::kDeadlineExceeded);
    } else {
      FinishLocked(grpc::Status::CANCELLED, WatchEnd::kCancelled);
    }
  }

  // Finishes once: now, or after the write in flight.
  void FinishLocked(const grpc::Status& status, WatchEnd end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    summary_.status = status;
    summary_.end = end;
    queue_.clear();
    if (writing_) {
      finish_after_write_ = status;
    } else {
      Finish(status);
    }
  }

  KeyWatchHub* const hub_;
  const std::vector<WatchedKey> keys_;
  const RuntimeKeyFilter runtime_keys_;
  const std::chrono::system_clock::time_point deadline_;
  const WatchEndCallback on_end_;
  absl::Mutex mu_;
  KeyHealth* health_ ABSL_GUARDED_BY(mu_) = nullptr;
  uint64_t listener_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<v1::KeyEvent> queue_ ABSL_GUARDED_BY(mu_);
  v1::KeyEvent current_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_after_write_ ABSL_GUARDED_BY(mu_);
  // Until the stream finishes, a client that goes away without a word.
  WatchSummary summary_ ABSL_GUARDED_BY(mu_) = {.status = grpc::Status::CANCELLED};
};

grpc::ServerWriteReactor<v1::KeyEvent>* KeyWatchHub::Open(
    std::vector<WatchedKey> keys, RuntimeKeyFilter runtime_keys,
    std::chrono::system_clock::time_point deadline, WatchEndCallback on_end) {
  auto* stream = new KeyWatchStream(this, std::move(keys), std::move(runtime_keys), deadline,
                                    std::move(on_end));
  // Under the lock: Close cannot end the stream (and gRPC cannot be done
  // with it) while it starts.
  absl::MutexLock lock(&mu_);
  streams_.insert(stream);
  if (closed_) {
    stream->End(ShuttingDown(), WatchEnd::kShutdown);
  } else {
    stream->Start(health_);
  }
  return stream;
}

void KeyWatchHub::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (KeyWatchStream* stream : streams_) stream->End(ShuttingDown(), WatchEnd::kShutdown);
}

void KeyWatchHub::Remove(KeyWatchStream* stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(stream);
}

size_t KeyWatchHub::open_streams() const {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

}  // namespace keybroker::server
