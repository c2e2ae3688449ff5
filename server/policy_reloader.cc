#include "server/policy_reloader.h"

#include "common/file_util.h"
#include "common/log.h"
#include "server/config_authorization.h"

namespace keybroker::server {
namespace {

constexpr size_t kMaxConfigSize = 1 << 20;

}  // namespace

PolicyReloader::PolicyReloader(std::string config_file, Authorizer* authorizer,
                               absl::Duration interval)
    : config_file_(std::move(config_file)), authorizer_(authorizer), interval_(interval) {
  {
    absl::MutexLock lock(&mu_);
    // What start-up read (or, if the file changed since, a change seen at
    // the first poll).
    if (!ReadFileInto(config_file_, kMaxConfigSize, &seen_).ok()) seen_.clear();
  }
  thread_ = std::thread([this] { Poll(); });
}

PolicyReloader::~PolicyReloader() {
  stop_.Notify();
  thread_.join();
}

void PolicyReloader::Poll() {
  while (!stop_.WaitForNotificationWithTimeout(interval_)) {
    Reload("file_changed", /*only_if_changed=*/true).IgnoreError();
  }
}

absl::Status PolicyReloader::ReloadNow(absl::string_view trigger) {
  return Reload(trigger, /*only_if_changed=*/false);
}

absl::Status PolicyReloader::Reload(absl::string_view trigger, bool only_if_changed) {
  absl::MutexLock lock(&mu_);
  std::string text;
  absl::Status status = ReadFileInto(config_file_, kMaxConfigSize, &text);
  if (status.ok() && only_if_changed && text == seen_) return absl::OkStatus();
  if (status.ok()) {
    seen_ = text;
    absl::StatusOr<std::optional<AuthorizationConfig>> rules = ParseAuthorizationOf(text);
    status = rules.ok() ? authorizer_->Reload(*rules) : rules.status();
  } else if (only_if_changed) {
    // A file briefly missing (an editor's or a ConfigMap's swap) is not a
    // new policy; the next poll sees what replaced it.
    return absl::OkStatus();
  }
  std::shared_ptr<const AuthorizationPolicy> policy = authorizer_->Current();
  if (!status.ok()) {
    // The operator's own configuration is at fault: an error, which pages.
    log::Error("authorization_reload_failed",
               {{"file", config_file_},
                {"trigger", std::string(trigger)},
                {"error", std::string(status.message())},
                {"kept_policy_generation", policy ? policy->generation() : 0}});
    return status;
  }
  if (policy == nullptr) {
    log::Warn("authorization_reloaded",
              {{"file", config_file_},
               {"trigger", std::string(trigger)},
               {"policy", "none: every caller may use every key"}});
  } else {
    log::Info("authorization_reloaded",
              {{"file", config_file_},
               {"trigger", std::string(trigger)},
               {"policy_generation", policy->generation()},
               {"rules", policy->rule_count()},
               {"note", "only the authorization section is reloaded; other changes need a "
                        "restart"}});
  }
  return absl::OkStatus();
}

}  // namespace keybroker::server
