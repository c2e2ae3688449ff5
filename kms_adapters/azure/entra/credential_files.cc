#include "kms_adapters/azure/entra/credential_files.h"

#include "common/log.h"

namespace keybroker::kms::azure::internal {

std::vector<FileStamp> StampsOf(const std::vector<std::string>& paths) {
  std::vector<FileStamp> stamps;
  stamps.reserve(paths.size());
  for (const std::string& path : paths) stamps.push_back(StampOf(path));
  return stamps;
}

void LogReloaded(const std::string& what, const std::vector<std::string>& paths) {
  log::Info("entra_credential_reloaded", {{"credential", what}, {"files", paths}});
}

void LogReloadFailed(const std::string& what, const std::vector<std::string>& paths,
                     const absl::Status& error) {
  log::Warn("entra_credential_reload_failed",
            {{"credential", what},
             {"files", paths},
             {"error", std::string(error.message())},
             {"message", "the previous one is still used"}});
}

}  // namespace keybroker::kms::azure::internal
