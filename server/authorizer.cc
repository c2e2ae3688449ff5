#include "server/authorizer.h"

#include "common/log.h"
#include "common/status_macros.h"

namespace keybroker::server {

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Create(
    const std::optional<AuthorizationConfig>& config) {
  std::unique_ptr<Authorizer> authorizer(new Authorizer());
  RETURN_IF_ERROR(authorizer->Reload(config));
  return authorizer;
}

std::shared_ptr<const AuthorizationPolicy> Authorizer::Current() const {
  absl::ReaderMutexLock lock(&mu_);
  return policy_;
}

absl::Status Authorizer::Reload(const std::optional<AuthorizationConfig>& config) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<const AuthorizationPolicy> policy;
  if (config.has_value()) {
    ASSIGN_OR_RETURN(policy, AuthorizationPolicy::Create(*config, generation_ + 1));
  }
  ++generation_;
  policy_ = std::move(policy);
  return absl::OkStatus();
}

}  // namespace keybroker::server
