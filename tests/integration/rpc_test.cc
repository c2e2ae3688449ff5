// Every RPC of keybroker.v1.KeyBroker through a real gRPC channel to the real
// `keybroker` binary on the embedded local keyring.
#include "gmock/gmock.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {
namespace {

using ::testing::HasSubstr;

class RpcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto broker = BrokerProcess::Start({"--listen", "127.0.0.1:0", "--data-dir", dir_->path()});
    ASSERT_OK(broker);
    broker_ = broker->release();
  }
  static void TearDownTestSuite() {
    delete broker_;
    delete dir_;
  }

  void SetUp() override {
    ASSERT_NE(broker_, nullptr) << "the broker did not start";
    stub_ = NewStub(broker_->address());
  }

  v1::GenerateDekResponse GenerateDek(const std::map<std::string, std::string>& context) {
    v1::GenerateDekRequest request;
    request.set_key("default");
    request.mutable_context()->insert(context.begin(), context.end());
    v1::GenerateDekResponse response;
    grpc::Status status = stub_->GenerateDek(Ctx().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Unwrap(const std::string& edek, const std::map<std::string, std::string>& context,
                      v1::UnwrapResponse* response) {
    v1::UnwrapRequest request;
    request.set_edek(edek);
    request.mutable_context()->insert(context.begin(), context.end());
    return stub_->Unwrap(Ctx().get(), request, response);
  }

  static TempDir* dir_;
  static BrokerProcess* broker_;
  std::unique_ptr<v1::KeyBroker::Stub> stub_;
  const std::map<std::string, std::string> context_{{"tenant", "acme"}, {"topic", "orders"}};
};

TempDir* RpcTest::dir_ = nullptr;
BrokerProcess* RpcTest::broker_ = nullptr;

TEST_F(RpcTest, GenerateDekThenUnwrapGivesTheSameDek) {
  v1::GenerateDekResponse dek = GenerateDek(context_);
  EXPECT_EQ(dek.plaintext().size(), 32u);
  EXPECT_FALSE(dek.key_version().empty());
  v1::UnwrapResponse unwrapped;
  ASSERT_TRUE(Unwrap(dek.edek(), context_, &unwrapped).ok());
  EXPECT_EQ(unwrapped.plaintext(), dek.plaintext());
  EXPECT_EQ(unwrapped.key_version(), dek.key_version());
}

TEST_F(RpcTest, WrapThenUnwrapGivesTheCallersKey) {
  for (size_t size : {1, 16, 32, 64}) {
    v1::WrapRequest request;
    request.set_key("default");
    request.set_plaintext(std::string(size, static_cast<char>('a' + size % 26)));
    v1::WrapResponse wrapped;
    ASSERT_TRUE(stub_->Wrap(Ctx().get(), request, &wrapped).ok()) << size;
    v1::UnwrapResponse unwrapped;
    ASSERT_TRUE(Unwrap(wrapped.edek(), {}, &unwrapped).ok());
    EXPECT_EQ(unwrapped.plaintext(), request.plaintext());
  }
}

TEST_F(RpcTest, WrapRejectsEmptyAndOversizedPlaintext) {
  for (size_t size : {0, 65, 1000}) {
    v1::WrapRequest request;
    request.set_key("default");
    request.set_plaintext(std::string(size, 'x'));
    v1::WrapResponse wrapped;
    grpc::Status status = stub_->Wrap(Ctx().get(), request, &wrapped);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << size;
    EXPECT_EQ(GrpcReasonOf(status), "INVALID_REQUEST");
    EXPECT_THAT(status.error_message(), HasSubstr("1 to 64 bytes"));
  }
}

TEST_F(RpcTest, DifferentOrMissingContextIsRejected) {
  v1::GenerateDekResponse dek = GenerateDek(context_);
  for (const auto& wrong : std::vector<std::map<std::string, std::string>>{
           {}, {{"tenant", "acme"}}, {{"tenant", "evil"}, {"topic", "orders"}},
           {{"tenant", "acme"}, {"topic", "orders"}, {"extra", "x"}}}) {
    v1::UnwrapResponse unwrapped;
    grpc::Status status = Unwrap(dek.edek(), wrong, &unwrapped);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(GrpcReasonOf(status), "EDEK_INVALID");
    EXPECT_TRUE(unwrapped.plaintext().empty());
  }
}

TEST_F(RpcTest, UnknownAliasIsNotFoundWithReason) {
  v1::GenerateDekRequest request;
  request.set_key("no-such-key");
  v1::GenerateDekResponse response;
  grpc::Status status = stub_->GenerateDek(Ctx().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GrpcReasonOf(status), "KEY_NOT_FOUND");
  EXPECT_THAT(status.error_message(), HasSubstr("no-such-key"));

  v1::RotateRequest rotate;
  rotate.set_key("no-such-key");
  v1::RotateResponse rotated;
  EXPECT_EQ(GrpcReasonOf(stub_->Rotate(Ctx().get(), rotate, &rotated)), "KEY_NOT_FOUND");
  v1::DescribeKeyRequest describe;
  describe.set_key("no-such-key");
  v1::DescribeKeyResponse described;
  EXPECT_EQ(GrpcReasonOf(stub_->DescribeKey(Ctx().get(), describe, &described)), "KEY_NOT_FOUND");
}

TEST_F(RpcTest, RotateThenNewDeksUseTheNewVersionAndOldOnesStillUnwrap) {
  v1::GenerateDekResponse before = GenerateDek(context_);
  v1::RotateRequest rotate;
  rotate.set_key("default");
  v1::RotateResponse rotated;
  ASSERT_TRUE(stub_->Rotate(Ctx().get(), rotate, &rotated).ok());
  EXPECT_EQ(std::stoi(rotated.key_version()), std::stoi(before.key_version()) + 1);

  v1::GenerateDekResponse after = GenerateDek(context_);
  EXPECT_EQ(after.key_version(), rotated.key_version());
  for (const v1::GenerateDekResponse* dek : {&before, &after}) {
    v1::UnwrapResponse unwrapped;
    ASSERT_TRUE(Unwrap(dek->edek(), context_, &unwrapped).ok());
    EXPECT_EQ(unwrapped.plaintext(), dek->plaintext());
  }
  v1::DescribeKeyRequest describe;
  describe.set_key("default");
  v1::DescribeKeyResponse described;
  ASSERT_TRUE(stub_->DescribeKey(Ctx().get(), describe, &described).ok());
  EXPECT_EQ(described.key_version(), rotated.key_version());
}

TEST_F(RpcTest, RewrapMovesToTheCurrentVersionAndKeepsTheDek) {
  v1::GenerateDekResponse dek = GenerateDek(context_);
  v1::RotateRequest rotate;
  rotate.set_key("default");
  v1::RotateResponse rotated;
  ASSERT_TRUE(stub_->Rotate(Ctx().get(), rotate, &rotated).ok());

  v1::RewrapRequest request;
  request.set_edek(dek.edek());
  request.mutable_context()->insert(context_.begin(), context_.end());
  v1::RewrapResponse rewrapped;
  ASSERT_TRUE(stub_->Rewrap(Ctx().get(), request, &rewrapped).ok());
  EXPECT_EQ(rewrapped.key_version(), rotated.key_version());
  EXPECT_NE(rewrapped.edek(), dek.edek());
  v1::UnwrapResponse unwrapped;
  ASSERT_TRUE(Unwrap(rewrapped.edek(), context_, &unwrapped).ok());
  EXPECT_EQ(unwrapped.plaintext(), dek.plaintext());
  EXPECT_EQ(unwrapped.key_version(), rotated.key_version());

  request.clear_context();
  grpc::Status status = stub_->Rewrap(Ctx().get(), request, &rewrapped);
  EXPECT_EQ(GrpcReasonOf(status), "EDEK_INVALID");
}

TEST_F(RpcTest, DescribeKeyReportsTheServiceManagedKey) {
  v1::DescribeKeyRequest request;
  request.set_key("default");
  v1::DescribeKeyResponse response;
  ASSERT_TRUE(stub_->DescribeKey(Ctx().get(), request, &response).ok());
  EXPECT_EQ(response.key(), "default");
  EXPECT_TRUE(response.accessible());
  EXPECT_EQ(response.algorithm(), "AES-256-GCM");
  EXPECT_TRUE(response.quantum_resistant());
  EXPECT_FALSE(response.customer_managed());
  EXPECT_EQ(response.kms(), "local");
  EXPECT_TRUE(response.reason().empty());
}

TEST_F(RpcTest, OversizedContextIsRejected) {
  v1::GenerateDekRequest request;
  request.set_key("default");
  for (int i = 0; i < 65; ++i) (*request.mutable_context())["k" + std::to_string(i)] = "v";
  v1::GenerateDekResponse response;
  grpc::Status status = stub_->GenerateDek(Ctx().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GrpcReasonOf(status), "INVALID_REQUEST");
}

TEST_F(RpcTest, HealthServiceReportsServing) {
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(broker_->address(), grpc::InsecureChannelCredentials()));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(Ctx().get(), request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

// Reflection lists every service and message to anyone who connects: off
// unless asked for.
TEST_F(RpcTest, ReflectionIsOffByDefault) {
  using grpc::reflection::v1alpha::ServerReflection;
  using grpc::reflection::v1alpha::ServerReflectionRequest;
  using grpc::reflection::v1alpha::ServerReflectionResponse;
  auto reflection = ServerReflection::NewStub(
      grpc::CreateChannel(broker_->address(), grpc::InsecureChannelCredentials()));
  auto context = Ctx();
  auto stream = reflection->ServerReflectionInfo(context.get());
  ServerReflectionRequest request;
  request.set_list_services("");
  stream->Write(request);
  ServerReflectionResponse response;
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST(RpcReflectionTest, ReflectionListsTheServicesWhenAskedFor) {
  using grpc::reflection::v1alpha::ServerReflection;
  using grpc::reflection::v1alpha::ServerReflectionRequest;
  using grpc::reflection::v1alpha::ServerReflectionResponse;
  TempDir dir;
  auto broker = BrokerProcess::Start(
      {"--listen", "127.0.0.1:0", "--data-dir", dir.path(), "--reflection"});
  ASSERT_OK(broker);
  auto reflection = ServerReflection::NewStub(
      grpc::CreateChannel((*broker)->address(), grpc::InsecureChannelCredentials()));
  auto context = Ctx();
  auto stream = reflection->ServerReflectionInfo(context.get());
  ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::vector<std::string> names;
  for (const auto& service : response.list_services_response().service()) {
    names.push_back(service.name());
  }
  EXPECT_THAT(names, ::testing::IsSupersetOf({"keybroker.v1.KeyBroker", "grpc.health.v1.Health"}));
  stream->WritesDone();
}

TEST_F(RpcTest, ManyConcurrentCallsAllSucceed) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto stub = NewStub(broker_->address());
      for (int i = 0; i < 50; ++i) {
        v1::GenerateDekRequest request;
        request.set_key("default");
        v1::GenerateDekResponse dek;
        v1::UnwrapRequest unwrap;
        v1::UnwrapResponse unwrapped;
        if (!stub->GenerateDek(Ctx().get(), request, &dek).ok()) ++failures;
        unwrap.set_edek(dek.edek());
        if (!stub->Unwrap(Ctx().get(), unwrap, &unwrapped).ok() ||
            unwrapped.plaintext() != dek.plaintext()) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace keybroker::testing
