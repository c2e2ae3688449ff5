#include "absl/strings/match.h"
#include "kms_adapters/azure/http_client.h"

namespace keybroker::kms::azure {

std::string HttpResponse::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

}  // namespace keybroker::kms::azure
