// gRPC TLS and mutual TLS on the real broker, with certificates made by the
// openssl command line for each test run.
#include <fstream>
#include <iterator>

#include "gtest/gtest.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_certificates.h"

namespace keybroker::testing {
namespace {

std::unique_ptr<v1::KeyBroker::Stub> TlsStub(const std::string& address,
                                             grpc::SslCredentialsOptions options) {
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  return v1::KeyBroker::NewStub(
      grpc::CreateCustomChannel(address, grpc::SslCredentials(options), args));
}

grpc::Status Describe(v1::KeyBroker::Stub& stub) {
  v1::DescribeKeyRequest request;
  request.set_key("default");
  v1::DescribeKeyResponse response;
  return stub.DescribeKey(Ctx(std::chrono::seconds(5)).get(), request, &response);
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(MakeTlsBrokerFiles(dir_.path())); }

  std::unique_ptr<BrokerProcess> Start(bool mutual) {
    WriteTlsBrokerConfig(dir_.path(), mutual);
    auto broker = BrokerProcess::Start({"--config", dir_.File("config.yaml")});
    EXPECT_OK(broker);
    return broker.ok() ? *std::move(broker) : nullptr;
  }

  TempDir dir_;
};

TEST_F(TlsTest, ClientTrustingTheCaConnectsOthersDoNot) {
  auto broker = Start(/*mutual=*/false);
  ASSERT_NE(broker, nullptr);
  grpc::SslCredentialsOptions trusted;
  trusted.pem_root_certs = ReadAll(dir_.File("ca.crt"));
  EXPECT_TRUE(Describe(*TlsStub(broker->address(), trusted)).ok());

  grpc::SslCredentialsOptions untrusted;
  untrusted.pem_root_certs = ReadAll(dir_.File("other-ca.crt"));
  EXPECT_EQ(Describe(*TlsStub(broker->address(), untrusted)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Describe(*NewStub(broker->address())).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "a plaintext client must not get through";
}

TEST_F(TlsTest, MutualTlsRequiresAClientCertificateFromTheClientCa) {
  auto broker = Start(/*mutual=*/true);
  ASSERT_NE(broker, nullptr);
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadAll(dir_.File("ca.crt"));
  EXPECT_NE(Describe(*TlsStub(broker->address(), options)).error_code(), grpc::StatusCode::OK)
      << "no client certificate";

  options.pem_cert_chain = ReadAll(dir_.File("other.crt"));
  options.pem_private_key = ReadAll(dir_.File("other.key"));
  EXPECT_NE(Describe(*TlsStub(broker->address(), options)).error_code(), grpc::StatusCode::OK)
      << "a certificate from another CA";

  options.pem_cert_chain = ReadAll(dir_.File("client.crt"));
  options.pem_private_key = ReadAll(dir_.File("client.key"));
  EXPECT_TRUE(Describe(*TlsStub(broker->address(), options)).ok());
}

TEST_F(TlsTest, UnreadableCertificateStopsStart) {
  std::ofstream(dir_.File("config.yaml"))
      << "listen: 127.0.0.1:0\ntls:\n  cert_file: " << dir_.File("absent.crt")
      << "\n  key_file: " << dir_.File("server.key") << "\n"
      << "kms:\n  local:\n    keyring_file: " << dir_.File("keyring") << "\n"
      << "    master_key_file: " << dir_.File("master-key") << "\n"
      << "keys:\n  - alias: default\n    local_key: k\n";
  std::string output;
  EXPECT_EQ(BrokerProcess::RunToExit({"--config", dir_.File("config.yaml")}, &output), 1);
  EXPECT_NE(output.find("tls.cert_file"), std::string::npos) << output;
}

}  // namespace
}  // namespace keybroker::testing
