// PolicyReloader: puts a changed `authorization` section in force without a
// restart. It re-reads the configuration file when told (SIGHUP: main calls
// ReloadNow) and when the file's contents change (polled, so that a
// Kubernetes ConfigMap update, which swaps a symlink, is seen too).
//
// The new file is parsed and validated whole, as at start, but only its
// authorization section is taken (the rest, and what command-line flags
// override in it, takes effect only at start; the log line says so). A file
// that does not validate, rules that do not make a policy, or a file without
// the section while a policy is in force (deny-by-default is turned off
// only by a restart) are refused with an error line, and the policy in force
// stays. A changed file is taken once two polls in a row read the same
// contents, never half written. Safe for concurrent use.
#ifndef KEYBROKER_SERVER_POLICY_RELOADER_H_
#define KEYBROKER_SERVER_POLICY_RELOADER_H_

#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/authorizer.h"

namespace keybroker::server {

class PolicyReloader {
 public:
  // Polls `config_file` every `interval`; `authorizer` must outlive this.
  // The file's current contents are taken as already in force.
  PolicyReloader(std::string config_file, Authorizer* authorizer, absl::Duration interval);
  ~PolicyReloader();
  PolicyReloader(const PolicyReloader&) = delete;
  PolicyReloader& operator=(const PolicyReloader&) = delete;

  // Reloads now, whether or not the file changed; `trigger` is logged
  // ("signal", "file_changed"). The error when the new policy was refused.
  absl::Status ReloadNow(absl::string_view trigger);

 private:
  void Poll();
  absl::Status Reload(absl::string_view trigger, bool only_if_changed);
  // Puts the authorization section of the file's `text` in force.
  absl::Status Apply(absl::string_view text) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string config_file_;
  Authorizer* const authorizer_;
  const absl::Duration interval_;
  absl::Mutex mu_;  // one reload at a time
  std::string seen_ ABSL_GUARDED_BY(mu_);  // the file's contents last taken
  // Changed contents read by the last poll, taken if the next reads them too.
  std::optional<std::string> settling_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_POLICY_RELOADER_H_
