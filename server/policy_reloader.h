// PolicyReloader: puts a changed `authorization` section in force without a
// restart. It re-reads the configuration file when told (SIGHUP: main calls
// ReloadNow) and when the file's contents change (polled, so that a
// Kubernetes ConfigMap update, which swaps a symlink, is seen too).
//
// Only the authorization section is read from the new file (the rest, and
// what command-line flags override in it, takes effect only at start; the
// log line says so). A file that is not YAML, or rules that do not make a
// policy, are refused with an error line and the policy in force stays.
// Safe for concurrent use.
#ifndef KEYBROKER_SERVER_POLICY_RELOADER_H_
#define KEYBROKER_SERVER_POLICY_RELOADER_H_

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

  const std::string config_file_;
  Authorizer* const authorizer_;
  const absl::Duration interval_;
  absl::Mutex mu_;  // one reload at a time
  std::string seen_ ABSL_GUARDED_BY(mu_);  // the file's contents last read
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_POLICY_RELOADER_H_
