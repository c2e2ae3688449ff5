#include "server/config.h"

#include <cstdint>
#include <limits>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/file_util.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "server/config_authorization.h"
#include "server/config_azure.h"
#include "server/yaml_fields.h"

namespace keybroker::server {
namespace {

constexpr size_t kMaxConfigSize = 1 << 20;

absl::Status Invalid(absl::string_view path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, " ", what));
}

absl::Status CheckListenAddress(absl::string_view path, const std::string& address) {
  if (absl::StartsWith(address, "unix:")) {
    if (address.size() <= 5) return Invalid(path, "needs a socket path after unix:");
    return absl::OkStatus();
  }
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return Invalid(path, absl::StrCat("must be host:port or unix:/path, not '", address, "'"));
  }
  return absl::OkStatus();
}

absl::Status ParseTls(YamlObject& root, std::optional<TlsConfig>* out) {
  if (!root.Has("tls")) {
    root.Node("tls");
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(YamlObject tls, root.Object("tls"));
  TlsConfig config;
  RETURN_IF_ERROR(tls.String("cert_file", &config.cert_file));
  RETURN_IF_ERROR(tls.String("key_file", &config.key_file));
  RETURN_IF_ERROR(tls.String("client_ca_file", &config.client_ca_file));
  RETURN_IF_ERROR(tls.String("min_version", &config.min_version));
  RETURN_IF_ERROR(tls.PositiveInt("reload_interval_seconds", &config.reload_interval_seconds));
  RETURN_IF_ERROR(tls.Finish());
  if (config.cert_file.empty() || config.key_file.empty()) {
    return Invalid("tls", "needs both cert_file and key_file");
  }
  if (config.min_version != "1.2" && config.min_version != "1.3") {
    return Invalid("tls.min_version", "must be \"1.2\" or \"1.3\"");
  }
  *out = config;
  return absl::OkStatus();
}

absl::Status ParseEdekAuthentication(YamlObject& root,
                                     std::optional<EdekAuthenticationConfig>* out) {
  if (!root.Has("edek_authentication")) {
    root.Node("edek_authentication");
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(YamlObject section, root.Object("edek_authentication"));
  EdekAuthenticationConfig config;
  RETURN_IF_ERROR(section.String("local_key", &config.local_key));
  RETURN_IF_ERROR(section.Bool("accept_unauthenticated", &config.accept_unauthenticated));
  RETURN_IF_ERROR(section.Finish());
  if (config.local_key.empty()) return Invalid("edek_authentication.local_key", "is required");
  *out = config;
  return absl::OkStatus();
}

absl::Status ParseCache(YamlObject& root, CacheConfig* out) {
  ASSIGN_OR_RETURN(YamlObject cache, root.Object("cache"));
  RETURN_IF_ERROR(cache.PositiveInt("metadata_ttl_seconds", &out->metadata_ttl_seconds));
  RETURN_IF_ERROR(cache.PositiveInt("unwrap_ttl_seconds", &out->unwrap_ttl_seconds));
  RETURN_IF_ERROR(cache.PositiveInt("unwrap_max_entries", &out->unwrap_max_entries));
  RETURN_IF_ERROR(
      cache.PositiveInt("unknown_version_ttl_seconds", &out->unknown_version_ttl_seconds));
  RETURN_IF_ERROR(cache.PositiveInt("access_probe_seconds", &out->access_probe_seconds));
  RETURN_IF_ERROR(
      cache.PositiveInt("access_probe_idle_seconds", &out->access_probe_idle_seconds));
  if (out->access_probe_idle_seconds < out->unwrap_ttl_seconds) {
    return Invalid("cache.access_probe_idle_seconds",
                   "must be at least cache.unwrap_ttl_seconds: a key whose unwraps are still "
                   "cached must go on being probed");
  }
  return cache.Finish();
}

absl::Status ParseKms(YamlObject& root, std::optional<LocalKmsConfig>* local,
                      std::optional<AzureConfig>* azure) {
  ASSIGN_OR_RETURN(YamlObject kms, root.Object("kms"));
  if (kms.Has("local")) {
    ASSIGN_OR_RETURN(YamlObject section, kms.Object("local"));
    LocalKmsConfig config;
    RETURN_IF_ERROR(section.String("keyring_file", &config.keyring_file));
    RETURN_IF_ERROR(section.String("master_key_file", &config.master_key_file));
    RETURN_IF_ERROR(section.Bool("read_only", &config.read_only));
    RETURN_IF_ERROR(
        section.PositiveInt("reload_interval_seconds", &config.reload_interval_seconds));
    RETURN_IF_ERROR(section.Finish());
    if (config.keyring_file.empty()) return Invalid("kms.local.keyring_file", "is required");
    *local = config;
  } else {
    kms.Node("local");
  }
  if (kms.Has("azure")) {
    AzureConfig config;
    RETURN_IF_ERROR(ParseAzureSection(kms, &config));
    *azure = std::move(config);
  } else {
    kms.Node("azure");
  }
  return kms.Finish();
}

absl::Status ParseKeys(YamlObject& root, std::vector<KeyBinding>* out) {
  YAML::Node keys = root.Node("keys");
  if (!keys.IsDefined() || keys.IsNull()) return absl::OkStatus();
  if (!keys.IsSequence()) return Invalid("keys", "must be a list");
  for (size_t i = 0; i < keys.size(); ++i) {
    std::string path = absl::StrCat("keys[", i, "]");
    ASSIGN_OR_RETURN(YamlObject entry, YamlObject::Of(keys[i], path));
    KeyBinding binding;
    RETURN_IF_ERROR(entry.String("alias", &binding.alias));
    RETURN_IF_ERROR(entry.String("local_key", &binding.local_key));
    RETURN_IF_ERROR(entry.String("azure_key", &binding.azure_key));
    RETURN_IF_ERROR(entry.String("identity", &binding.identity));
    RETURN_IF_ERROR(entry.String("vault_kind", &binding.vault_kind));
    RETURN_IF_ERROR(entry.Bool("hsm_random", &binding.hsm_random));
    RETURN_IF_ERROR(
        entry.PositiveInt("min_decryption_version", &binding.min_decryption_version));
    RETURN_IF_ERROR(entry.Finish());
    if (binding.alias.empty()) return Invalid(entry.PathOf("alias"), "is required");
    if (binding.local_key.empty() == binding.azure_key.empty()) {
      return Invalid(path, "needs exactly one of local_key and azure_key");
    }
    out->push_back(std::move(binding));
  }
  return absl::OkStatus();
}

absl::StatusOr<Config> ParseDocument(const YAML::Node& document) {
  ASSIGN_OR_RETURN(YamlObject root, YamlObject::Of(document, ""));
  Config config;
  RETURN_IF_ERROR(root.String("listen", &config.listen));
  RETURN_IF_ERROR(root.String("metrics_listen", &config.metrics_listen));
  RETURN_IF_ERROR(root.String("log_level", &config.log_level));
  RETURN_IF_ERROR(root.Bool("audit_log", &config.audit_log));
  RETURN_IF_ERROR(root.Bool("insecure_plaintext", &config.insecure_plaintext));
  RETURN_IF_ERROR(root.Bool("reflection", &config.reflection));
  RETURN_IF_ERROR(root.String("unix_socket_group", &config.unix_socket_group));
  RETURN_IF_ERROR(root.PositiveInt("max_request_bytes", &config.max_request_bytes));
  RETURN_IF_ERROR(root.PositiveInt("max_pending_kms_calls", &config.max_pending_kms_calls));
  RETURN_IF_ERROR(root.PositiveInt("max_watch_streams", &config.max_watch_streams));
  RETURN_IF_ERROR(root.Bool("allow_core_dumps", &config.allow_core_dumps));
  RETURN_IF_ERROR(ParseTls(root, &config.tls));
  RETURN_IF_ERROR(ParseAuthorization(root, &config.authorization));
  RETURN_IF_ERROR(ParseEdekAuthentication(root, &config.edek_authentication));
  RETURN_IF_ERROR(ParseCache(root, &config.cache));
  RETURN_IF_ERROR(ParseKms(root, &config.local, &config.azure));
  RETURN_IF_ERROR(ParseKeys(root, &config.keys));
  RETURN_IF_ERROR(root.Finish());
  return config;
}

// A floor belongs to the local key, whichever alias names it: two bindings of
// one key must not ask for different floors.
absl::Status CheckDecryptionFloor(const Config& config, size_t i) {
  const KeyBinding& binding = config.keys[i];
  if (binding.min_decryption_version == 0) return absl::OkStatus();
  const std::string path = absl::StrCat("keys[", i, "].min_decryption_version");
  if (binding.local_key.empty()) {
    return Invalid(path, "applies to local_key only: for an azure_key, disable the old versions "
                         "in the vault");
  }
  if (binding.min_decryption_version > std::numeric_limits<uint32_t>::max()) {
    return Invalid(path, "is not a version number");
  }
  for (size_t j = 0; j < i; ++j) {
    const KeyBinding& other = config.keys[j];
    if (other.local_key == binding.local_key && other.min_decryption_version != 0 &&
        other.min_decryption_version != binding.min_decryption_version) {
      return Invalid(path, absl::StrCat("differs from keys[", j,
                                        "].min_decryption_version for the same local key '",
                                        binding.local_key, "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool IsLocalListenAddress(absl::string_view listen) {
  if (absl::StartsWith(listen, "unix:")) return true;
  absl::string_view host = listen.substr(0, listen.rfind(':'));
  return host == "localhost" || host == "[::1]" || absl::StartsWith(host, "127.");
}

absl::Status ValidateConfig(const Config& config) {
  if (config.listen.empty()) return Invalid("listen", "is required (or pass --listen)");
  RETURN_IF_ERROR(CheckListenAddress("listen", config.listen));
  if (config.max_request_bytes < 4096) {
    return Invalid("max_request_bytes", "must be at least 4096");
  }
  if (!config.metrics_listen.empty()) {
    if (absl::StartsWith(config.metrics_listen, "unix:")) {
      return Invalid("metrics_listen", "must be host:port (Prometheus and probes speak TCP)");
    }
    RETURN_IF_ERROR(CheckListenAddress("metrics_listen", config.metrics_listen));
  }
  log::Level level;
  if (!log::ParseLevel(config.log_level, &level)) {
    return Invalid("log_level", "must be debug, info, warn or error");
  }
  // Key sources name keys at run time: a broker may then have no alias.
  const bool key_sources = config.azure.has_value() && !config.azure->key_sources.empty();
  if (config.keys.empty() && !key_sources) {
    return Invalid("keys", "must bind at least one key alias (or kms.azure.key_sources name "
                           "keys at run time)");
  }
  std::set<std::string> aliases;
  for (size_t i = 0; i < config.keys.size(); ++i) {
    const KeyBinding& binding = config.keys[i];
    if (!aliases.insert(binding.alias).second) {
      return Invalid(absl::StrCat("keys[", i, "].alias"),
                     absl::StrCat("'", binding.alias, "' is bound twice"));
    }
    if (!binding.local_key.empty() && !config.local.has_value()) {
      return Invalid(absl::StrCat("keys[", i, "].local_key"), "needs a kms.local section");
    }
    if (binding.local_key.size() > 255) {
      return Invalid(absl::StrCat("keys[", i, "].local_key"), "must be at most 255 bytes");
    }
    if (!binding.azure_key.empty()) RETURN_IF_ERROR(ValidateAzureBinding(config, i));
    RETURN_IF_ERROR(CheckDecryptionFloor(config, i));
  }
  if (config.edek_authentication.has_value() && !config.local.has_value()) {
    return Invalid("edek_authentication.local_key", "needs a kms.local section");
  }
  // Last, so that a configuration's other mistakes are named first.
  if (!config.tls.has_value() && !config.insecure_plaintext &&
      !IsLocalListenAddress(config.listen)) {
    return Invalid("listen",
                   absl::StrCat("'", config.listen,
                                "' is reachable from other hosts, and without tls DEKs would "
                                "cross the network in plaintext: add a tls section (cert_file, "
                                "key_file, client_ca_file), listen on 127.0.0.1 or a unix: "
                                "socket, or set insecure_plaintext: true if a service mesh "
                                "provides mutual TLS"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Config> ParseConfig(absl::string_view yaml) {
  ASSIGN_OR_RETURN(YAML::Node document, LoadDocument(yaml));
  absl::StatusOr<Config> config;
  try {
    config = ParseDocument(document);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("configuration: ", e.what()));
  }
  if (!config.ok()) return config.status();
  RETURN_IF_ERROR(ValidateConfig(*config));
  return config;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::string text;
  absl::Status read = ReadFileInto(path, kMaxConfigSize, &text);
  if (!read.ok()) return Annotate(read, "cannot read configuration");
  absl::StatusOr<Config> config = ParseConfig(text);
  if (!config.ok()) return Annotate(config.status(), path);
  config->source_file = path;
  return config;
}

Config EmbeddedDefaultConfig(const std::string& listen, const std::string& data_dir) {
  Config config;
  config.listen = listen;
  LocalKmsConfig local;
  local.keyring_file = absl::StrCat(data_dir, "/keyring");
  local.master_key_file = absl::StrCat(data_dir, "/master-key");
  local.generate_master_key = true;
  config.local = local;
  KeyBinding binding;
  binding.alias = "default";
  binding.local_key = "service-default";
  config.keys.push_back(std::move(binding));
  return config;
}

}  // namespace keybroker::server
