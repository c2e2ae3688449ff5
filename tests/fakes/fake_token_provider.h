// FakeTokenProvider: a kms::azure::TokenProvider that behaves like a token
// cache without Entra ID. It hands out "token-N", where N starts at 1 and
// goes up by one after each Invalidate (a cache answers with the same token
// until told the vault rejected it). It counts Token and Invalidate calls,
// records the scopes it was asked for, and can be told to fail. Safe for
// concurrent use.
#ifndef KEYBROKER_TESTS_FAKES_FAKE_TOKEN_PROVIDER_H_
#define KEYBROKER_TESTS_FAKES_FAKE_TOKEN_PROVIDER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "crypto/secret_bytes.h"
#include "kms_adapters/azure/key_vault_client.h"

namespace keybroker::testing {

class FakeTokenProvider : public kms::azure::TokenProvider {
 public:
  absl::StatusOr<crypto::SecretBytes> Token(absl::string_view scope, absl::Time deadline) override {
    absl::MutexLock lock(&mu_);
    ++token_calls_;
    scopes_.emplace_back(scope);
    last_deadline_ = deadline;
    if (!error_.ok()) return error_;
    return crypto::SecretBytes::CopyFrom(absl::StrCat("token-", generation_));
  }

  void Invalidate(absl::string_view scope) override {
    absl::MutexLock lock(&mu_);
    ++invalidate_calls_;
    invalidated_scopes_.emplace_back(scope);
    ++generation_;
  }

  // Makes every following Token call fail with `error` (OK: succeed again).
  void FailWith(absl::Status error) {
    absl::MutexLock lock(&mu_);
    error_ = std::move(error);
  }

  int token_calls() const {
    absl::MutexLock lock(&mu_);
    return token_calls_;
  }
  int invalidate_calls() const {
    absl::MutexLock lock(&mu_);
    return invalidate_calls_;
  }
  // The scope of every Token / Invalidate call, in order.
  std::vector<std::string> scopes() const {
    absl::MutexLock lock(&mu_);
    return scopes_;
  }
  std::vector<std::string> invalidated_scopes() const {
    absl::MutexLock lock(&mu_);
    return invalidated_scopes_;
  }
  absl::Time last_deadline() const {
    absl::MutexLock lock(&mu_);
    return last_deadline_;
  }

 private:
  mutable absl::Mutex mu_;
  int generation_ ABSL_GUARDED_BY(mu_) = 1;
  int token_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int invalidate_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> scopes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> invalidated_scopes_ ABSL_GUARDED_BY(mu_);
  absl::Time last_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_FAKES_FAKE_TOKEN_PROVIDER_H_
