// Authorizer: the broker's current authorization policy, replaced whole when
// the configuration is reloaded (SIGHUP or a changed file,
// server/config_watcher.h). A policy that does not load is refused and the
// old one stays.
//
// Without an `authorization` section there is no policy: every caller may
// use every key (the broker warns at start). Safe for concurrent use.
#ifndef KEYBROKER_SERVER_AUTHORIZER_H_
#define KEYBROKER_SERVER_AUTHORIZER_H_

#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/authorization_config.h"
#include "server/authorization_policy.h"

namespace keybroker::server {

class Authorizer {
 public:
  // INVALID_ARGUMENT naming the field when `config` does not make a policy.
  static absl::StatusOr<std::unique_ptr<Authorizer>> Create(
      const std::optional<AuthorizationConfig>& config);

  // The policy in force; null when every caller may use every key.
  std::shared_ptr<const AuthorizationPolicy> Current() const;

  // Builds a policy from `config` (nullopt: none) and puts it in force; on
  // error keeps the one in force and returns why.
  absl::Status Reload(const std::optional<AuthorizationConfig>& config);

 private:
  Authorizer() = default;

  mutable absl::Mutex mu_;
  std::shared_ptr<const AuthorizationPolicy> policy_ ABSL_GUARDED_BY(mu_);
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_AUTHORIZER_H_
