// Small file helpers: bounded reads and crash-safe atomic replacement.
#ifndef KEYBROKER_COMMON_FILE_UTIL_H_
#define KEYBROKER_COMMON_FILE_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keybroker {

// Returns whether `path` exists (any file type).
bool FileExists(const std::string& path);

// Reads all of `path` into `out` (replacing its contents), sized up front so
// the buffer is not regrown. NOT_FOUND if it does not exist;
// FAILED_PRECONDITION if larger than `max_size` or unreadable.
absl::Status ReadFileInto(const std::string& path, size_t max_size, std::string* out);

// Replaces `path` with `data` so that a crash leaves either the old or the new
// contents, never a mix: write a temporary file beside it, fsync it, rename it
// over `path`, fsync the directory. The file gets permission bits `mode`.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, int mode);

// Like WriteFileAtomically, but never replaces an existing `path`:
// ALREADY_EXISTS if there is one, decided atomically (link(2) of the
// temporary file), so two writers racing cannot both succeed. For files
// whose loss is unrecoverable, such as a master key.
absl::Status CreateFileAtomically(const std::string& path, absl::string_view data, int mode);

// Returns the directory part of `path` ("." when there is none, "/" for a
// file in the root).
std::string DirectoryOf(const std::string& path);

// Creates directory `path` (and missing parents) with `mode`; OK if it exists.
absl::Status MakeDirectories(const std::string& path, int mode);

}  // namespace keybroker

#endif  // KEYBROKER_COMMON_FILE_UTIL_H_
