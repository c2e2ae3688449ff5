#include "server/wiping_message_allocator.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "keybroker/v1/key_broker.pb.h"

namespace keybroker::server {
namespace {

using Allocator = WipingMessageAllocator<v1::UnwrapRequest, v1::UnwrapResponse>;

// What the wipe saw: the response's plaintext when called, for each call.
std::vector<std::string>* g_wiped = nullptr;

void RecordAndWipe(v1::UnwrapRequest* request, v1::UnwrapResponse* response) {
  g_wiped->push_back(response->plaintext());
  response->mutable_plaintext()->assign(response->plaintext().size(), '\0');
  request->clear_edek();
}

TEST(WipingMessageAllocatorTest, ReleaseWipesTheMessagesGrpcWasGiven) {
  std::vector<std::string> wiped;
  g_wiped = &wiped;
  Allocator allocator(RecordAndWipe);
  grpc::MessageHolder<v1::UnwrapRequest, v1::UnwrapResponse>* first = allocator.AllocateMessages();
  grpc::MessageHolder<v1::UnwrapRequest, v1::UnwrapResponse>* second =
      allocator.AllocateMessages();
  ASSERT_NE(first->request(), nullptr);
  ASSERT_NE(first->response(), nullptr);
  EXPECT_NE(first->response(), second->response());  // each RPC its own messages
  first->request()->set_edek("edek-1");
  first->response()->set_plaintext("dek-1");
  second->response()->set_plaintext("dek-2");

  first->Release();
  EXPECT_EQ(wiped, (std::vector<std::string>{"dek-1"}));
  second->Release();
  EXPECT_EQ(wiped, (std::vector<std::string>{"dek-1", "dek-2"}));
  g_wiped = nullptr;
}

}  // namespace
}  // namespace keybroker::server
