// KeyBrokerService: the gRPC handlers of keybroker.v1.KeyBroker.
//
// Handlers are thin: read the request, call one BrokerCore function, fill the
// response or translate the error (grpc_status.h). They use gRPC's callback
// API: calls on the local keyring finish inline on gRPC's thread (CPU-only,
// except a Rotate's file write); calls that may wait on a remote KMS run on
// the BlockingExecutor, because callback threads must not block.
// Responses and requests that hold key material are wiped when the RPC is
// done (gRPC's own transport buffers are beyond our reach).
//
// Safe for concurrent use.
#ifndef KEYBROKER_SERVER_KEY_BROKER_SERVICE_H_
#define KEYBROKER_SERVER_KEY_BROKER_SERVICE_H_

#include "keybroker/v1/key_broker.grpc.pb.h"
#include "server/blocking_executor.h"
#include "server/broker_core.h"

namespace keybroker::server {

class KeyBrokerService final : public keybroker::v1::KeyBroker::CallbackService {
 public:
  // `core` and `executor` must outlive the service; without an executor
  // everything runs inline.
  KeyBrokerService(const BrokerCore* core, BlockingExecutor* executor)
      : core_(core), executor_(executor) {}

  grpc::ServerUnaryReactor* GenerateDek(grpc::CallbackServerContext* context,
                                        const v1::GenerateDekRequest* request,
                                        v1::GenerateDekResponse* response) override;
  grpc::ServerUnaryReactor* Wrap(grpc::CallbackServerContext* context,
                                 const v1::WrapRequest* request,
                                 v1::WrapResponse* response) override;
  grpc::ServerUnaryReactor* Unwrap(grpc::CallbackServerContext* context,
                                   const v1::UnwrapRequest* request,
                                   v1::UnwrapResponse* response) override;
  grpc::ServerUnaryReactor* Rotate(grpc::CallbackServerContext* context,
                                   const v1::RotateRequest* request,
                                   v1::RotateResponse* response) override;
  grpc::ServerUnaryReactor* Rewrap(grpc::CallbackServerContext* context,
                                   const v1::RewrapRequest* request,
                                   v1::RewrapResponse* response) override;
  grpc::ServerUnaryReactor* DescribeKey(grpc::CallbackServerContext* context,
                                        const v1::DescribeKeyRequest* request,
                                        v1::DescribeKeyResponse* response) override;

 private:
  // Runs `work` (returning absl::Status) inline or on the executor, then
  // finishes `reactor` with its status.
  template <typename Work>
  grpc::ServerUnaryReactor* Run(grpc::ServerUnaryReactor* reactor, bool may_block, Work work);

  const BrokerCore* core_;
  BlockingExecutor* executor_;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_KEY_BROKER_SERVICE_H_
