// Parsing of the kms.azure section and the azure fields of keys[] (split
// from config.cc to keep each file to one job).
#ifndef KEYBROKER_SERVER_CONFIG_AZURE_H_
#define KEYBROKER_SERVER_CONFIG_AZURE_H_

#include "absl/status/status.h"
#include "server/config.h"
#include "server/yaml_fields.h"

namespace keybroker::server {

// Reads kms.azure from `kms` into `out`.
absl::Status ParseAzureSection(YamlObject& kms, AzureConfig* out);

// Reads a TLS trust block ({ca_file, insecure_skip_verify}) at `key`.
absl::Status ParseTlsTrust(YamlObject& parent, const std::string& key, TlsTrustConfig* out);

// Checks the azure fields of keys[i] against the azure section.
absl::Status ValidateAzureBinding(const Config& config, size_t i);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_CONFIG_AZURE_H_
