#include "server/policy_reloader.h"

#include "common/file_util.h"
#include "common/log.h"
#include "server/config.h"

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
  if (status.ok() && only_if_changed) {
    if (text == seen_) {
      settling_.reset();
      return absl::OkStatus();
    }
    // A file edited in place can be read half written, and a cut that still
    // parses (a rule without its `context`) would widen access: a change
    // is taken once two polls in a row read the same bytes. (A ConfigMap
    // update swaps the whole file at once; SIGHUP takes the file as it is.)
    if (settling_ != text) {
      settling_ = text;
      return absl::OkStatus();
    }
  }
  if (status.ok()) {
    seen_ = text;
    settling_.reset();
    status = Apply(text);
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

absl::Status PolicyReloader::Apply(absl::string_view text) {
  // The whole file, as start-up judges it: a typo anywhere, an empty or
  // truncated file, is refused rather than read as "no authorization".
  absl::StatusOr<Config> config = ParseConfig(text);
  if (!config.ok()) return config.status();
  if (!config->authorization.has_value() && authorizer_->Current() != nullptr) {
    return absl::FailedPreconditionError(
        "the authorization section is gone: turning deny-by-default off takes a restart, so "
        "that no edit or half-written file can open every key to every caller");
  }
  return authorizer_->Reload(config->authorization);
}

}  // namespace keybroker::server
