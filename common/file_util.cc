#include "common/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"

namespace keybroker {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::FailedPreconditionError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Closes a descriptor when it goes out of scope.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError("cannot write", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

absl::Status ReadFileInto(const std::string& path, size_t max_size, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("no such file: ", path));
    return ErrnoError("cannot open", path);
  }
  FdCloser closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError("cannot stat", path);
  if (static_cast<size_t>(st.st_size) > max_size) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is ", st.st_size, " bytes; at most ", max_size, " expected"));
  }
  out->assign(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < out->size()) {
    ssize_t n = ::read(fd, out->data() + got, out->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot read", path);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out->resize(got);
  return absl::OkStatus();
}

namespace {

// Writes `data` to a fresh temporary file beside `path`, then puts it in
// place: rename(2) over `path` when `replace`, else link(2), which fails
// when `path` exists.
absl::Status WriteThroughTemporary(const std::string& path, absl::string_view data, int mode,
                                   bool replace) {
  std::random_device random;
  std::string temp = absl::StrCat(path, ".tmp-", ::getpid(), "-", random());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError("cannot create", temp);
  FdCloser closer(fd);
  // open(2) applies the umask; the caller asked for exactly `mode`.
  absl::Status status = ::fchmod(fd, static_cast<mode_t>(mode)) == 0
                            ? WriteAll(fd, data, temp)
                            : ErrnoError("cannot chmod", temp);
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoError("cannot fsync", temp);
  if (status.ok() && ::close(closer.Release()) != 0) status = ErrnoError("cannot close", temp);
  if (status.ok() && replace && ::rename(temp.c_str(), path.c_str()) != 0) {
    status = ErrnoError("cannot rename over", path);
  }
  if (status.ok() && !replace && ::link(temp.c_str(), path.c_str()) != 0) {
    status = errno == EEXIST ? absl::AlreadyExistsError(absl::StrCat(path, " already exists"))
                             : ErrnoError("cannot create", path);
  }
  if (!status.ok() || !replace) ::unlink(temp.c_str());
  if (!status.ok()) return status;
  // The new name is durable only once the directory entry is.
  std::string dir = DirectoryOf(path);
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return ErrnoError("cannot open directory", dir);
  FdCloser dir_closer(dir_fd);
  if (::fsync(dir_fd) != 0) return ErrnoError("cannot fsync directory", dir);
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, int mode) {
  return WriteThroughTemporary(path, data, mode, /*replace=*/true);
}

absl::Status CreateFileAtomically(const std::string& path, absl::string_view data, int mode) {
  return WriteThroughTemporary(path, data, mode, /*replace=*/false);
}

absl::Status MakeDirectories(const std::string& path, int mode) {
  if (path.empty() || FileExists(path)) return absl::OkStatus();
  std::string parent = DirectoryOf(path);
  if (parent != path) {
    absl::Status status = MakeDirectories(parent, mode);
    if (!status.ok()) return status;
  }
  if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
    return ErrnoError("cannot create directory", path);
  }
  return absl::OkStatus();
}

}  // namespace keybroker
