#include "ctl/commands.h"

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "common/utf8.h"
#include "ctl/json_output.h"
#include "ctl/request_args.h"
#include "crypto/wipe.h"

namespace keybroker::ctl {

using ::keybroker::crypto::WipeString;
using ::keybroker::crypto::ScopedWipe;
namespace {

namespace v1 = ::keybroker::v1;
using Stub = v1::KeyBroker::StubInterface;

// Where a subcommand sends its one RPC.
struct Target {
  Stub& stub;
  const ConnectionFlags& flags;
};

template <typename Request, typename Response>
using Method = grpc::Status (Stub::*)(grpc::ClientContext*, const Request&, Response*);

template <typename Request, typename Response>
grpc::Status Invoke(const Target& target, Method<Request, Response> method, const Request& request,
                    Response* response) {
  std::unique_ptr<grpc::ClientContext> context = MakeCallContext(target.flags);
  return (target.stub.*method)(context.get(), request, response);
}

int RunGenerateDek(const Target& target, CommandArgs& args) {
  v1::GenerateDekRequest request;
  request.set_key(args.key);
  absl::Status usage = AddContextPairs(args.context, request.mutable_context());
  if (!usage.ok()) return ReportUsageError(usage.message());
  v1::GenerateDekResponse response;
  ScopedWipe wipe_dek(response.mutable_plaintext());
  grpc::Status status = Invoke(target, &Stub::GenerateDek, request, &response);
  if (!status.ok()) return ReportRpcError(status);
  Json result = {{"plaintext", absl::Base64Escape(response.plaintext())},
                 {"edek", absl::Base64Escape(response.edek())},
                 {"key_version", response.key_version()}};
  return PrintResultAndWipe(result);
}

int RunWrap(const Target& target, CommandArgs& args) {
  v1::WrapRequest request;
  request.set_key(args.key);
  ScopedWipe wipe_dek(request.mutable_plaintext());
  absl::Status usage = DecodeBase64Flag("--plaintext", args.plaintext, request.mutable_plaintext());
  WipeString(&args.plaintext);
  if (usage.ok()) usage = AddContextPairs(args.context, request.mutable_context());
  if (!usage.ok()) return ReportUsageError(usage.message());
  v1::WrapResponse response;
  grpc::Status status = Invoke(target, &Stub::Wrap, request, &response);
  if (!status.ok()) return ReportRpcError(status);
  Json result = {{"edek", absl::Base64Escape(response.edek())},
                 {"key_version", response.key_version()}};
  return PrintResultAndWipe(result);
}

// Unwrap and Rewrap requests have the same two fields.
template <typename Request>
absl::Status FillEdekRequest(CommandArgs& args, Request* request) {
  absl::Status usage = DecodeBase64Flag("--edek", args.edek, request->mutable_edek());
  if (usage.ok()) usage = AddContextPairs(args.context, request->mutable_context());
  return usage;
}

int RunUnwrap(const Target& target, CommandArgs& args) {
  v1::UnwrapRequest request;
  absl::Status usage = FillEdekRequest(args, &request);
  if (!usage.ok()) return ReportUsageError(usage.message());
  v1::UnwrapResponse response;
  ScopedWipe wipe_dek(response.mutable_plaintext());
  grpc::Status status = Invoke(target, &Stub::Unwrap, request, &response);
  if (!status.ok()) return ReportRpcError(status);
  Json result = {{"plaintext", absl::Base64Escape(response.plaintext())},
                 {"key_version", response.key_version()}};
  return PrintResultAndWipe(result);
}

int RunRewrap(const Target& target, CommandArgs& args) {
  v1::RewrapRequest request;
  absl::Status usage = FillEdekRequest(args, &request);
  if (!usage.ok()) return ReportUsageError(usage.message());
  v1::RewrapResponse response;
  grpc::Status status = Invoke(target, &Stub::Rewrap, request, &response);
  if (!status.ok()) return ReportRpcError(status);
  Json result = {{"edek", absl::Base64Escape(response.edek())},
                 {"key_version", response.key_version()}};
  return PrintResultAndWipe(result);
}

int RunRotate(const Target& target, CommandArgs& args) {
  v1::RotateRequest request;
  request.set_key(args.key);
  v1::RotateResponse response;
  grpc::Status status = Invoke(target, &Stub::Rotate, request, &response);
  if (!status.ok()) return ReportRpcError(status);
  Json result = {{"key_version", response.key_version()}};
  return PrintResultAndWipe(result);
}

int RunDescribe(const Target& target, CommandArgs& args) {
  v1::DescribeKeyRequest request;
  request.set_key(args.key);
  v1::DescribeKeyResponse response;
  grpc::Status status = Invoke(target, &Stub::DescribeKey, request, &response);
  if (!status.ok()) return ReportRpcError(status);
  Json result = {{"key", response.key()},
                 {"key_version", response.key_version()},
                 {"algorithm", response.algorithm()},
                 {"accessible", response.accessible()},
                 {"quantum_resistant", response.quantum_resistant()},
                 {"customer_managed", response.customer_managed()},
                 {"reason", response.reason()},
                 {"kms", response.kms()}};
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
  int (*run)(const Target& target, CommandArgs& args);
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

int RunCommand(absl::string_view name, CommandArgs& args, Stub& stub,
               const ConnectionFlags& flags) {
  for (const Command& command : kCommands) {
    if (name == command.name) return command.run(Target{stub, flags}, args);
  }
  return ReportUsageError("unknown command");
}

}  // namespace keybroker::ctl
