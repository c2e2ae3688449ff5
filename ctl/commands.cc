#include "ctl/commands.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "common/utf8.h"
#include "crypto/secret_bytes.h"
#include "crypto/wipe.h"
#include "ctl/json_output.h"
#include "ctl/request_args.h"

namespace keybroker::ctl {

using ::keybroker::crypto::WipeString;
using ::keybroker::crypto::ScopedWipe;
namespace {

// Each subcommand is one call of the SDK's Client: the same channel, TLS,
// plaintext rule and error decoding as every application's.

std::string Base64Of(const crypto::SecretBytes& secret) {
  return absl::Base64Escape(secret.RevealAsStringView());
}

int RunGenerateDek(sdk::Client& client, CommandArgs& args) {
  absl::StatusOr<sdk::Context> context = ParseContext(args.context);
  if (!context.ok()) return ReportUsageError(context.status().message());
  absl::StatusOr<sdk::DataKey> dek = client.GenerateDek(args.key, *context);
  if (!dek.ok()) return ReportError(dek.status());
  Json result = {{"plaintext", Base64Of(dek->plaintext)},
                 {"edek", absl::Base64Escape(dek->edek)},
                 {"key_version", dek->key_version}};
  return PrintResultAndWipe(result);
}

int RunWrap(sdk::Client& client, CommandArgs& args) {
  std::string decoded;
  ScopedWipe wipe_dek(&decoded);
  absl::Status usage = DecodeBase64Flag("--plaintext", args.plaintext, &decoded);
  WipeString(&args.plaintext);
  absl::StatusOr<sdk::Context> context = ParseContext(args.context);
  if (usage.ok()) usage = context.status();
  if (!usage.ok()) return ReportUsageError(usage.message());
  absl::StatusOr<sdk::WrappedDek> wrapped =
      client.WrapWithVersion(args.key, crypto::SecretBytes::CopyFrom(decoded), *context);
  if (!wrapped.ok()) return ReportError(wrapped.status());
  Json result = {{"edek", absl::Base64Escape(wrapped->edek)},
                 {"key_version", wrapped->key_version}};
  return PrintResultAndWipe(result);
}

// Unwrap and Rewrap take the same two options.
struct EdekArgs {
  std::string edek;
  sdk::Context context;
};

absl::StatusOr<EdekArgs> ParseEdekArgs(const CommandArgs& args) {
  EdekArgs parsed;
  absl::Status usage = DecodeBase64Flag("--edek", args.edek, &parsed.edek);
  if (!usage.ok()) return usage;
  absl::StatusOr<sdk::Context> context = ParseContext(args.context);
  if (!context.ok()) return context.status();
  parsed.context = *std::move(context);
  return parsed;
}

int RunUnwrap(sdk::Client& client, CommandArgs& args) {
  absl::StatusOr<EdekArgs> parsed = ParseEdekArgs(args);
  if (!parsed.ok()) return ReportUsageError(parsed.status().message());
  absl::StatusOr<sdk::UnwrappedDek> dek = client.UnwrapWithVersion(parsed->edek, parsed->context);
  if (!dek.ok()) return ReportError(dek.status());
  Json result = {{"plaintext", Base64Of(dek->plaintext)}, {"key_version", dek->key_version}};
  return PrintResultAndWipe(result);
}

int RunRewrap(sdk::Client& client, CommandArgs& args) {
  absl::StatusOr<EdekArgs> parsed = ParseEdekArgs(args);
  if (!parsed.ok()) return ReportUsageError(parsed.status().message());
  absl::StatusOr<sdk::WrappedDek> rewrapped =
      client.RewrapWithVersion(parsed->edek, parsed->context);
  if (!rewrapped.ok()) return ReportError(rewrapped.status());
  Json result = {{"edek", absl::Base64Escape(rewrapped->edek)},
                 {"key_version", rewrapped->key_version}};
  return PrintResultAndWipe(result);
}

int RunRotate(sdk::Client& client, CommandArgs& args) {
  absl::StatusOr<std::string> version = client.Rotate(args.key);
  if (!version.ok()) return ReportError(version.status());
  Json result = {{"key_version", *version}};
  return PrintResultAndWipe(result);
}

int RunDescribe(sdk::Client& client, CommandArgs& args) {
  absl::StatusOr<sdk::KeyDescription> key = client.DescribeKey(args.key);
  if (!key.ok()) return ReportError(key.status());
  Json result = {{"key", key->key},
                 {"key_version", key->key_version},
                 {"algorithm", key->algorithm},
                 {"accessible", key->accessible},
                 {"quantum_resistant", key->quantum_resistant},
                 {"customer_managed", key->customer_managed},
                 {"reason", key->reason},
                 {"kms", key->kms}};
  return PrintResultAndWipe(result);
}

// RFC 3339 in UTC, or null when unknown.
Json TimeJson(const std::optional<absl::Time>& time) {
  if (!time.has_value()) return nullptr;
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *time, absl::UTCTimeZone());
}

// The key's version inventory: which versions exist and which are still in
// use on the broker that answered (DescribeKey's versions).
int RunVersions(sdk::Client& client, CommandArgs& args) {
  absl::StatusOr<sdk::KeyDescription> key = client.DescribeKey(args.key);
  if (!key.ok()) return ReportError(key.status());
  Json versions = Json::array();
  for (const sdk::KeyVersionInfo& version : key->versions) {
    versions.push_back({{"key_version", version.key_version},
                        {"created", TimeJson(version.created)},
                        {"enabled", version.enabled},
                        {"last_used", TimeJson(version.last_used)},
                        {"listed", version.listed}});
  }
  Json result = {{"key", key->key},
                 {"key_version", key->key_version},
                 {"accessible", key->accessible},
                 {"versions", std::move(versions)}};
  return PrintResultAndWipe(result);
}

// Proto string fields must be UTF-8. Without this check a request fails to
// serialize and gRPC reports a baffling UNIMPLEMENTED with no message.
CLI::Validator Utf8Text() {
  return CLI::Validator(
      [](std::string& text) { return IsValidUtf8(text) ? std::string() : "not valid UTF-8"; }, "");
}

// Which of CommandArgs' options a subcommand takes.
enum Option : unsigned { kKey = 1, kEdek = 2, kPlaintext = 4, kContext = 8 };

struct Command {
  const char* name;
  const char* description;
  unsigned options;
  int (*run)(sdk::Client& client, CommandArgs& args);
};

constexpr Command kCommands[] = {
    {"generate-dek", "Generate a data encryption key and wrap it under --key", kKey | kContext,
     RunGenerateDek},
    {"wrap", "Wrap caller-supplied key material under --key", kKey | kPlaintext | kContext,
     RunWrap},
    {"unwrap", "Unwrap an EDEK (it names its own key and version)", kEdek | kContext, RunUnwrap},
    {"rewrap", "Re-wrap an EDEK under its key's current version", kEdek | kContext, RunRewrap},
    {"rotate", "Make a new version of --key current", kKey, RunRotate},
    {"describe", "Describe --key: accessible?, algorithm, current version", kKey, RunDescribe},
    {"versions", "List --key's versions: created, enabled, last used on this broker", kKey,
     RunVersions},
};

void AddOptions(CLI::App& command, unsigned options, CommandArgs* args) {
  if (options & kKey) {
    command.add_option("--key", args->key, "Key alias from the broker's configuration")
        ->required()
        ->check(Utf8Text());
  }
  if (options & kEdek) {
    command.add_option("--edek", args->edek, "EDEK, standard base64")->required();
  }
  if (options & kPlaintext) {
    command.add_option("--plaintext", args->plaintext, "Key material (1 to 64 bytes), base64")
        ->required();
  }
  if (options & kContext) {
    command
        .add_option("--context", args->context,
                    "Encryption context entry; repeat for more. Unwrap needs the same entries")
        ->type_name("KEY=VALUE")
        ->check(Utf8Text());
  }
}

}  // namespace

void AddCommands(CLI::App& app, CommandArgs* args) {
  for (const Command& command : kCommands) {
    AddOptions(*app.add_subcommand(command.name, command.description), command.options, args);
  }
  app.require_subcommand(1);
}

int RunCommand(absl::string_view name, CommandArgs& args, sdk::Client& client) {
  for (const Command& command : kCommands) {
    if (name == command.name) return command.run(client, args);
  }
  return ReportUsageError("unknown command");
}

}  // namespace keybroker::ctl
