// Warns about secret files (master key, TLS private key, Entra client secret,
// client certificate key) that more users than the broker's may read.
//
// A warning, not a refusal: the file is readable already, and refusing to
// start would turn a hardening hint into an outage. A file whose group may
// read it is fine when that group is the broker's own effective group: the
// Helm chart mounts Secrets 0440 with the pod's fsGroup, the broker's group.
// Lives here, beside log.h, so that crypto/ (which reads the files) stays free
// of logging; callers that read a secret file call it. Safe for concurrent
// use.
#ifndef KEYBROKER_COMMON_SECRET_FILE_PERMISSIONS_H_
#define KEYBROKER_COMMON_SECRET_FILE_PERMISSIONS_H_

#include <sys/types.h>

#include <string>

#include "absl/strings/string_view.h"

namespace keybroker {

// Returns whether permission bits `mode` let others read the file, or its
// group when `file_group` is not `own_group`.
bool ModeExposesSecret(mode_t mode, gid_t file_group, gid_t own_group);

// Logs `secret_file_readable` (warn) with `path`, `what` ("master key") and
// the octal mode when the file at `path` (links followed) is readable by more
// than the broker, as above; never its contents. Returns whether it warned;
// false also when the file cannot be looked at (reading it will say why).
bool WarnIfSecretFileExposed(const std::string& path, absl::string_view what);

}  // namespace keybroker

#endif  // KEYBROKER_COMMON_SECRET_FILE_PERMISSIONS_H_
