#include "keybroker/sdk/client.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "client_sdk/src/channel.h"
#include "client_sdk/src/grpc_key_watch.h"
#include "client_sdk/src/grpc_status.h"
#include "common/status_macros.h"
#include "crypto/wipe.h"
#include "grpcpp/client_context.h"
#include "keybroker/v1/key_broker.grpc.pb.h"

namespace keybroker::sdk {
namespace {

template <typename Request>
void SetContext(const Context& context, Request* request) {
  request->mutable_context()->insert(context.begin(), context.end());
}

// Wrap and Rewrap answer alike: the EDEK and the version that wrapped it.
template <typename Response>
WrappedDek WrappedDekOf(Response& response) {
  return WrappedDek{std::move(*response.mutable_edek()),
                    std::move(*response.mutable_key_version())};
}

}  // namespace

// Owns the stub (which shares the channel with key watches); the stub is
// safe for concurrent use, and nothing here changes after construction.
class Client::Impl {
 public:
  Impl(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout)
      : channel_(channel), stub_(v1::KeyBroker::NewStub(std::move(channel))), timeout_(timeout) {}

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // Calls `method` with a fresh deadline (which bounds every retry attempt
  // together) and translates its status.
  template <typename Request, typename Response>
  absl::Status Call(grpc::Status (v1::KeyBroker::Stub::*method)(grpc::ClientContext*,
                                                                const Request&, Response*),
                    const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    return internal::FromGrpcStatus((stub_.get()->*method)(&context, request, response));
  }

 private:
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::KeyBroker::Stub> stub_;
  const absl::Duration timeout_;
};

absl::StatusOr<std::unique_ptr<Client>> Client::Create(const ClientOptions& options) {
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout must be positive");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, internal::MakeChannel(options));
  return std::unique_ptr<Client>(
      new Client(std::make_unique<Impl>(std::move(channel), options.timeout)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

// The plaintext DEKs below come out of the response messages into
// SecretBytes, and the messages' copies are wiped before the messages die.
// (gRPC's own wire buffers are beyond our reach.)

absl::StatusOr<DataKey> Client::GenerateDek(absl::string_view key_alias, const Context& context) {
  v1::GenerateDekRequest request;
  request.set_key(std::string(key_alias));
  SetContext(context, &request);
  v1::GenerateDekResponse response;
  absl::Status status = impl_->Call(&v1::KeyBroker::Stub::GenerateDek, request, &response);
  crypto::ScopedWipe wipe(response.mutable_plaintext());
  RETURN_IF_ERROR(status);
  return DataKey{crypto::SecretBytes::CopyFrom(response.plaintext()),
                 std::move(*response.mutable_edek()), std::move(*response.mutable_key_version())};
}

absl::StatusOr<crypto::SecretBytes> Client::Unwrap(absl::string_view edek, const Context& context) {
  ASSIGN_OR_RETURN(UnwrappedDek unwrapped, UnwrapWithVersion(edek, context));
  return std::move(unwrapped.plaintext);
}

absl::StatusOr<UnwrappedDek> Client::UnwrapWithVersion(absl::string_view edek,
                                                       const Context& context) {
  v1::UnwrapRequest request;
  request.set_edek(std::string(edek));
  SetContext(context, &request);
  v1::UnwrapResponse response;
  absl::Status status = impl_->Call(&v1::KeyBroker::Stub::Unwrap, request, &response);
  crypto::ScopedWipe wipe(response.mutable_plaintext());
  RETURN_IF_ERROR(status);
  return UnwrappedDek{crypto::SecretBytes::CopyFrom(response.plaintext()),
                      std::move(*response.mutable_key_version())};
}

absl::StatusOr<std::string> Client::Wrap(absl::string_view key_alias,
                                         const crypto::SecretBytes& plaintext,
                                         const Context& context) {
  ASSIGN_OR_RETURN(WrappedDek wrapped, WrapWithVersion(key_alias, plaintext, context));
  return std::move(wrapped.edek);
}

absl::StatusOr<WrappedDek> Client::WrapWithVersion(absl::string_view key_alias,
                                                   const crypto::SecretBytes& plaintext,
                                                   const Context& context) {
  v1::WrapRequest request;
  request.set_key(std::string(key_alias));
  // Copied straight into the field: a temporary string would leave an
  // unwiped copy of short keys behind.
  std::string* secret = request.mutable_plaintext();
  crypto::ScopedWipe wipe(secret);
  secret->assign(plaintext.RevealAsStringView().data(), plaintext.size());
  SetContext(context, &request);
  v1::WrapResponse response;
  RETURN_IF_ERROR(impl_->Call(&v1::KeyBroker::Stub::Wrap, request, &response));
  return WrappedDekOf(response);
}

absl::StatusOr<std::string> Client::Rewrap(absl::string_view edek, const Context& context) {
  ASSIGN_OR_RETURN(WrappedDek rewrapped, RewrapWithVersion(edek, context));
  return std::move(rewrapped.edek);
}

absl::StatusOr<WrappedDek> Client::RewrapWithVersion(absl::string_view edek,
                                                     const Context& context) {
  v1::RewrapRequest request;
  request.set_edek(std::string(edek));
  SetContext(context, &request);
  v1::RewrapResponse response;
  RETURN_IF_ERROR(impl_->Call(&v1::KeyBroker::Stub::Rewrap, request, &response));
  return WrappedDekOf(response);
}

absl::StatusOr<std::string> Client::Rotate(absl::string_view key_alias) {
  v1::RotateRequest request;
  request.set_key(std::string(key_alias));
  v1::RotateResponse response;
  RETURN_IF_ERROR(impl_->Call(&v1::KeyBroker::Stub::Rotate, request, &response));
  return std::move(*response.mutable_key_version());
}

absl::StatusOr<KeyDescription> Client::DescribeKey(absl::string_view key_alias) {
  v1::DescribeKeyRequest request;
  request.set_key(std::string(key_alias));
  v1::DescribeKeyResponse response;
  RETURN_IF_ERROR(impl_->Call(&v1::KeyBroker::Stub::DescribeKey, request, &response));
  KeyDescription description;
  description.key = response.key();
  description.key_version = response.key_version();
  description.algorithm = response.algorithm();
  description.reason = response.reason();
  description.kms = response.kms();
  description.accessible = response.accessible();
  description.quantum_resistant = response.quantum_resistant();
  description.customer_managed = response.customer_managed();
  for (const v1::KeyVersionInfo& version : response.versions()) {
    KeyVersionInfo info;
    info.key_version = version.key_version();
    if (version.has_created()) info.created = absl::FromUnixSeconds(version.created().seconds());
    info.enabled = version.enabled();
    if (version.has_last_used()) {
      info.last_used = absl::FromUnixSeconds(version.last_used().seconds());
    }
    info.listed = version.listed();
    description.versions.push_back(std::move(info));
  }
  return description;
}

std::unique_ptr<KeyWatch> Client::WatchKeys(const std::vector<std::string>& keys,
                                            KeyEventCallback on_event) {
  return std::make_unique<internal::GrpcKeyWatch>(impl_->channel(), keys, std::move(on_event));
}

}  // namespace keybroker::sdk
