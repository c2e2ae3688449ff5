#include "server/azure_tls_trust.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace keybroker::server {

absl::StatusOr<kms::azure::TlsTrust> AzureTlsTrust(const TlsTrustConfig& config,
                                                   absl::string_view path) {
  if (config.insecure_skip_verify) {
    const char* allowed = std::getenv(kAllowInsecureTlsEnv);
    if (allowed == nullptr || std::string(allowed) != "1") {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".insecure_skip_verify is for tests only and is refused unless ",
                       kAllowInsecureTlsEnv, "=1 is set"));
    }
    log::Warn("insecure_tls",
              {{"field", std::string(path)}, {"message", "TLS certificates are NOT verified"}});
  }
  return kms::azure::TlsTrust{config.ca_file, config.insecure_skip_verify};
}

}  // namespace keybroker::server
