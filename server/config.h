// The broker's configuration: one YAML file (DESIGN.md "Configuration"), or
// the embedded default built from `--listen` and `--data-dir`.
//
// Field names are a contract with the Helm chart, the docs and operators'
// files: add fields, never rename. Unknown fields are errors, and every error
// names the field's path.
#ifndef KEYBROKER_SERVER_CONFIG_H_
#define KEYBROKER_SERVER_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/authorization_config.h"

namespace keybroker::server {

struct TlsConfig {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // set: clients must present a certificate it signed
  std::string min_version = "1.2";  // "1.2" | "1.3"
  // How often the three files are checked for a replacement (certificates
  // rotated by cert-manager are served to new connections without a restart).
  int64_t reload_interval_seconds = 60;
};

struct CacheConfig {
  int64_t metadata_ttl_seconds = 30;
  int64_t unwrap_ttl_seconds = 30;
  int64_t unwrap_max_entries = 100000;
  // How long a version of a configured Azure key that the vault refused as
  // unknown is remembered, so crafted EDEKs cannot each cost a vault request.
  int64_t unknown_version_ttl_seconds = 60;
  // How often each customer key in use is checked with its KMS (a key GET
  // past every cache): a revocation is noticed within this, whatever the
  // TTLs above and clients' caches (which WatchKeys tells). server/key_prober.h
  int64_t access_probe_seconds = 10;
  // A key not used for this long is no longer probed. At least the unwrap
  // TTL (cached unwraps are checked while they live) and clients' DEK ages.
  int64_t access_probe_idle_seconds = 900;
};

struct LocalKmsConfig {
  std::string keyring_file;
  std::string master_key_file;  // empty: KEYBROKER_MASTER_KEY
  bool read_only = false;
  // read_only: how often each replica looks for a new keyring file (the
  // bound on how long a version rotated out of band takes to reach it).
  int64_t reload_interval_seconds = 10;
  // Embedded default only: generate the master key file on first start.
  bool generate_master_key = false;
};

// Trust for one TLS client (Key Vault, or an identity's Entra endpoint).
struct TlsTrustConfig {
  std::string ca_file;                // empty: the system's roots
  bool insecure_skip_verify = false;  // tests only; needs KEYBROKER_ALLOW_INSECURE_TLS=1
};

// The credential kinds of an identity, one struct each, named after their
// YAML blocks.

// client_secret: {password_file}. The credential reads the file again when it
// changes, so a rotated secret needs no restart.
struct ClientSecretCredentialConfig {
  std::string client_secret_file;  // client_secret.password_file
};

// client_certificate: a PEM pair, read again when either file changes.
struct ClientCertificateCredentialConfig {
  std::string cert_file;
  std::string key_file;
};

// workload_identity: every field may be left out, because the workload
// identity webhook sets the pod's AZURE_* variables. An empty field falls back
// to the identity's own client_id / tenant_id / oauth_endpoint_url, then to
// that variable.
struct WorkloadIdentityCredentialConfig {
  std::string client_id;
  std::string tenant_id;
  std::string token_file;
  std::string authority_host;
};

// managed_identity: both optional; neither set is the system-assigned identity
// at the standard IMDS endpoint.
struct ManagedIdentityCredentialConfig {
  std::string client_id;  // empty: the identity's client_id, if any
  std::string endpoint;
};

using AzureCredentialConfig =
    std::variant<ClientSecretCredentialConfig, ClientCertificateCredentialConfig,
                 WorkloadIdentityCredentialConfig, ManagedIdentityCredentialConfig>;

// One Entra ID identity (kms.azure.identities.NAME).
struct AzureIdentityConfig {
  std::string name;
  // The block present; the configuration refuses an identity with none or
  // more than one.
  AzureCredentialConfig credential;
  // tenant_id and client_id sit beside the kind, not in it, because they are
  // required by client_secret and client_certificate and are the fallback of
  // workload_identity's fields (client_id also of managed_identity's).
  std::string tenant_id;
  std::string client_id_file;      // client_id.password_file
  std::string oauth_endpoint_url;  // authority host; inferred from the vault host when empty
  std::string scope;               // inferred from the vault host when empty
  TlsTrustConfig tls;              // trust for Entra ID, separate from Key Vault's
};

// One kms.azure.key_sources entry: customer keys named at run time by URI
// (https://{host}/keys/{name}[/{version}]) whose host matches one of `vaults`
// are reached through `identity`. The globs bound where the identity's tokens
// may be sent, so a caller cannot point the broker at a host of its own.
struct AzureKeySourceConfig {
  std::vector<std::string> vaults;  // host globs ("*.vault.azure.net"), case-insensitive
  std::string identity;             // a kms.azure.identities name
};

struct AzureConfig {
  TlsTrustConfig key_vault_tls;
  int64_t request_timeout_seconds = 10;
  int64_t max_concurrent_requests_per_vault = 64;
  std::vector<AzureIdentityConfig> identities;
  std::vector<AzureKeySourceConfig> key_sources;
  // How many keys named at run time are kept (least recently used go
  // first; configured keys are never dropped): bounds their state.
  int64_t max_runtime_keys = 1000;
};

struct KeyBinding {
  std::string alias;
  std::string local_key;   // name of a key in the local keyring
  std::string azure_key;   // Key Vault / Managed HSM key identifier URL
  std::string identity;    // kms.azure.identities name, for azure_key
  std::string vault_kind;  // "vault" | "managed_hsm"; inferred from the host when empty
  bool hsm_random = false; // Managed HSM keys: DEK bytes from the HSM's RNG
  // local_key only: EDEKs under an older version answer KEY_DISABLED (the
  // local key's current version must be at least this); 0: no floor.
  int64_t min_decryption_version = 0;
};

// edek_authentication: RSA EDEKs tagged with an HMAC under a local key, and
// checked before any Key Vault call (server/edek_authenticator.h).
struct EdekAuthenticationConfig {
  std::string local_key;  // a key of the local keyring (created if missing)
  // Let RSA EDEKs without a tag through, while EDEKs made before this was
  // turned on are rewrapped.
  bool accept_unauthenticated = false;
};

struct Config {
  std::string listen;          // host:port or unix:/path
  std::string metrics_listen;  // optional
  std::string log_level = "info";
  bool audit_log = true;       // one audit line per RPC
  std::optional<TlsConfig> tls;
  // A listen address that is not loopback or a unix socket needs `tls`, or
  // this set (for a mesh that provides mutual TLS itself).
  bool insecure_plaintext = false;
  bool reflection = false;           // gRPC server reflection
  std::string unix_socket_group;     // group of a unix: listen socket (created 0660)
  int64_t max_request_bytes = 64 * 1024;
  // Calls waiting for a thread that may call a remote KMS; beyond it, calls
  // are refused at once with RESOURCE_EXHAUSTED (SERVER_BUSY) and a retry delay.
  int64_t max_pending_kms_calls = 1024;
  // WatchKeys streams open at once; beyond it, new ones are refused with
  // RESOURCE_EXHAUSTED (SERVER_BUSY): each holds memory while it lives.
  int64_t max_watch_streams = 4096;
  bool allow_core_dumps = false;     // true keeps the process dumpable (debugging)
  // Absent: every caller may use every key (warned at start).
  std::optional<AuthorizationConfig> authorization;
  std::optional<EdekAuthenticationConfig> edek_authentication;
  CacheConfig cache;
  std::optional<LocalKmsConfig> local;
  std::optional<AzureConfig> azure;
  std::vector<KeyBinding> keys;

  // Not a field: the file this configuration was read from ("" for the
  // embedded default), re-read for authorization reloads.
  std::string source_file;
};

// Parses and validates a configuration document. INVALID_ARGUMENT naming the
// field for anything wrong.
absl::StatusOr<Config> ParseConfig(absl::string_view yaml);

// Reads and parses `path`.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// The embedded default: listen on `listen`, one service-managed local key
// "service-default" under alias "default", keyring and master key in
// `data_dir`.
Config EmbeddedDefaultConfig(const std::string& listen, const std::string& data_dir);

// Checks cross-field rules (each key bound once, its KMS configured, a listen
// address present, plaintext only on loopback unless insecure_plaintext). ParseConfig calls it; call it again after overriding.
absl::Status ValidateConfig(const Config& config);

// Whether `listen` is a unix socket or a loopback host:port (127.0.0.0/8,
// ::1, localhost), which only this machine can reach.
bool IsLocalListenAddress(absl::string_view listen);

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_CONFIG_H_
