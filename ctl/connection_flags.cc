#include "ctl/connection_flags.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "ctl/request_args.h"

namespace keybroker::ctl {
namespace {

CLI::Validator TimeoutSeconds() {
  return CLI::Validator(
      [](std::string& text) { return std::string(CheckTimeoutSeconds(text).message()); }, "");
}

}  // namespace

void AddConnectionOptions(CLI::App& app, ConnectionFlags* flags) {
  sdk::ClientOptions& client = flags->client;
  client.target = "127.0.0.1:50051";
  app.add_option("--addr", client.target, "Broker address, host:port or unix:/path")
      ->capture_default_str();
  app.add_option("--timeout", flags->timeout_seconds, "Deadline of the call, in seconds")
      ->check(TimeoutSeconds())
      ->capture_default_str();
  app.add_flag("--tls", client.tls, "Use TLS, trusting the system's roots");
  app.add_option("--ca-file", client.ca_file, "PEM roots to trust instead (implies --tls)")
      ->check(CLI::ExistingFile);
  CLI::Option* cert =
      app.add_option("--cert-file", client.cert_file, "PEM client certificate, for mutual TLS")
          ->check(CLI::ExistingFile);
  CLI::Option* key =
      app.add_option("--key-file", client.key_file, "PEM client private key, for mutual TLS")
          ->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
  // Without TLS the SDK speaks only to this host: keys travel in the answers.
  app.add_flag("--allow-plaintext", client.allow_plaintext,
               "Allow plaintext to a broker on another host (only on a trusted network)");
}

absl::StatusOr<std::unique_ptr<sdk::Client>> ConnectToBroker(const ConnectionFlags& flags) {
  sdk::ClientOptions options = flags.client;
  options.timeout = absl::Seconds(flags.timeout_seconds);
  absl::StatusOr<std::unique_ptr<sdk::Client>> client = sdk::Client::Create(options);
  if (client.ok() || !sdk::IsPlaintextRefused(client.status())) return client;
  // The SDK's message names ClientOptions fields; the operator types flags.
  return absl::InvalidArgumentError(absl::StrCat(
      "--addr ", options.target,
      " is not on this host, and without TLS the keys in the answers would cross the network "
      "in plaintext: use --tls (with --ca-file for a private CA), or --allow-plaintext if the "
      "network itself is trusted"));
}

}  // namespace keybroker::ctl
