// FakeDekSource: an in-memory sdk::DekSource for SDK tests, standing in for
// the broker.
//
// GenerateDek makes a random 32-byte DEK and an EDEK that names the alias and
// a serial number plus 16 random bytes, and remembers (EDEK -> DEK, context);
// Unwrap looks the EDEK up and answers EDEK_INVALID for an unknown EDEK or
// another context, as the broker would. Calls are counted. A test can make
// every call fail (a broker that is down), or hold GenerateDek calls from the
// Nth on until it releases them (a slow broker). DekOf() shows the DEK inside
// an EDEK, for checking ciphertexts with an independent decoder. Safe for
// concurrent use.
#ifndef KEYBROKER_TESTS_FAKES_FAKE_DEK_SOURCE_H_
#define KEYBROKER_TESTS_FAKES_FAKE_DEK_SOURCE_H_

#include <climits>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
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
    std::string salt(16, '\0');
    absl::Status filled =
        crypto::FillRandom(absl::MakeSpan(reinterpret_cast<uint8_t*>(salt.data()), salt.size()));
    if (!filled.ok()) return filled;
    std::string edek = absl::StrCat("fake-edek:", key_alias, ":", call, ":", salt);
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

  mutable absl::Mutex mu_;
  std::map<std::string, Wrapped> wrapped_ ABSL_GUARDED_BY(mu_);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  int hold_from_ ABSL_GUARDED_BY(mu_) = INT_MAX;
  int held_ ABSL_GUARDED_BY(mu_) = 0;
  int generate_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int unwrap_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_FAKES_FAKE_DEK_SOURCE_H_
