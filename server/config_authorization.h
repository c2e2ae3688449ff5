// Parsing of the configuration's `authorization` section (config.cc calls it).
#ifndef KEYBROKER_SERVER_CONFIG_AUTHORIZATION_H_
#define KEYBROKER_SERVER_CONFIG_AUTHORIZATION_H_

#include <optional>

#include "absl/status/status.h"
#include "server/authorization_config.h"
#include "server/yaml_fields.h"

namespace keybroker::server {

// Reads `authorization` from `root` into `out` (left empty when absent).
// INVALID_ARGUMENT naming the field for anything malformed, including rules
// the policy could not enforce (AuthorizationPolicy::Create's checks).
absl::Status ParseAuthorization(YamlObject& root, std::optional<AuthorizationConfig>* out);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_CONFIG_AUTHORIZATION_H_
