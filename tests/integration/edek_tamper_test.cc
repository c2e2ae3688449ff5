// Every single-byte change and every truncation of an EDEK sent to the real
// broker is rejected with INVALID_ARGUMENT / EDEK_INVALID: never accepted,
// never a server fault.
#include "gtest/gtest.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {
namespace {

class EdekTamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker = BrokerProcess::Start({"--listen", "127.0.0.1:0", "--data-dir", dir_.path()});
    ASSERT_OK(broker);
    broker_ = *std::move(broker);
    stub_ = NewStub(broker_->address());
    v1::GenerateDekRequest request;
    request.set_key("default");
    (*request.mutable_context())["tenant"] = "acme";
    ASSERT_TRUE(stub_->GenerateDek(Ctx().get(), request, &dek_).ok());
  }

  // Unwraps `edek` under the original context; returns "" when the broker
  // rejected it as it must, else a description of what happened.
  std::string Misbehaviour(const std::string& edek) {
    v1::UnwrapRequest request;
    request.set_edek(edek);
    (*request.mutable_context())["tenant"] = "acme";
    v1::UnwrapResponse response;
    grpc::Status status = stub_->Unwrap(Ctx().get(), request, &response);
    if (status.ok()) return "accepted";
    if (status.error_code() != grpc::StatusCode::INVALID_ARGUMENT ||
        GrpcReasonOf(status) != "EDEK_INVALID") {
      return "code " + std::to_string(status.error_code()) + " reason " + GrpcReasonOf(status) +
             ": " + status.error_message();
    }
    return "";
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<v1::KeyBroker::Stub> stub_;
  v1::GenerateDekResponse dek_;
};

TEST_F(EdekTamperTest, OriginalUnwraps) {
  v1::UnwrapRequest request;
  request.set_edek(dek_.edek());
  (*request.mutable_context())["tenant"] = "acme";
  v1::UnwrapResponse response;
  ASSERT_TRUE(stub_->Unwrap(Ctx().get(), request, &response).ok());
  EXPECT_EQ(response.plaintext(), dek_.plaintext());
}

TEST_F(EdekTamperTest, EverySingleByteChangeIsRejected) {
  const std::string& original = dek_.edek();
  int checked = 0;
  std::vector<std::string> failures;
  for (size_t i = 0; i < original.size(); ++i) {
    for (int value = 0; value < 256; ++value) {
      if (static_cast<char>(value) == original[i]) continue;
      std::string changed = original;
      changed[i] = static_cast<char>(value);
      std::string what = Misbehaviour(changed);
      ++checked;
      if (!what.empty() && failures.size() < 10) {
        failures.push_back("byte " + std::to_string(i) + "=" + std::to_string(value) + ": " + what);
      }
    }
  }
  EXPECT_EQ(checked, static_cast<int>(original.size()) * 255);
  EXPECT_TRUE(failures.empty()) << ::testing::PrintToString(failures);
}

TEST_F(EdekTamperTest, EveryTruncationAndExtensionIsRejected) {
  const std::string& original = dek_.edek();
  for (size_t n = 0; n < original.size(); ++n) {
    EXPECT_EQ(Misbehaviour(original.substr(0, n)), "") << "truncated to " << n;
  }
  EXPECT_EQ(Misbehaviour(original + '\0'), "");
  EXPECT_EQ(Misbehaviour(original + original), "");
  EXPECT_EQ(Misbehaviour(std::string(5000, '\x01')), "");
}

TEST_F(EdekTamperTest, BrokerStillServesAfterwards) {
  for (size_t n = 0; n < dek_.edek().size(); ++n) Misbehaviour(dek_.edek().substr(0, n));
  v1::GenerateDekRequest request;
  request.set_key("default");
  v1::GenerateDekResponse response;
  EXPECT_TRUE(stub_->GenerateDek(Ctx().get(), request, &response).ok());
}

}  // namespace
}  // namespace keybroker::testing
