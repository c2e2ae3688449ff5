// keybrokerctl's subcommands: generate-dek, wrap, unwrap, rewrap, rotate,
// describe and versions (DescribeKey's version inventory), one
// keybroker.v1.KeyBroker RPC each, made through the SDK's Client.
//
// Each prints one JSON object: the result on stdout, or the error on stderr
// (see json_output.h for the shapes and exit statuses). Byte fields, in and
// out, are standard base64. Plaintext key material is wiped once printed or
// sent.
#ifndef KEYBROKER_CTL_COMMANDS_H_
#define KEYBROKER_CTL_COMMANDS_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/string_view.h"
#include "keybroker/sdk/client.h"

namespace keybroker::ctl {

// The subcommands' options, as typed; each subcommand uses some of them.
struct CommandArgs {
  std::string key;                   // --key ALIAS
  std::string edek;                  // --edek B64
  std::string plaintext;             // --plaintext B64; wiped once decoded
  std::vector<std::string> context;  // --context KEY=VALUE, repeated
};

// Adds the subcommands and their options to `app` and requires exactly one.
// The options write into `args`, which must outlive parsing.
void AddCommands(CLI::App& app, CommandArgs* args);

// Runs the subcommand called `name` (one that AddCommands added) with the
// parsed `args`, calling the broker through `client`. Prints the outcome;
// returns the exit status.
int RunCommand(absl::string_view name, CommandArgs& args, sdk::Client& client);

}  // namespace keybroker::ctl

#endif  // KEYBROKER_CTL_COMMANDS_H_
