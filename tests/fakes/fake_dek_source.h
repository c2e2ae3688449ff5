// FakeDekSource: an in-memory sdk::DekSource for SDK tests, standing in for
// the broker.
//
// GenerateDek makes a random 32-byte DEK and a well-formed EDEK
// (crypto/edek.h: a local key named as the alias, the serial number as its
// version, 16 random bytes as the wrapped key), and remembers (EDEK -> DEK,
// context); Unwrap looks the EDEK up and answers EDEK_INVALID for an unknown
// EDEK or another context, as the broker would. Calls are counted. A test can
// make every call fail (a broker that is down), or hold GenerateDek calls
// from the Nth on until it releases them (a slow broker). DekOf() shows the
// DEK inside an EDEK, for checking ciphertexts with an independent decoder.
// WatchKeys works (unless CannotWatch()): Announce() calls every watch's
// callback at once, on the announcing thread. Safe for concurrent use.
#ifndef KEYBROKER_TESTS_FAKES_FAKE_DEK_SOURCE_H_
#define KEYBROKER_TESTS_FAKES_FAKE_DEK_SOURCE_H_

#include <climits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "crypto/edek.h"
#include "crypto/random.h"
#include "crypto/secret_bytes.h"
#include "keybroker/sdk/dek_source.h"

namespace keybroker::testing {

class FakeDekSource : public sdk::DekSource {
 public:
  absl::StatusOr<sdk::DataKey> GenerateDek(absl::string_view key_alias,
                                           const sdk::Context& context) override {
    absl::MutexLock lock(&mu_);
    const int call = ++generate_calls_;
    if (call >= hold_from_) {
      ++held_;
      auto released = [this, call]()
                          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return call < hold_from_; };
      mu_.Await(absl::Condition(&released));
      --held_;
    }
    if (!failure_.ok()) return failure_;
    absl::StatusOr<crypto::SecretBytes> dek = crypto::RandomSecret(32);
    if (!dek.ok()) return dek.status();
    crypto::Edek fields;
    fields.key_name = std::string(key_alias);
    fields.key_version = absl::StrCat(call);
    fields.wrapped.resize(16);
    absl::Status filled = crypto::FillRandom(
        absl::MakeSpan(reinterpret_cast<uint8_t*>(fields.wrapped.data()), fields.wrapped.size()));
    if (!filled.ok()) return filled;
    absl::StatusOr<std::string> encoded = crypto::EncodeEdek(fields);
    if (!encoded.ok()) return encoded.status();
    std::string edek = std::move(*encoded);
    wrapped_.emplace(edek, Wrapped{dek->Clone(), context});
    return sdk::DataKey{std::move(*dek), std::move(edek), absl::StrCat(call)};
  }

  absl::StatusOr<crypto::SecretBytes> Unwrap(absl::string_view edek,
                                             const sdk::Context& context) override {
    absl::MutexLock lock(&mu_);
    ++unwrap_calls_;
    if (!failure_.ok()) return failure_;
    auto it = wrapped_.find(std::string(edek));
    if (it == wrapped_.end()) return EdekInvalid("fake: unknown EDEK");
    if (it->second.context != context) return EdekInvalid("fake: wrong encryption context");
    return it->second.dek.Clone();
  }

  std::unique_ptr<sdk::KeyWatch> WatchKeys(const std::vector<std::string>& keys,
                                           sdk::KeyEventCallback on_event) override {
    absl::MutexLock lock(&watch_mu_);
    if (!can_watch_) return nullptr;
    auto watch = std::make_unique<Watch>(this, std::move(on_event));
    watches_.insert(watch.get());
    return watch;
  }

  // Calls the callback of every watch now open with `event`.
  void Announce(const sdk::KeyEvent& event) {
    absl::MutexLock lock(&watch_mu_);
    for (Watch* watch : watches_) watch->on_event(event);
  }

  // WatchKeys returns nullptr from now on, as an in-process source does.
  void CannotWatch() {
    absl::MutexLock lock(&watch_mu_);
    can_watch_ = false;
  }

  int open_watches() const {
    absl::MutexLock lock(&watch_mu_);
    return static_cast<int>(watches_.size());
  }

  // Makes every later call fail with `status` after counting it (and after
  // any hold); OkStatus() makes them succeed again.
  void FailWith(absl::Status status) {
    absl::MutexLock lock(&mu_);
    failure_ = std::move(status);
  }

  // Holds GenerateDek calls number `call` (1-based) and later until Release().
  void HoldGenerateFrom(int call) {
    absl::MutexLock lock(&mu_);
    hold_from_ = call;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    hold_from_ = INT_MAX;
  }

  // Waits until `n` GenerateDek calls are held; false after `timeout`.
  bool AwaitHeld(int n, absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return held_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

  // Waits until `n` GenerateDek calls have started; false after `timeout`.
  bool AwaitGenerateCalls(int n, absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return generate_calls_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

  int generate_calls() const {
    absl::MutexLock lock(&mu_);
    return generate_calls_;
  }
  int unwrap_calls() const {
    absl::MutexLock lock(&mu_);
    return unwrap_calls_;
  }

  // The DEK inside `edek`, or nullopt for an EDEK this source never made.
  std::optional<crypto::SecretBytes> DekOf(absl::string_view edek) const {
    absl::MutexLock lock(&mu_);
    auto it = wrapped_.find(std::string(edek));
    if (it == wrapped_.end()) return std::nullopt;
    return it->second.dek.Clone();
  }

 private:
  struct Wrapped {
    crypto::SecretBytes dek;
    sdk::Context context;
  };

  // Open from WatchKeys to its destruction; Announce calls it under
  // watch_mu_, so none is called once its destructor returned.
  struct Watch : sdk::KeyWatch {
    Watch(FakeDekSource* source, sdk::KeyEventCallback callback)
        : source(source), on_event(std::move(callback)) {}
    ~Watch() override {
      absl::MutexLock lock(&source->watch_mu_);
      source->watches_.erase(this);
    }
    absl::Status status() const override { return absl::OkStatus(); }
    bool stopped() const override { return false; }

    FakeDekSource* const source;
    const sdk::KeyEventCallback on_event;
  };

  mutable absl::Mutex mu_;
  std::map<std::string, Wrapped> wrapped_ ABSL_GUARDED_BY(mu_);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  int hold_from_ ABSL_GUARDED_BY(mu_) = INT_MAX;
  int held_ ABSL_GUARDED_BY(mu_) = 0;
  int generate_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int unwrap_calls_ ABSL_GUARDED_BY(mu_) = 0;

  // Apart from mu_: a callback may call into the source.
  mutable absl::Mutex watch_mu_;
  std::set<Watch*> watches_ ABSL_GUARDED_BY(watch_mu_);
  bool can_watch_ ABSL_GUARDED_BY(watch_mu_) = true;
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_FAKES_FAKE_DEK_SOURCE_H_
