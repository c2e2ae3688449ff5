#include "client_sdk/src/channel.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/substitute.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "crypto/wipe.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace keybroker::sdk::internal {
namespace {

// Far above any real certificate bundle; keeps a mistyped path (a disk image,
// /dev/zero) from being read whole.
constexpr size_t kMaxPemFileSize = 1 << 20;

// Marks Create's refusal of plaintext to another host (IsPlaintextRefused).
constexpr absl::string_view kPlaintextRefusedUrl = "type.keybroker.dev/sdk_plaintext_refused";

bool WantsTls(const ClientOptions& options) {
  return options.tls || !options.ca_file.empty() || !options.cert_file.empty() ||
         !options.key_file.empty();
}

absl::Status ReadPemOption(absl::string_view option, const std::string& path, std::string* out) {
  if (path.empty()) return absl::OkStatus();
  absl::Status read = ReadFileInto(path, kMaxPemFileSize, out);
  if (read.ok()) return read;
  return absl::InvalidArgumentError(absl::StrCat(option, " ", path, ": ", read.message()));
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsCredentials(
    const ClientOptions& options) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError("mutual TLS needs both cert_file and key_file");
  }
  // Empty pem_root_certs means gRPC's default roots: the system's.
  grpc::SslCredentialsOptions ssl;
  crypto::ScopedWipe wipe_key(&ssl.pem_private_key);  // the credentials keep their own copy
  RETURN_IF_ERROR(ReadPemOption("ca_file", options.ca_file, &ssl.pem_root_certs));
  RETURN_IF_ERROR(ReadPemOption("cert_file", options.cert_file, &ssl.pem_cert_chain));
  RETURN_IF_ERROR(ReadPemOption("key_file", options.key_file, &ssl.pem_private_key));
  return grpc::SslCredentials(ssl);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
    const ClientOptions& options) {
  if (WantsTls(options)) return TlsCredentials(options);
  if (!options.server_name_override.empty()) {
    return absl::InvalidArgumentError("server_name_override needs TLS");
  }
  // DEKs travel in these responses: plaintext beyond this host only when the
  // caller says the network is trusted (say, a service mesh's mutual TLS).
  if (!options.allow_plaintext && !IsLocalTarget(options.target)) {
    absl::Status refused = absl::InvalidArgumentError(absl::StrCat(
        "target ", options.target,
        " is not on this host: set tls (with ca_file for a private CA), or allow_plaintext "
        "if the network itself is trusted"));
    refused.SetPayload(kPlaintextRefusedUrl, absl::Cord("1"));
    return refused;
  }
  return grpc::InsecureChannelCredentials();
}

// "localhost", "127.x.y.z" or "::1", with or without brackets.
bool IsLoopbackHost(absl::string_view host) {
  host = absl::StripPrefix(absl::StripSuffix(host, "]"), "[");
  if (host == "localhost" || host == "::1") return true;
  return absl::StartsWith(host, "127.") &&
         host.find_first_not_of("0123456789.") == absl::string_view::npos;
}

// The host of "host:port", "[v6]:port" or a bare host.
absl::string_view HostOf(absl::string_view address) {
  if (absl::StartsWith(address, "[")) return address.substr(0, address.find(']') + 1);
  size_t colon = address.rfind(':');
  if (colon != absl::string_view::npos && address.find(':') == colon) {
    return address.substr(0, colon);
  }
  return address;  // no port, or a bare IPv6 address
}

}  // namespace

bool IsLocalTarget(absl::string_view target) {
  if (absl::StartsWith(target, "unix:") || absl::StartsWith(target, "unix-abstract:")) {
    return true;
  }
  if (absl::ConsumePrefix(&target, "ipv4:") || absl::ConsumePrefix(&target, "ipv6:")) {
    for (absl::string_view address : absl::StrSplit(target, ',')) {
      if (!IsLoopbackHost(HostOf(address))) return false;
    }
    return !target.empty();
  }
  if (absl::ConsumePrefix(&target, "dns:")) {
    // dns:[//authority]/host[:port]
    if (absl::ConsumePrefix(&target, "//")) {
      size_t slash = target.find('/');
      if (slash == absl::string_view::npos) return false;
      target.remove_prefix(slash + 1);
    }
  } else if (target.find("://") != absl::string_view::npos || absl::StrContains(target, ":/")) {
    return false;  // another resolver: we cannot tell where it leads
  }
  return IsLoopbackHost(HostOf(target));
}

std::string ServiceConfigJson(int max_attempts) {
  // gRPC rejects a whole service config whose maxAttempts is below 2, and
  // treats anything above 5 as 5.
  max_attempts = std::clamp(max_attempts, 2, 5);
  // A "name" entry without "method" applies to every method of the service.
  return absl::Substitute(R"json({
  "loadBalancingConfig": [{"round_robin": {}}],
  "methodConfig": [{
    "name": [{"service": "keybroker.v1.KeyBroker"}],
    "retryPolicy": {
      "maxAttempts": $0,
      "initialBackoff": "0.1s",
      "maxBackoff": "1s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
})json",
                          max_attempts);
}

grpc::ChannelArguments ChannelArgumentsFor(const ClientOptions& options,
                                          const Keepalive& keepalive) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(ServiceConfigJson(options.max_attempts));
  // The config above is a default that a DNS TXT record could replace; the
  // retry and balancing policy is ours to choose, not the name server's.
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  if (!options.server_name_override.empty()) {
    args.SetSslTargetNameOverride(options.server_name_override);
  }
  // Keepalive (channel.h says why these values).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              static_cast<int>(absl::ToInt64Milliseconds(keepalive.time)));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              static_cast<int>(absl::ToInt64Milliseconds(keepalive.timeout)));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  return args;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ClientOptions& options,
                                                           const Keepalive& keepalive) {
  if (options.target.empty()) return absl::InvalidArgumentError("target is empty");
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials, Credentials(options));
  return grpc::CreateCustomChannel(options.target, credentials,
                                   ChannelArgumentsFor(options, keepalive));
}

}  // namespace keybroker::sdk::internal

namespace keybroker::sdk {

bool IsPlaintextRefused(const absl::Status& status) {
  return status.GetPayload(internal::kPlaintextRefusedUrl).has_value();
}

}  // namespace keybroker::sdk
