// fhir_store: stores FHIR resources per account in SQLite, encrypted through
// keybroker (docs/fhir.md).
//
//   fhir_store --broker ADDR --db FILE create-account ACCOUNT [--key ALIAS | --key-uri URI]
//   fhir_store --broker ADDR --db FILE put ACCOUNT FILE.json
//   fhir_store --broker ADDR --db FILE get ACCOUNT TYPE ID [VERSION]
//   fhir_store --broker ADDR --db FILE rewrap-account ACCOUNT [--dry-run] [--keep-going]
//                                                     [--batch-size N]
//
// Prints JSON on success (exit 0; rewrap-account exits 2 when it finished
// but left or found records it could not re-seal, listed in its report, and
// prints a progress line on stderr after each batch). On failure prints the FHIR
// OperationOutcome on stdout and "fhir_store: HTTP <status>: <detail>" on
// stderr, and exits 3 for 403, 4 for other 4xx, 5 for 5xx (1 when the
// command line or input file is unusable, CLI11's codes for usage errors).
#include <fstream>
#include <iostream>
#include <sstream>

#include "CLI/CLI.hpp"
#include "common/status_macros.h"
#include "examples/fhir_store/commands.h"
#include "examples/fhir_store/rewrap_account.h"
#include "keybroker/sdk/client.h"
#include "keybroker/sdk/encryptor.h"
#include "keybroker/sdk/fhir/fhir_error.h"

namespace keybroker::examples {
namespace {

struct Flags {
  std::string broker, db, service_key = "default", command, account, key, file, type, id, version;
  int cache_ttl_seconds = 30;
  int timeout_seconds = 5;
  RewrapOptions rewrap;
};

// What a command prints on success, and the exit code.
struct Output {
  std::string json;
  int exit_code = 0;
};

void PrintProgress(const RewrapReport& at, bool dry_run) {
  std::cerr << "fhir_store: rewrap-account " << at.account << ": " << at.records
            << " records read, " << at.resealed << (dry_run ? " to re-seal, " : " re-sealed, ")
            << at.already_current << " already under version " << at.key_version << ", "
            << at.failures << " failed\n";
}

// Wires the SDK, the FHIR layer and the database, then runs the command.
absl::StatusOr<Output> Run(const Flags& flags, const std::string& input) {
  ASSIGN_OR_RETURN(std::unique_ptr<sdk::Client> client,
                   sdk::Client::Create(
                       {.target = flags.broker, .timeout = absl::Seconds(flags.timeout_seconds)}));
  sdk::EncryptorOptions options;
  options.decrypt_cache_ttl = absl::Seconds(flags.cache_ttl_seconds);
  options.max_dek_age = absl::Seconds(std::max(1, flags.cache_ttl_seconds));
  options.dek_context = {{"service", "fhir-store"}};
  ASSIGN_OR_RETURN(std::unique_ptr<sdk::Encryptor> encryptor,
                   sdk::Encryptor::Create(client.get(), options));
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> db, SqliteStore::Open(flags.db));
  SqliteStore* db_ptr = db.get();
  ASSIGN_OR_RETURN(
      std::unique_ptr<sdk::fhir::ResourceProtector> protector,
      sdk::fhir::ResourceProtector::Create(encryptor.get(), [db_ptr](absl::string_view account) {
        return db_ptr->KeyAliasOf(account);
      }));
  ASSIGN_OR_RETURN(std::unique_ptr<sdk::fhir::AccountProvisioner> provisioner,
                   sdk::fhir::AccountProvisioner::Create(client.get(), flags.service_key));
  const Store store{provisioner.get(), protector.get(), db.get()};
  absl::StatusOr<std::string> json;
  if (flags.command == "create-account") {
    json = CreateAccount(store, flags.account, flags.key);
  } else if (flags.command == "put") {
    json = PutResource(store, flags.account, input);
  } else if (flags.command == "get") {
    json = GetResource(store, flags.account, flags.type, flags.id, flags.version);
  } else {
    ASSIGN_OR_RETURN(RewrapReport report,
                     RewrapAccount(store, flags.account, flags.rewrap, [&](const RewrapReport& at) {
                       PrintProgress(at, flags.rewrap.dry_run);
                     }));
    return Output{.json = report.ToJson(flags.rewrap.dry_run),
                  .exit_code = report.failures > 0 ? 2 : 0};
  }
  if (!json.ok()) return json.status();
  return Output{.json = *std::move(json)};
}

int ExitCodeFor(int http_status) {
  if (http_status == 403) return 3;
  return http_status < 500 ? 4 : 5;
}

}  // namespace
}  // namespace keybroker::examples

int main(int argc, char** argv) {
  using keybroker::examples::Flags;
  Flags flags;
  CLI::App app{"Stores FHIR resources per account in SQLite, encrypted through keybroker."};
  app.add_option("--broker", flags.broker, "keybroker address (host:port, unix:/path)")->required();
  app.add_option("--db", flags.db, "SQLite database file")->required();
  app.add_option("--service-key", flags.service_key,
                 "key alias of accounts created without --key (service-managed)");
  app.add_option("--cache-ttl-seconds", flags.cache_ttl_seconds,
                 "SDK decrypt cache TTL and DEK age (adds to the revocation bound)")
      ->check(CLI::Range(0, 86400));
  app.add_option("--timeout-seconds", flags.timeout_seconds, "deadline of each broker call")
      ->check(CLI::Range(1, 300));
  app.require_subcommand(1);
  CLI::App* create = app.add_subcommand("create-account", "create an account");
  create->add_option("ACCOUNT", flags.account)->required();
  CLI::Option* key = create->add_option("--key", flags.key, "the customer's key alias");
  // A key URI the broker's key sources cover: the customer's key is used
  // without being configured first (DescribeKey checks it before the
  // account is recorded, and an inaccessible key is refused with 403).
  create->add_option("--key-uri", flags.key,
                     "the customer's key URI, https://{vault}/keys/{name}[/{version}]")
      ->excludes(key);
  CLI::App* put = app.add_subcommand("put", "encrypt and store a resource");
  put->add_option("ACCOUNT", flags.account)->required();
  put->add_option("FILE", flags.file, "the resource JSON")->required();
  CLI::App* get = app.add_subcommand("get", "read and decrypt a resource");
  get->add_option("ACCOUNT", flags.account)->required();
  get->add_option("TYPE", flags.type)->required();
  get->add_option("ID", flags.id)->required();
  get->add_option("VERSION", flags.version, "meta.versionId (default: the latest)");
  CLI::App* rewrap = app.add_subcommand(
      "rewrap-account", "move an account's records to its key's current version (resumable)");
  rewrap->add_option("ACCOUNT", flags.account)->required();
  rewrap->add_flag("--dry-run", flags.rewrap.dry_run, "count what would move; change nothing");
  rewrap->add_flag("--keep-going", flags.rewrap.keep_going,
                   "list records that cannot be opened (tampered, retired version) and go on");
  rewrap->add_option("--batch-size", flags.rewrap.batch_size, "records per transaction")
      ->check(CLI::Range(1, 10000));
  CLI11_PARSE(app, argc, argv);
  flags.command = app.get_subcommands().front()->get_name();

  std::string input;
  if (flags.command == "put") {
    std::ifstream file(flags.file, std::ios::binary);
    std::ostringstream contents;
    if (!(contents << file.rdbuf())) {
      std::cerr << "fhir_store: cannot read " << flags.file << "\n";
      return 1;
    }
    input = contents.str();
  }
  absl::StatusOr<keybroker::examples::Output> out = keybroker::examples::Run(flags, input);
  if (out.ok()) {
    std::cout << out->json << "\n";
    return out->exit_code;
  }
  keybroker::sdk::fhir::FhirError error = keybroker::sdk::fhir::FhirError::FromStatus(out.status());
  std::cout << error.OperationOutcomeJson() << "\n";
  std::cerr << "fhir_store: HTTP " << error.http_status << ": " << out.status() << "\n";
  return keybroker::examples::ExitCodeFor(error.http_status);
}
