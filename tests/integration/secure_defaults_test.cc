// Secure defaults of the real broker: no plaintext on the network unless
// asked for by name, a warning when every caller may use every key, unix
// sockets only for the broker's user and group, bounded requests, a TLS
// floor, and a server certificate replaced on disk served without a restart.
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_certificates.h"

namespace keybroker::testing {
namespace {

using ::testing::HasSubstr;

grpc::Status Describe(v1::KeyBroker::Stub& stub) {
  v1::DescribeKeyRequest request;
  request.set_key("default");
  v1::DescribeKeyResponse response;
  return stub.DescribeKey(Ctx(std::chrono::seconds(5)).get(), request, &response);
}

TEST(SecureDefaultsTest, PlaintextOnTheNetworkStopsStartUnlessAskedFor) {
  TempDir dir;
  std::string output;
  EXPECT_EQ(BrokerProcess::RunToExit({"--listen", "0.0.0.0:0", "--data-dir", dir.path()},
                                     &output),
            1);
  EXPECT_THAT(output, HasSubstr("insecure_plaintext"));
  EXPECT_THAT(output, HasSubstr("add a tls section"));

  auto broker = BrokerProcess::Start(
      {"--listen", "0.0.0.0:0", "--data-dir", dir.path(), "--insecure-plaintext"});
  ASSERT_OK(broker);
  EXPECT_TRUE((*broker)->WaitForLogLine("\"event\":\"insecure_plaintext\"", absl::Seconds(5)));
}

TEST(SecureDefaultsTest, WithoutAPolicyTheBrokerSaysEveryCallerMayUseEveryKey) {
  TempDir dir;
  auto broker = BrokerProcess::Start({"--listen", "127.0.0.1:0", "--data-dir", dir.path()});
  ASSERT_OK(broker);
  EXPECT_TRUE(
      (*broker)->WaitForLogLine("\"event\":\"authorization_disabled\"", absl::Seconds(5)));
}

TEST(SecureDefaultsTest, AUnixSocketIsForTheBrokersUserAndGroupOnly) {
  TempDir dir;
  const std::string socket = dir.File("keybroker.sock");
  auto broker =
      BrokerProcess::Start({"--listen", "unix:" + socket, "--data-dir", dir.File("data")});
  ASSERT_OK(broker);
  struct stat info;
  ASSERT_EQ(stat(socket.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0660u);
  EXPECT_TRUE(Describe(*NewStub("unix:" + socket)).ok());
}

TEST(SecureDefaultsTest, AnOversizedRequestIsRefusedAndTheBrokerKeepsServing) {
  TempDir dir;
  auto broker = BrokerProcess::Start({"--listen", "127.0.0.1:0", "--data-dir", dir.path()});
  ASSERT_OK(broker);
  auto stub = NewStub((*broker)->address());
  v1::GenerateDekRequest request;
  request.set_key("default");
  for (int i = 0; i < 40; ++i) {
    (*request.mutable_context())[absl::StrCat("k", i)] = std::string(2000, 'v');
  }
  ASSERT_GT(request.ByteSizeLong(), 64u * 1024);
  v1::GenerateDekResponse response;
  grpc::Status status = stub->GenerateDek(Ctx().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_TRUE(response.plaintext().empty());

  v1::GenerateDekRequest long_alias;
  long_alias.set_key(std::string(600, 'a'));
  status = stub->GenerateDek(Ctx().get(), long_alias, &response);
  EXPECT_EQ(GrpcReasonOf(status), "INVALID_REQUEST") << status.error_message();

  EXPECT_TRUE(Describe(*stub).ok()) << "still serving";
}

// Runs `openssl s_client` against `address` with `version` (-tls1_2,
// -tls1_3), offering h2 as gRPC requires; returns whether the handshake
// completed. Its exit status says little (the broker hangs up on the
// non-HTTP/2 bytes that follow), so the session line decides: "New,
// TLSv1.x, Cipher is ..." after a handshake, "Cipher is (NONE)" without one.
bool Handshakes(const std::string& address, const std::string& ca, const std::string& version) {
  std::string command = absl::StrCat("echo | openssl s_client -alpn h2 -connect ", address, " ",
                                     version, " -CAfile ", ca, " 2>&1");
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return false;
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  ::pclose(pipe);
  return output.find("New, TLSv1.") != std::string::npos &&
         output.find("Verify return code: 0 (ok)") != std::string::npos;
}

class TlsSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(MakeTlsBrokerFiles(dir_.path())); }

  std::unique_ptr<BrokerProcess> Start(const std::string& tls_extra) {
    std::string config = WriteTlsBrokerConfig(dir_.path(), /*mutual=*/false);
    std::string text = ReadAll(config);
    text.replace(text.find("kms:"), 0, tls_extra);
    WriteAll(config, text);
    auto broker = BrokerProcess::Start({"--config", config});
    EXPECT_OK(broker);
    return broker.ok() ? *std::move(broker) : nullptr;
  }

  std::unique_ptr<v1::KeyBroker::Stub> Trusting(const std::string& address,
                                                const std::string& ca) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadAll(dir_.File(ca));
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    // A new channel, so a new connection and handshake.
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    return v1::KeyBroker::NewStub(
        grpc::CreateCustomChannel(address, grpc::SslCredentials(options), args));
  }

  TempDir dir_;
};

TEST_F(TlsSettingsTest, TheDefaultFloorIsTls12) {
  auto broker = Start("");
  ASSERT_NE(broker, nullptr);
  EXPECT_TRUE(Handshakes(broker->address(), dir_.File("ca.crt"), "-tls1_2"));
  EXPECT_TRUE(Handshakes(broker->address(), dir_.File("ca.crt"), "-tls1_3"));
  EXPECT_FALSE(Handshakes(broker->address(), dir_.File("ca.crt"), "-tls1_1"));
}

TEST_F(TlsSettingsTest, MinVersion13RefusesTls12) {
  auto broker = Start("  min_version: \"1.3\"\n");
  ASSERT_NE(broker, nullptr);
  EXPECT_FALSE(Handshakes(broker->address(), dir_.File("ca.crt"), "-tls1_2"));
  EXPECT_TRUE(Handshakes(broker->address(), dir_.File("ca.crt"), "-tls1_3"));
  EXPECT_TRUE(Describe(*Trusting(broker->address(), "ca.crt")).ok());
}

TEST_F(TlsSettingsTest, ACertificateReplacedOnDiskIsServedWithoutARestart) {
  auto broker = Start("  reload_interval_seconds: 1\n");
  ASSERT_NE(broker, nullptr);
  ASSERT_TRUE(Describe(*Trusting(broker->address(), "ca.crt")).ok());
  ASSERT_NE(Describe(*Trusting(broker->address(), "next-ca.crt")).error_code(),
            grpc::StatusCode::OK);
  // cert-manager's renewal: a new key and certificate, here from another CA
  // so that the client can tell which one it was shown.
  ASSERT_TRUE(MakeCertificates(dir_.path(), "next-ca", "next"));
  WriteAll(dir_.File("server.key"), ReadAll(dir_.File("next.key")));
  WriteAll(dir_.File("server.crt"), ReadAll(dir_.File("next.crt")));
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    served = Describe(*Trusting(broker->address(), "next-ca.crt")).ok();
    if (!served) absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_TRUE(served) << "the new certificate within the reload interval";
  EXPECT_NE(Describe(*Trusting(broker->address(), "ca.crt")).error_code(), grpc::StatusCode::OK)
      << "the old one no longer";
}

TEST_F(TlsSettingsTest, AKeyThatIsNotTheCertificatesStopsStart) {
  std::string config = WriteTlsBrokerConfig(dir_.path(), /*mutual=*/false);
  WriteAll(dir_.File("server.key"), ReadAll(dir_.File("other.key")));
  std::string output;
  EXPECT_EQ(BrokerProcess::RunToExit({"--config", config}, &output), 1);
  EXPECT_THAT(output, HasSubstr("tls.key_file"));
  EXPECT_THAT(output, HasSubstr("does not belong to the certificate"));
}

}  // namespace
}  // namespace keybroker::testing
