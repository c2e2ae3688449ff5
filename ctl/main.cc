// keybrokerctl: the operator's command line for keybroker.
//
//   keybrokerctl [--addr ADDR] [--timeout S] [TLS flags] [--allow-plaintext] COMMAND [options]
//
// One RPC per run (or, for `keyring ...`, one operation on a local keyring
// file, with no broker); the result is one JSON object on stdout, an error
// one JSON object on stderr. Exit status 0 on success, 1 when the call (or
// operation) failed, 2 when the command line was wrong (or asked for a
// connection the SDK refuses, e.g. plaintext to another host).
#include <cstdlib>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "ctl/commands.h"
#include "ctl/connection_flags.h"
#include "ctl/json_output.h"
#include "ctl/keyring_commands.h"
#include "grpc/support/log.h"
#include "keybroker/sdk/client.h"

namespace {

// gRPC logs connection failures on stderr itself, and the error JSON already
// carries them; keep stderr to that one object unless the operator asks for
// gRPC's logs with GRPC_VERBOSITY or GRPC_TRACE.
void QuietGrpcLogs() {
  if (std::getenv("GRPC_VERBOSITY") != nullptr || std::getenv("GRPC_TRACE") != nullptr) return;
  gpr_set_log_function([](gpr_log_func_args*) {});
}

void AddGlobalOptions(CLI::App& app, keybroker::ctl::ConnectionFlags* flags) {
  keybroker::ctl::AddConnectionOptions(app, flags);
  app.set_version_flag("--version", std::string("keybrokerctl ") + KEYBROKER_VERSION);
  // Global options may also follow the subcommand.
  app.fallthrough();
}

// Parses the command line. Returns -1 to go on, else the exit status: 0 after
// --help or --version, kExitUsage after CLI11 reported an error (its own exit
// codes, 100 and up, would break the documented 0/1/2 contract).
int Parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return -1;
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : keybroker::ctl::kExitUsage;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"keybrokerctl: command line for the keybroker envelope-encryption broker",
               "keybrokerctl"};
  app.footer(
      "Prints one JSON object: the result on stdout or {\"error\": ...} on stderr.\n"
      "Exit status: 0 success, 1 the call failed, 2 usage error.");
  keybroker::ctl::ConnectionFlags flags;
  keybroker::ctl::CommandArgs args;
  AddGlobalOptions(app, &flags);
  keybroker::ctl::KeyringArgs keyring_args;
  keybroker::ctl::AddCommands(app, &args);
  keybroker::ctl::AddKeyringCommands(app, &keyring_args);
  if (int exit_status = Parse(app, argc, argv); exit_status >= 0) return exit_status;
  const CLI::App& command = *app.get_subcommands().front();
  if (command.get_name() == "keyring") {
    return keybroker::ctl::RunKeyringCommand(command, keyring_args);
  }

  QuietGrpcLogs();
  absl::StatusOr<std::unique_ptr<keybroker::sdk::Client>> client =
      keybroker::ctl::ConnectToBroker(flags);
  if (!client.ok()) return keybroker::ctl::ReportOptionsError(client.status());
  return keybroker::ctl::RunCommand(command.get_name(), args, **client);
}
