#include "common/secret_file_permissions.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "common/log.h"

namespace keybroker {

bool ModeExposesSecret(mode_t mode, gid_t file_group, gid_t own_group) {
  if ((mode & S_IROTH) != 0) return true;
  return (mode & S_IRGRP) != 0 && file_group != own_group;
}

bool WarnIfSecretFileExposed(const std::string& path, absl::string_view what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  if (!ModeExposesSecret(st.st_mode, st.st_gid, ::getegid())) return false;
  char mode[8];
  std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
  log::Warn("secret_file_readable",
            {{"file", path},
             {"secret", std::string(what)},
             {"mode", mode},
             {"message", "readable by group or others: make it 0600, or 0440 with the broker's "
                         "own group"}});
  return true;
}

}  // namespace keybroker
