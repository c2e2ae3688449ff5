// `keybrokerctl keyring ...`: work on a local keyring file directly, with no
// broker (DESIGN.md "Deployment": with several replicas the keyring is
// mounted read-only and rotated out of band, and each replica reloads it).
//
//   keyring init --keyring-file F [--master-key-file M] --key NAME [--key NAME...]
//   keyring rotate --keyring-file F [--master-key-file M] --key NAME
//   keyring list --keyring-file F [--master-key-file M]
//   keyring new-master-key --out FILE
//
// The master key comes from --master-key-file or, as for the broker, from
// KEYBROKER_MASTER_KEY. Output and exit statuses are keybrokerctl's
// (json_output.h); key material is never printed.
#ifndef KEYBROKER_CTL_KEYRING_COMMANDS_H_
#define KEYBROKER_CTL_KEYRING_COMMANDS_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace keybroker::ctl {

// The keyring subcommands' options, as typed.
struct KeyringArgs {
  std::string keyring_file;     // --keyring-file
  std::string master_key_file;  // --master-key-file; empty: KEYBROKER_MASTER_KEY
  std::vector<std::string> keys;  // init: --key, repeated
  std::string key;              // rotate: --key
  std::string out;              // --out, for new-master-key
};

// Adds the `keyring` subcommand and its own subcommands to `app`. The
// options write into `args`, which must outlive parsing.
void AddKeyringCommands(CLI::App& app, KeyringArgs* args);

// Runs the keyring subcommand that was parsed (`keyring` is the command
// AddKeyringCommands added). Prints the outcome; returns the exit status.
int RunKeyringCommand(const CLI::App& keyring, const KeyringArgs& args);

}  // namespace keybroker::ctl

#endif  // KEYBROKER_CTL_KEYRING_COMMANDS_H_
