#include "ctl/channel.h"

#include <chrono>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "crypto/wipe.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace keybroker::ctl {

using ::keybroker::crypto::WipeString;
namespace {

// Far above any real certificate bundle; keeps a mistyped path (a disk
// image, /dev/zero) from being read whole.
constexpr size_t kMaxPemFileSize = 1 << 20;

absl::Status ReadPemFlag(absl::string_view flag, const std::string& path, std::string* out) {
  if (path.empty()) return absl::OkStatus();
  absl::Status read = ReadFileInto(path, kMaxPemFileSize, out);
  if (read.ok()) return read;
  return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": ", read.message()));
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsCredentials(
    const ConnectionFlags& flags) {
  if (flags.cert_file.empty() != flags.key_file.empty()) {
    return absl::InvalidArgumentError("mutual TLS needs both --cert-file and --key-file");
  }
  // Empty pem_root_certs means gRPC's default roots: the system's.
  grpc::SslCredentialsOptions options;
  absl::Status read = ReadPemFlag("--ca-file", flags.ca_file, &options.pem_root_certs);
  if (read.ok()) read = ReadPemFlag("--cert-file", flags.cert_file, &options.pem_cert_chain);
  if (read.ok()) read = ReadPemFlag("--key-file", flags.key_file, &options.pem_private_key);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (read.ok()) credentials = grpc::SslCredentials(options);
  // The credentials keep their own copy; ours of the private key goes now.
  WipeString(&options.pem_private_key);
  if (!read.ok()) return read;
  return credentials;
}

bool WantsTls(const ConnectionFlags& flags) {
  return flags.tls || !flags.ca_file.empty() || !flags.cert_file.empty() || !flags.key_file.empty();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ConnectionFlags& flags) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (WantsTls(flags)) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> tls = TlsCredentials(flags);
    if (!tls.ok()) return tls.status();
    credentials = *std::move(tls);
  }
  return grpc::CreateChannel(flags.addr, credentials);
}

std::unique_ptr<grpc::ClientContext> MakeCallContext(const ConnectionFlags& flags) {
  auto context = std::make_unique<grpc::ClientContext>();
  auto timeout = std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::duration<double>(flags.timeout_seconds));
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

}  // namespace keybroker::ctl
