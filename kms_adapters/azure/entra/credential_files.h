// CredentialFiles<T>: what an Entra credential is made from (a client secret,
// a client certificate and its key), read from files and read again when they
// change, so that rotating a secret or certificate needs no restart.
//
// Current() looks at the files' metadata (common/file_stamp.h) and, when it
// differs from the last look, loads them again for this and later token
// requests. Token requests are rare (about one an hour per scope), so looking
// at each one costs nothing. A new version that cannot be read or is invalid
// (half-written, a key that does not match the certificate) is logged as
// `entra_credential_reload_failed` (warn; the files and the error, never their
// contents) and the last good value stays in use; it is tried again when the
// files change again. A reload is logged as `entra_credential_reloaded`
// (info). Safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CREDENTIAL_FILES_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CREDENTIAL_FILES_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/file_stamp.h"

namespace keybroker::kms::azure {

namespace internal {

std::vector<FileStamp> StampsOf(const std::vector<std::string>& paths);
void LogReloaded(const std::string& what, const std::vector<std::string>& paths);
void LogReloadFailed(const std::string& what, const std::vector<std::string>& paths,
                     const absl::Status& error);

}  // namespace internal

template <typename T>
class CredentialFiles {
 public:
  // Reads `paths` into a T (and checks it); called again on each change.
  using Loader = std::function<absl::StatusOr<T>()>;

  // Loads `paths` with `load` now. Returns its error, so that a wrong file
  // fails at start. `what` names the credential in log lines ("entra client
  // secret").
  static absl::StatusOr<std::unique_ptr<CredentialFiles>> Load(std::vector<std::string> paths,
                                                                std::string what, Loader load) {
    // Stamped before reading: a change during the read is seen next time.
    std::vector<FileStamp> stamps = internal::StampsOf(paths);
    absl::StatusOr<T> value = load();
    if (!value.ok()) return value.status();
    return std::unique_ptr<CredentialFiles>(
        new CredentialFiles(std::move(paths), std::move(what), std::move(load), std::move(stamps),
                            std::make_shared<const T>(*std::move(value))));
  }

  // A value that comes from no file and never changes.
  static std::unique_ptr<CredentialFiles> Fixed(T value) {
    return std::unique_ptr<CredentialFiles>(new CredentialFiles(
        {}, "", nullptr, {}, std::make_shared<const T>(std::move(value))));
  }

  // Returns the value to use now, loaded again first if the files changed.
  std::shared_ptr<const T> Current() {
    absl::MutexLock lock(&mu_);
    if (paths_.empty()) return current_;
    std::vector<FileStamp> stamps = internal::StampsOf(paths_);
    if (stamps == seen_) return current_;
    seen_ = std::move(stamps);
    absl::StatusOr<T> value = load_();
    if (!value.ok()) {
      internal::LogReloadFailed(what_, paths_, value.status());
      return current_;
    }
    current_ = std::make_shared<const T>(*std::move(value));
    internal::LogReloaded(what_, paths_);
    return current_;
  }

 private:
  CredentialFiles(std::vector<std::string> paths, std::string what, Loader load,
                  std::vector<FileStamp> seen, std::shared_ptr<const T> current)
      : paths_(std::move(paths)),
        what_(std::move(what)),
        load_(std::move(load)),
        seen_(std::move(seen)),
        current_(std::move(current)) {}

  // Set at construction.
  const std::vector<std::string> paths_;
  const std::string what_;
  const Loader load_;

  absl::Mutex mu_;
  std::vector<FileStamp> seen_ ABSL_GUARDED_BY(mu_);  // at the last look
  std::shared_ptr<const T> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_ENTRA_CREDENTIAL_FILES_H_
