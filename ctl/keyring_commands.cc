#include "ctl/keyring_commands.h"

#include <cstdint>
#include <cstdlib>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "crypto/secret_bytes.h"
#include "ctl/json_output.h"
#include "kms_adapters/local/keyring.h"
#include "kms_adapters/local/keyring_admin.h"
#include "kms_adapters/local/keyring_file.h"
#include "kms_adapters/local/master_key.h"

namespace keybroker::ctl {
namespace {

// The keyring as init and list print it: names, versions and creation
// times, never material.
Json DescribeKeyring(const std::string& path, const kms::Keyring& keyring) {
  Json keys = Json::array();
  for (const std::string& name : keyring.KeyNames()) {
    uint32_t current = keyring.Current(name)->number;
    Json versions = Json::array();
    for (uint32_t number = 1; number <= current; ++number) {
      Json version = Json::object();
      version["version"] = absl::StrCat(number);
      version["created"] = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                            keyring.Find(name, number)->created,
                                            absl::UTCTimeZone());
      versions.push_back(std::move(version));
    }
    Json key = Json::object();
    key["key"] = name;
    key["current_version"] = absl::StrCat(current);
    key["versions"] = std::move(versions);
    keys.push_back(std::move(key));
  }
  Json result = Json::object();
  result["keyring_file"] = path;
  result["keys"] = std::move(keys);
  return result;
}

int RunInit(const KeyringArgs& args, const crypto::SecretBytes& master_key) {
  absl::StatusOr<kms::Keyring> keyring =
      kms::InitKeyringFile(args.keyring_file, master_key, args.keys);
  if (!keyring.ok()) return ReportError(keyring.status());
  Json result = DescribeKeyring(args.keyring_file, *keyring);
  return PrintResultAndWipe(result);
}

int RunRotate(const KeyringArgs& args, const crypto::SecretBytes& master_key) {
  absl::StatusOr<uint32_t> version =
      kms::RotateKeyringFile(args.keyring_file, master_key, args.key);
  if (!version.ok()) return ReportError(version.status());
  Json result = {{"keyring_file", args.keyring_file},
                 {"key", args.key},
                 {"key_version", absl::StrCat(*version)}};
  return PrintResultAndWipe(result);
}

int RunList(const KeyringArgs& args, const crypto::SecretBytes& master_key) {
  absl::StatusOr<kms::Keyring> keyring = kms::ReadKeyringFile(args.keyring_file, master_key);
  if (!keyring.ok()) return ReportError(keyring.status());
  Json result = DescribeKeyring(args.keyring_file, *keyring);
  return PrintResultAndWipe(result);
}

int RunNewMasterKey(const KeyringArgs& args, const crypto::SecretBytes& unused) {
  absl::Status created = kms::CreateMasterKeyFile(args.out).status();
  if (!created.ok()) return ReportError(created);
  Json result = {{"master_key_file", args.out}};
  return PrintResultAndWipe(result);
}

// Which of KeyringArgs' options a subcommand takes.
enum Option : unsigned { kKeyringFile = 1, kMasterKey = 2, kKeys = 4, kKey = 8, kOut = 16 };

struct KeyringCommand {
  const char* name;
  const char* description;
  unsigned options;
  int (*run)(const KeyringArgs& args, const crypto::SecretBytes& master_key);
};

constexpr KeyringCommand kKeyringCommands[] = {
    {"init", "Create a new keyring file holding each --key at version 1 (never overwrites)",
     kKeyringFile | kMasterKey | kKeys, RunInit},
    {"rotate", "Add a version to --key and make it current (replicas reload the file)",
     kKeyringFile | kMasterKey | kKey, RunRotate},
    {"list", "List the keys, their versions and creation times (never key material)",
     kKeyringFile | kMasterKey, RunList},
    {"new-master-key", "Write a new master key (64 hex characters, mode 0600) to --out",
     kOut, RunNewMasterKey},
};

void AddOptions(CLI::App& command, unsigned options, KeyringArgs* args) {
  if (options & kKeyringFile) {
    command.add_option("--keyring-file", args->keyring_file, "The keyring file")->required();
  }
  if (options & kMasterKey) {
    command.add_option("--master-key-file", args->master_key_file,
                       std::string("Its master key (64 hex characters); default: the ") +
                           kms::kMasterKeyEnv + " environment variable");
  }
  if (options & kKeys) {
    command.add_option("--key", args->keys, "A key to create; repeat for more")->required();
  }
  if (options & kKey) {
    command.add_option("--key", args->key, "The key to rotate")->required();
  }
  if (options & kOut) {
    command.add_option("--out", args->out, "Where to write it; an existing file is refused")
        ->required();
  }
}

}  // namespace

void AddKeyringCommands(CLI::App& app, KeyringArgs* args) {
  CLI::App* keyring = app.add_subcommand(
      "keyring", "Work on a local keyring file directly, with no broker (several replicas "
                 "mount it read-only and reload it when it changes)");
  for (const KeyringCommand& command : kKeyringCommands) {
    AddOptions(*keyring->add_subcommand(command.name, command.description), command.options,
               args);
  }
  keyring->require_subcommand(1);
}

int RunKeyringCommand(const CLI::App& keyring, const KeyringArgs& args) {
  const std::string& name = keyring.get_subcommands().front()->get_name();
  for (const KeyringCommand& command : kKeyringCommands) {
    if (name != command.name) continue;
    crypto::SecretBytes master_key;
    if (command.options & kMasterKey) {
      if (args.master_key_file.empty() && std::getenv(kms::kMasterKeyEnv) == nullptr) {
        return ReportUsageError(absl::StrCat("keyring ", name, " needs --master-key-file or ",
                                             kms::kMasterKeyEnv));
      }
      absl::StatusOr<crypto::SecretBytes> loaded = kms::LoadMasterKey(args.master_key_file);
      if (!loaded.ok()) return ReportError(loaded.status());
      master_key = *std::move(loaded);
    }
    return command.run(args, master_key);
  }
  return ReportUsageError("unknown keyring command");
}

}  // namespace keybroker::ctl
