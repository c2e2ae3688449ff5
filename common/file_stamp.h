// FileStamp: what a file's metadata says about which version of it is there,
// to notice a change without reading the file: device and inode change when
// the file is replaced (rename, or a Kubernetes Secret's swapped link), size
// and modification and status-change times when it is rewritten in place.
// A value type; StampOf is safe for concurrent use.
#ifndef KEYBROKER_COMMON_FILE_STAMP_H_
#define KEYBROKER_COMMON_FILE_STAMP_H_

#include <cstdint>
#include <string>

namespace keybroker {

struct FileStamp {
  bool exists = false;
  uint64_t device = 0, inode = 0;
  int64_t size = 0;
  int64_t modified_ns = 0, changed_ns = 0;

  bool operator==(const FileStamp& other) const;
  bool operator!=(const FileStamp& other) const { return !(*this == other); }
};

// Returns the stamp of `path`, links followed; exists is false when the file
// cannot be looked at (missing, or a directory on the way unreadable).
FileStamp StampOf(const std::string& path);

}  // namespace keybroker

#endif  // KEYBROKER_COMMON_FILE_STAMP_H_
