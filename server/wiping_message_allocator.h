// WipingMessageAllocator: the gRPC message allocator of the callback
// handlers whose messages hold key material (GenerateDek's and Unwrap's
// responses, Wrap's request): it wipes that material when gRPC releases the
// messages, once the RPC is done (gRPC's own transport buffers are beyond
// our reach).
//
// Why not a reactor that wipes in OnDone: gRPC runs OnDone of any reactor
// but its own default one on an executor thread, so every such RPC cost a
// hand-off to gRPC's default-executor and back (futex wake-ups and context
// switches: most of the CPU the broker spent per call beyond a bare gRPC
// server, issue 12). Messages are released inline on the calling thread
// right after OnDone, so the handlers can finish with the default reactor.
//
// Safe for concurrent use; must outlive the server.
#ifndef KEYBROKER_SERVER_WIPING_MESSAGE_ALLOCATOR_H_
#define KEYBROKER_SERVER_WIPING_MESSAGE_ALLOCATOR_H_

#include "grpcpp/support/message_allocator.h"

namespace keybroker::server {

template <typename Request, typename Response>
class WipingMessageAllocator final : public grpc::MessageAllocator<Request, Response> {
 public:
  // Wipes the key material in a request and its response.
  using Wipe = void (*)(Request* request, Response* response);

  explicit WipingMessageAllocator(Wipe wipe) : wipe_(wipe) {}

  grpc::MessageHolder<Request, Response>* AllocateMessages() override {
    return new Holder(wipe_);
  }

 private:
  // The two messages of one RPC, in one allocation.
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    explicit Holder(Wipe wipe) : wipe_(wipe) {
      this->set_request(&request_);
      this->set_response(&response_);
    }
    void Release() override {
      wipe_(&request_, &response_);
      delete this;
    }

   private:
    const Wipe wipe_;
    Request request_;
    Response response_;
  };

  const Wipe wipe_;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_WIPING_MESSAGE_ALLOCATOR_H_
