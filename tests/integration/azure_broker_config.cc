#include "tests/integration/azure_broker_config.h"

#include "absl/strings/str_cat.h"
#include "tests/testing/files.h"

namespace keybroker::testing {

absl::StatusOr<std::unique_ptr<KeyVaultEmulator>> StartEmulatorWithSecretPrincipal(
    const std::string& dir, const std::string& secret) {
  absl::StatusOr<std::unique_ptr<KeyVaultEmulator>> emulator = KeyVaultEmulator::Start(
      {"--vault", "kv1", "--hsm", "hsm1", "--entra", "--separate-entra-ca"}, dir);
  if (!emulator.ok()) return emulator.status();
  absl::StatusOr<nlohmann::json> registered = (*emulator)->Control(
      "register-principal", {{"tenant", kAzureTenant},
                             {"client_id", kAzureClientId},
                             {"client_secret", secret},
                             {"hosts", {"kv1", "hsm1"}}});
  if (!registered.ok()) return registered.status();
  WriteAll(dir + "/client-id", std::string(kAzureClientId) + "\n");
  WriteAll(dir + "/client-secret", secret + "\n");
  return emulator;
}

std::string AzureBrokerConfig(const KeyVaultEmulator& emulator,
                              const AzureBrokerConfigOptions& options) {
  return absl::StrCat(
      "listen: 127.0.0.1:0\n", options.more_settings,
      "cache: { metadata_ttl_seconds: ", options.cache_ttl_seconds,
      ", unwrap_ttl_seconds: ", options.cache_ttl_seconds, options.more_cache, " }\n"
      "kms:\n", options.more_kms,
      "  azure:\n"
      "    key_vault_tls: { ca_file: ", options.kv_ca_file, " }\n"
      "    request_timeout_seconds: 5\n"
      "    identities:\n"
      "      app:\n"
      "        tenant_id: ", kAzureTenant, "\n"
      "        client_id: { password_file: ", options.secrets_dir, "/client-id }\n"
      "        client_secret: { password_file: ", options.secrets_dir, "/client-secret }\n"
      "        oauth_endpoint_url: ", emulator.Url("entra"), "\n"
      "        tls: { ca_file: ", emulator.entra_ca_file(), " }\n",
      options.more_identities, options.more_azure, "keys:\n", options.keys);
}

std::string AzureKeyConfig(const KeyVaultEmulator& emulator, const std::string& alias,
                           const std::string& host, const std::string& name,
                           const std::string& identity, bool managed_hsm,
                           const std::string& more) {
  return absl::StrCat("  - alias: ", alias, "\n    azure_key: ", emulator.Url(host), "/keys/",
                      name, "\n    identity: ", identity,
                      "\n    vault_kind: ", managed_hsm ? "managed_hsm" : "vault", "\n", more);
}

}  // namespace keybroker::testing
