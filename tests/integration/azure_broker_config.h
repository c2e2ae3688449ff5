// What the Azure integration tests share: the client-secret principal they
// register in the Key Vault emulator, and the broker configuration that
// reaches the emulator's vaults through it.
#ifndef KEYBROKER_TESTS_INTEGRATION_AZURE_BROKER_CONFIG_H_
#define KEYBROKER_TESTS_INTEGRATION_AZURE_BROKER_CONFIG_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/integration/keyvault_emulator_process.h"

namespace keybroker::testing {

inline constexpr char kAzureTenant[] = "11111111-2222-3333-4444-555555555555";
inline constexpr char kAzureClientId[] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

// Starts the emulator with a vault "kv1", a managed HSM "hsm1" and Entra ID
// (under a CA of its own), state files in `dir`; registers kAzureClientId in
// kAzureTenant with `secret` and access to every operation on both hosts, and
// writes its id and secret to `dir`/client-id and `dir`/client-secret (where
// AzureBrokerConfig points the broker when `secrets_dir` is `dir`).
absl::StatusOr<std::unique_ptr<KeyVaultEmulator>> StartEmulatorWithSecretPrincipal(
    const std::string& dir, const std::string& secret);

struct AzureBrokerConfigOptions {
  std::string kv_ca_file;        // the CA trusted for the vaults
  int cache_ttl_seconds = 2;     // metadata and unwrap cache: the revocation bound
  std::string secrets_dir;       // holds client-id and client-secret
  std::string more_identities;   // entries under `identities:` besides `app`
  std::string more_azure;        // more lines of kms.azure (4 spaces), e.g. key_sources
  std::string keys;              // the entries of `keys:` (AzureKeyConfig)
  std::string more_settings;     // top-level lines, e.g. "metrics_listen: ...\n"
  std::string more_kms;          // entries under `kms:` besides azure, e.g. "  local: ...\n"
  std::string more_cache;        // more entries of `cache:`, e.g. ", unwrap_max_entries: 10"
};

// A broker configuration listening on 127.0.0.1:0, with identity `app` (the
// secret principal, through the emulator's Entra endpoint) and `keys`.
std::string AzureBrokerConfig(const KeyVaultEmulator& emulator,
                              const AzureBrokerConfigOptions& options);

// One entry of `keys:`: `alias` bound to key `name` on the emulator's host
// `host` (a vault, or a managed HSM when `managed_hsm`) through `identity`;
// `more` are further lines of the entry, each indented by four spaces.
std::string AzureKeyConfig(const KeyVaultEmulator& emulator, const std::string& alias,
                           const std::string& host, const std::string& name,
                           const std::string& identity, bool managed_hsm,
                           const std::string& more = "");

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_INTEGRATION_AZURE_BROKER_CONFIG_H_
