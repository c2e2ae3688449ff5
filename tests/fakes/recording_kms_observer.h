// RecordingKmsObserver: a kms::KmsObserver that keeps every KmsRequestDone
// report as "kms/operation/OUTCOME" (OutcomeOf), and every KeyRequestDone
// report as "key_id@version/OUTCOME" ("key_id@version(current)/OUTCOME" for a
// pinned key's own version), in order, for tests to compare. Safe
// for concurrent use.
#ifndef KEYBROKER_TESTS_FAKES_RECORDING_KMS_OBSERVER_H_
#define KEYBROKER_TESTS_FAKES_RECORDING_KMS_OBSERVER_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "kms_adapters/kms_observer.h"

namespace keybroker::testing {

class RecordingKmsObserver : public kms::KmsObserver {
 public:
  void KmsRequestDone(absl::string_view kms, absl::string_view operation,
                      const absl::Status& result, absl::Duration latency) override {
    absl::MutexLock lock(&mu_);
    requests_.push_back(absl::StrCat(kms, "/", operation, "/", kms::OutcomeOf(result)));
    if (latency < absl::ZeroDuration()) negative_latency_ = true;
  }

  void KeyRequestDone(absl::string_view key_id, absl::string_view version, bool current,
                      const absl::Status& result) override {
    absl::MutexLock lock(&mu_);
    // A named version that is the key's current one (a pinned key's) is
    // marked: "key_id@version(current)/OUTCOME".
    key_requests_.push_back(absl::StrCat(key_id, "@", version,
                                         !version.empty() && current ? "(current)" : "", "/",
                                         kms::OutcomeOf(result)));
  }

  // The reports so far, e.g. {"local/wrap/OK", "local/rotate/KEYRING_READ_ONLY"}.
  std::vector<std::string> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  // The key state reports so far, e.g. {"https://v/keys/k@/KEY_NOT_ACCESSIBLE"}.
  std::vector<std::string> key_requests() const {
    absl::MutexLock lock(&mu_);
    return key_requests_;
  }
  // Whether any report came with a negative latency.
  bool negative_latency() const {
    absl::MutexLock lock(&mu_);
    return negative_latency_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> requests_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> key_requests_ ABSL_GUARDED_BY(mu_);
  bool negative_latency_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_FAKES_RECORDING_KMS_OBSERVER_H_
