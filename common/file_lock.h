// FileLock: an exclusive advisory lock (flock) held for the object's life.
//
// Guards state that only one process may write, such as the local keyring:
// a second broker on the same data directory must refuse to start rather
// than overwrite versions the first one made.
#ifndef KEYBROKER_COMMON_FILE_LOCK_H_
#define KEYBROKER_COMMON_FILE_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace keybroker {

class FileLock {
 public:
  // Creates `path` if needed and locks it without waiting. FAILED_PRECONDITION
  // if another holder (any process, or another FileLock here) has it.
  static absl::StatusOr<std::unique_ptr<FileLock>> Acquire(const std::string& path);

  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace keybroker

#endif  // KEYBROKER_COMMON_FILE_LOCK_H_
