// How a Client reaches brokers: option checks, the service config, a unix
// socket, TLS and mutual TLS, round_robin over two real brokers with a
// replica killed, and the per-call deadline against a peer that never
// answers.
#include "client_sdk/src/channel.h"

#include <atomic>
#include <csignal>
#include <fstream>
#include <thread>
#include <vector>

#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keybroker/sdk/client.h"
#include "nlohmann/json.hpp"
#include "tests/integration/broker_process.h"
#include "tests/testing/silent_peer.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_certificates.h"

namespace keybroker::sdk {
namespace {

using ::keybroker::testing::BrokerProcess;
using ::keybroker::testing::MakeTlsBrokerFiles;
using ::keybroker::testing::SilentPeer;
using ::keybroker::testing::WriteTlsBrokerConfig;
using ::keybroker::testing::StatusIs;
using ::keybroker::testing::TempDir;
using ::testing::HasSubstr;

std::unique_ptr<BrokerProcess> StartBroker(const std::vector<std::string>& args) {
  auto broker = BrokerProcess::Start(args);
  EXPECT_OK(broker);
  return broker.ok() ? *std::move(broker) : nullptr;
}

std::unique_ptr<BrokerProcess> StartLocalBroker(const TempDir& dir, const std::string& name) {
  return StartBroker({"--listen", "127.0.0.1:0", "--data-dir", dir.File(name)});
}

std::unique_ptr<Client> MakeClient(const ClientOptions& options) {
  auto client = Client::Create(options);
  EXPECT_OK(client);
  return client.ok() ? *std::move(client) : nullptr;
}

std::unique_ptr<Client> MakeClient(const std::string& target) {
  ClientOptions options;
  options.target = target;
  return MakeClient(options);
}

absl::Status Describe(Client& client) { return client.DescribeKey("default").status(); }

TEST(ServiceConfigTest, RoundRobinAndRetriesOfUnavailableForEveryMethod) {
  nlohmann::json config = nlohmann::json::parse(internal::ServiceConfigJson(3));
  EXPECT_EQ(config["loadBalancingConfig"], nlohmann::json::parse(R"([{"round_robin": {}}])"));
  ASSERT_EQ(config["methodConfig"].size(), 1u);
  const nlohmann::json& method = config["methodConfig"][0];
  EXPECT_EQ(method["name"], nlohmann::json::parse(R"([{"service": "keybroker.v1.KeyBroker"}])"));
  const nlohmann::json& retry = method["retryPolicy"];
  EXPECT_EQ(retry["maxAttempts"], 3);
  EXPECT_EQ(retry["initialBackoff"], "0.1s");
  EXPECT_EQ(retry["maxBackoff"], "1s");
  EXPECT_EQ(retry["backoffMultiplier"], 2);
  EXPECT_EQ(retry["retryableStatusCodes"], nlohmann::json::parse(R"(["UNAVAILABLE"])"));
}

TEST(ServiceConfigTest, MaxAttemptsIsClampedToWhatGrpcAccepts) {
  for (auto [asked, used] : {std::pair{-1, 2}, {0, 2}, {1, 2}, {2, 2}, {5, 5}, {9, 5}}) {
    EXPECT_EQ(nlohmann::json::parse(internal::ServiceConfigJson(
                  asked))["methodConfig"][0]["retryPolicy"]["maxAttempts"],
              used)
        << asked;
  }
}

TEST(ClientOptionsTest, UnusableOptionsAreInvalidArguments) {
  TempDir dir;
  std::ofstream(dir.File("some.pem")) << "x";
  auto rejected = [](ClientOptions options) { return Client::Create(options).status(); };
  ClientOptions options;
  EXPECT_THAT(rejected(options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("target")));
  options.target = "127.0.0.1:1";
  options.timeout = absl::ZeroDuration();
  EXPECT_THAT(rejected(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("timeout")));

  ClientOptions tls;
  tls.target = "127.0.0.1:1";
  tls.ca_file = dir.File("absent.pem");
  EXPECT_THAT(rejected(tls), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ca_file")));
  tls.ca_file = dir.File("some.pem");
  tls.cert_file = dir.File("some.pem");
  EXPECT_THAT(rejected(tls), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key_file")));
  tls.key_file = dir.File("absent.key");
  EXPECT_THAT(rejected(tls), StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("key_file " + dir.File("absent.key"))));
  tls.cert_file = dir.File("absent.crt");
  tls.key_file = dir.File("some.pem");
  EXPECT_THAT(rejected(tls), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cert_file")));

  ClientOptions plain;
  plain.target = "127.0.0.1:1";
  plain.server_name_override = "localhost";
  EXPECT_THAT(rejected(plain),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("server_name_override")));
  for (const ClientOptions& other : {options, tls, plain}) {
    EXPECT_FALSE(IsPlaintextRefused(rejected(other))) << other.target;
  }
}

TEST(ClientOptionsTest, PlaintextToAnotherHostNeedsAllowPlaintext) {
  auto created = [](ClientOptions options) { return Client::Create(options).status(); };
  ClientOptions options;
  options.target = "dns:///keybroker-headless.keybroker:50051";
  EXPECT_THAT(created(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("allow_plaintext")));
  EXPECT_TRUE(IsPlaintextRefused(created(options)));
  options.allow_plaintext = true;
  EXPECT_TRUE(created(options).ok());
  options.allow_plaintext = false;
  options.tls = true;
  EXPECT_TRUE(created(options).ok());
}

TEST(ClientOptionsTest, LocalTargetsAreTheOnesOnThisHost) {
  for (const char* local :
       {"127.0.0.1:50051", "localhost:50051", "[::1]:50051", "unix:/run/keybroker.sock",
        "unix-abstract:keybroker", "ipv4:127.0.0.1:1,127.0.0.2:2", "ipv6:[::1]:50051",
        "dns:///localhost:50051", "dns:localhost:50051", "dns://8.8.8.8/localhost:50051"}) {
    EXPECT_TRUE(internal::IsLocalTarget(local)) << local;
  }
  for (const char* remote :
       {"10.0.0.1:50051", "keybroker:50051", "dns:///keybroker.internal:50051",
        "ipv4:127.0.0.1:1,10.0.0.2:2", "ipv4:", "127.0.0.1.example.com:50051",
        "xds:///keybroker", "localhost.evil.example:50051", "[::2]:50051", ""}) {
    EXPECT_FALSE(internal::IsLocalTarget(remote)) << remote;
  }
}

TEST(ChannelTest, UnixSocket) {
  TempDir dir;
  std::string socket = "unix:" + dir.File("kb.sock");
  auto broker = StartBroker({"--listen", socket, "--data-dir", dir.File("data")});
  ASSERT_NE(broker, nullptr);
  std::unique_ptr<Client> client = MakeClient(socket);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<DataKey> dek = client->GenerateDek("default", {});
  ASSERT_OK(dek);
  EXPECT_OK(client->Unwrap(dek->edek, {}));
}

class TlsChannelTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(MakeTlsBrokerFiles(dir_.path())); }

  std::unique_ptr<BrokerProcess> Start(bool mutual) {
    WriteTlsBrokerConfig(dir_.path(), mutual);
    return StartBroker({"--config", dir_.File("config.yaml")});
  }

  ClientOptions Options(const std::string& address, const std::string& ca) const {
    ClientOptions options;
    options.target = address;
    options.ca_file = dir_.File(ca + ".crt");
    options.timeout = absl::Seconds(5);
    return options;
  }

  TempDir dir_;
};

TEST_F(TlsChannelTest, TrustsOnlyTheGivenCa) {
  auto broker = Start(/*mutual=*/false);
  ASSERT_NE(broker, nullptr);
  ClientOptions trusted = Options(broker->address(), "ca");
  EXPECT_OK(Describe(*MakeClient(trusted)));  // the certificate names 127.0.0.1
  trusted.target = "ipv4:" + broker->address();
  trusted.server_name_override = "localhost";
  EXPECT_OK(Describe(*MakeClient(trusted)));

  EXPECT_THAT(Describe(*MakeClient(Options(broker->address(), "other-ca"))),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Describe(*MakeClient(broker->address())), StatusIs(absl::StatusCode::kUnavailable))
      << "a plaintext client must not get through";
}

TEST_F(TlsChannelTest, MutualTlsSendsTheClientCertificate) {
  auto broker = Start(/*mutual=*/true);
  ASSERT_NE(broker, nullptr);
  ClientOptions options = Options(broker->address(), "ca");
  EXPECT_FALSE(Describe(*MakeClient(options)).ok()) << "no client certificate";

  options.cert_file = dir_.File("other.crt");
  options.key_file = dir_.File("other.key");
  EXPECT_FALSE(Describe(*MakeClient(options)).ok()) << "a certificate from another CA";

  options.cert_file = dir_.File("client.crt");
  options.key_file = dir_.File("client.key");
  std::unique_ptr<Client> client = MakeClient(options);
  absl::StatusOr<DataKey> dek = client->GenerateDek("default", {{"tenant", "t"}});
  ASSERT_OK(dek);
  EXPECT_OK(client->Unwrap(dek->edek, {{"tenant", "t"}}));
}

// Which of two brokers made `edek`: each has its own keyring, so only the
// one that made an EDEK can unwrap it.
int MadeBy(Client& first, Client& second, const std::string& edek) {
  if (first.Unwrap(edek, {}).ok()) return 0;
  if (second.Unwrap(edek, {}).ok()) return 1;
  return -1;
}

TEST(BalancingTest, RoundRobinUsesEveryReplicaAndSurvivesLosingOne) {
  TempDir dir;
  std::unique_ptr<BrokerProcess> brokers[] = {StartLocalBroker(dir, "a"),
                                              StartLocalBroker(dir, "b")};
  ASSERT_NE(brokers[0], nullptr);
  ASSERT_NE(brokers[1], nullptr);
  std::unique_ptr<Client> direct[] = {MakeClient(brokers[0]->address()),
                                      MakeClient(brokers[1]->address())};
  std::unique_ptr<Client> balanced =
      MakeClient("ipv4:" + brokers[0]->address() + "," + brokers[1]->address());

  // round_robin picks among the replicas that are connected; the second may
  // take a moment to be.
  int served[2] = {0, 0};
  for (int i = 0; i < 100 && (served[0] == 0 || served[1] == 0); ++i) {
    absl::StatusOr<DataKey> dek = balanced->GenerateDek("default", {});
    ASSERT_OK(dek);
    int by = MadeBy(*direct[0], *direct[1], dek->edek);
    ASSERT_GE(by, 0);
    ++served[by];
  }
  EXPECT_GT(served[0], 0);
  EXPECT_GT(served[1], 0);

  // Killed without a GOAWAY while calls are in flight: those on the dead
  // connection fail UNAVAILABLE and are retried on the replica left, which
  // then takes every call.
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0}, failures{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      while (!stop) {
        ++calls;
        absl::Status status = balanced->GenerateDek("default", {}).status();
        if (!status.ok()) {
          ++failures;
          ADD_FAILURE() << status;
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(brokers[0]->Stop(SIGKILL), 128 + SIGKILL);
  absl::SleepFor(absl::Milliseconds(500));
  stop = true;
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(failures.load(), 0) << "of " << calls.load();
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<DataKey> dek = balanced->GenerateDek("default", {});
    ASSERT_OK(dek) << i;
    EXPECT_OK(direct[1]->Unwrap(dek->edek, {}));
  }
}

TEST(DeadlineTest, CallToAPeerThatNeverAnswersEndsAtTheDeadline) {
  SilentPeer peer;
  ClientOptions options;
  options.target = peer.address();
  options.timeout = absl::Milliseconds(500);
  std::unique_ptr<Client> client = MakeClient(options);
  for (int call = 0; call < 2; ++call) {  // a fresh deadline for each call
    absl::Time start = absl::Now();
    EXPECT_THAT(client->GenerateDek("default", {}), StatusIs(absl::StatusCode::kDeadlineExceeded));
    absl::Duration took = absl::Now() - start;
    EXPECT_GE(took, absl::Milliseconds(450));
    EXPECT_LT(took, absl::Seconds(3));
  }
}

}  // namespace
}  // namespace keybroker::sdk
