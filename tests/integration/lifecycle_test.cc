// The broker's life outside single RPCs: restarts on the same data directory,
// start-up refusals (corrupted keyring, wrong master key, bad configuration),
// configuration files, unix sockets, TLS and mutual TLS, and shutdown on
// SIGTERM / SIGINT.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>
#include <iterator>

#include "gmock/gmock.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> Embedded(const TempDir& dir) {
  return {"--listen", "127.0.0.1:0", "--data-dir", dir.path()};
}

struct Made {
  std::string edek;
  std::string plaintext;
  std::string version;
};

Made GenerateDek(v1::KeyBroker::Stub& stub, const std::string& alias = "default") {
  v1::GenerateDekRequest request;
  request.set_key(alias);
  (*request.mutable_context())["resource"] = "Patient/1";
  v1::GenerateDekResponse response;
  grpc::Status status = stub.GenerateDek(Ctx().get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return {response.edek(), response.plaintext(), response.key_version()};
}

grpc::Status Unwrap(v1::KeyBroker::Stub& stub, const Made& made, std::string* plaintext) {
  v1::UnwrapRequest request;
  request.set_edek(made.edek);
  (*request.mutable_context())["resource"] = "Patient/1";
  v1::UnwrapResponse response;
  grpc::Status status = stub.Unwrap(Ctx().get(), request, &response);
  *plaintext = response.plaintext();
  return status;
}

std::string Rotate(v1::KeyBroker::Stub& stub) {
  v1::RotateRequest request;
  request.set_key("default");
  v1::RotateResponse response;
  EXPECT_TRUE(stub.Rotate(Ctx().get(), request, &response).ok());
  return response.key_version();
}

// Starts and stops a broker once so that `dir` holds a keyring.
void Initialise(const TempDir& dir) {
  auto broker = BrokerProcess::Start(Embedded(dir));
  ASSERT_OK(broker);
  ASSERT_EQ((*broker)->Terminate(), 0);
}

TEST(LifecycleTest, RestartKeepsEveryEdekOfEveryVersion) {
  TempDir dir;
  std::vector<Made> made;
  {
    auto broker = BrokerProcess::Start(Embedded(dir));
    ASSERT_OK(broker);
    auto stub = NewStub((*broker)->address());
    for (int round = 0; round < 4; ++round) {
      if (round > 0) Rotate(*stub);
      for (int i = 0; i < 3; ++i) made.push_back(GenerateDek(*stub));
    }
    EXPECT_EQ(made.back().version, "4");
    EXPECT_EQ((*broker)->Terminate(), 0);
  }
  auto broker = BrokerProcess::Start(Embedded(dir));
  ASSERT_OK(broker);
  auto stub = NewStub((*broker)->address());
  for (const Made& m : made) {
    std::string plaintext;
    ASSERT_TRUE(Unwrap(*stub, m, &plaintext).ok()) << "version " << m.version;
    EXPECT_EQ(plaintext, m.plaintext);
  }
  EXPECT_EQ(GenerateDek(*stub).version, "4");
}

TEST(LifecycleTest, SigtermAndSigintStopCleanly) {
  TempDir dir;
  for (int signal_number : {SIGTERM, SIGINT}) {
    auto broker = BrokerProcess::Start(Embedded(dir));
    ASSERT_OK(broker);
    GenerateDek(*NewStub((*broker)->address()));
    EXPECT_EQ((*broker)->Stop(signal_number), 0) << "signal " << signal_number;
    std::vector<std::string> lines = (*broker)->Lines();
    EXPECT_THAT(lines, ::testing::Contains(HasSubstr(
                           signal_number == SIGTERM ? "\"SIGTERM\"" : "\"SIGINT\"")));
    EXPECT_THAT(lines, ::testing::Contains(HasSubstr("\"event\":\"stopped\"")));
  }
}

TEST(LifecycleTest, TruncatedOrCorruptedKeyringStopsStartAndIsLeftAlone) {
  TempDir dir;
  Initialise(dir);
  std::string keyring = ReadAll(dir.File("keyring"));
  ASSERT_GT(keyring.size(), 40u);
  std::string corrupt = keyring;
  corrupt[corrupt.size() - 3] ^= 0x20;
  for (const auto& [bad, expected] : std::vector<std::pair<std::string, std::string>>{
           {keyring.substr(0, 20), "truncated"},
           {keyring.substr(0, keyring.size() - 1), "corrupted or truncated"},
           {corrupt, "corrupted"},
           {"", "truncated"}}) {
    WriteAll(dir.File("keyring"), bad);
    std::string output;
    EXPECT_EQ(BrokerProcess::RunToExit(Embedded(dir), &output), 1);
    EXPECT_THAT(output, HasSubstr("startup_failed"));
    EXPECT_THAT(output, HasSubstr(expected));
    EXPECT_THAT(output, HasSubstr(dir.File("keyring")));
    EXPECT_EQ(ReadAll(dir.File("keyring")), bad) << "the keyring file must not be rewritten";
  }
}

TEST(LifecycleTest, WrongMasterKeyStopsStartAndLeavesTheKeyringAlone) {
  TempDir dir;
  Initialise(dir);
  std::string keyring = ReadAll(dir.File("keyring"));
  WriteAll(dir.File("master-key"), std::string(64, 'a') + "\n");
  std::string output;
  EXPECT_EQ(BrokerProcess::RunToExit(Embedded(dir), &output), 1);
  EXPECT_THAT(output, HasSubstr("wrong master key"));
  EXPECT_EQ(ReadAll(dir.File("keyring")), keyring);

  WriteAll(dir.File("master-key"), "not hex at all");
  EXPECT_EQ(BrokerProcess::RunToExit(Embedded(dir), &output), 1);
  EXPECT_THAT(output, HasSubstr("64 hex characters"));
  EXPECT_EQ(ReadAll(dir.File("keyring")), keyring);
}

TEST(LifecycleTest, MasterKeyFromTheEnvironment) {
  TempDir dir;
  std::string env = "KEYBROKER_MASTER_KEY=" + std::string(64, 'b');
  Made made;
  {
    auto broker = BrokerProcess::Start(Embedded(dir), {env});
    ASSERT_OK(broker);
    made = GenerateDek(*NewStub((*broker)->address()));
  }
  std::string output;
  EXPECT_EQ(BrokerProcess::RunToExit(Embedded(dir), &output,
                                     {"KEYBROKER_MASTER_KEY=" + std::string(64, 'c')}),
            1);
  EXPECT_THAT(output, HasSubstr("wrong master key"));
  auto broker = BrokerProcess::Start(Embedded(dir), {env});
  ASSERT_OK(broker);
  std::string plaintext;
  ASSERT_TRUE(Unwrap(*NewStub((*broker)->address()), made, &plaintext).ok());
  EXPECT_EQ(plaintext, made.plaintext);
}

TEST(LifecycleTest, ConfigurationFileWithTwoAliasesOnAUnixSocket) {
  TempDir dir;
  WriteAll(dir.File("master-key"), std::string(64, '7'));
  WriteAll(dir.File("keybroker.yaml"), "listen: unix:" + dir.File("kb.sock") + "\n" +
                                       "log_level: debug\n"
                                       "kms:\n"
                                       "  local:\n"
                                       "    keyring_file: " + dir.File("state/keyring") + "\n" +
                                       "    master_key_file: " + dir.File("master-key") + "\n" +
                                       "keys:\n"
                                       "  - alias: tenant-a\n"
                                       "    local_key: key-a\n"
                                       "  - alias: tenant-b\n"
                                       "    local_key: key-b\n");
  auto broker = BrokerProcess::Start({"--config", dir.File("keybroker.yaml")});
  ASSERT_OK(broker);
  EXPECT_EQ((*broker)->address(), "unix:" + dir.File("kb.sock"));
  auto stub = NewStub((*broker)->address());
  Made a = GenerateDek(*stub, "tenant-a");
  Made b = GenerateDek(*stub, "tenant-b");
  EXPECT_NE(a.plaintext, b.plaintext);
  std::string plaintext;
  ASSERT_TRUE(Unwrap(*stub, a, &plaintext).ok());
  EXPECT_EQ(plaintext, a.plaintext);
  EXPECT_TRUE(Unwrap(*stub, b, &plaintext).ok());
  v1::RotateRequest rotate;
  rotate.set_key("tenant-a");
  v1::RotateResponse rotated;
  ASSERT_TRUE(stub->Rotate(Ctx().get(), rotate, &rotated).ok());
  EXPECT_EQ(GenerateDek(*stub, "tenant-a").version, "2");
  EXPECT_EQ(GenerateDek(*stub, "tenant-b").version, "1");
}

TEST(LifecycleTest, BadConfigurationStopsStartNamingTheField) {
  TempDir dir;
  WriteAll(dir.File("keybroker.yaml"),
       "listen: 127.0.0.1:0\nkms:\n  local:\n    keyring_file: /tmp/x\n    read_onyl: true\n"
       "keys:\n  - alias: a\n    local_key: b\n");
  std::string output;
  EXPECT_EQ(BrokerProcess::RunToExit({"--config", dir.File("keybroker.yaml")}, &output), 1);
  EXPECT_THAT(output, HasSubstr("config_invalid"));
  EXPECT_THAT(output, HasSubstr("kms.local.read_onyl is not a known field"));

  EXPECT_EQ(BrokerProcess::RunToExit({"--config", dir.File("missing.yaml")}, &output), 1);
  EXPECT_THAT(output, HasSubstr("missing.yaml"));
  EXPECT_EQ(BrokerProcess::RunToExit({"--listen", "127.0.0.1:0"}, &output), 1);
  EXPECT_THAT(output, HasSubstr("--data-dir"));
}

TEST(LifecycleTest, VersionFlag) {
  std::string output;
  EXPECT_EQ(BrokerProcess::RunToExit({"--version"}, &output), 0);
  EXPECT_THAT(output, ::testing::MatchesRegex("keybroker [0-9]+\\.[0-9]+\\.[0-9]+\n"));
}

TEST(LifecycleTest, ASecondBrokerOnTheSameDataDirectoryIsRefused) {
  TempDir dir;
  auto first = BrokerProcess::Start(Embedded(dir));
  ASSERT_OK(first);
  std::string keyring = ReadAll(dir.File("keyring"));
  std::string output;
  EXPECT_EQ(BrokerProcess::RunToExit(Embedded(dir), &output), 1);
  EXPECT_THAT(output, HasSubstr("another process is using this keyring"));
  EXPECT_EQ(ReadAll(dir.File("keyring")), keyring);
  GenerateDek(*NewStub((*first)->address()));  // the first one is unaffected
}

TEST(LifecycleTest, MissingMasterKeyBesideAnExistingKeyringIsNotRegenerated) {
  TempDir dir;
  Initialise(dir);
  ASSERT_EQ(std::remove(dir.File("master-key").c_str()), 0);
  std::string output;
  EXPECT_EQ(BrokerProcess::RunToExit(Embedded(dir), &output), 1);
  EXPECT_THAT(output, HasSubstr("is missing"));
  EXPECT_NE(::access(dir.File("master-key").c_str(), F_OK), 0);
}

TEST(LifecycleTest, InFlightCallsFinishOnSigterm) {
  TempDir dir;
  auto broker = BrokerProcess::Start(Embedded(dir));
  ASSERT_OK(broker);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, unavailable{0};
  std::vector<std::string> other;
  absl::Mutex mu;
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&] {
      auto stub = NewStub((*broker)->address());
      while (!stop) {
        v1::GenerateDekRequest request;
        request.set_key("default");
        v1::GenerateDekResponse response;
        grpc::Status status = stub->GenerateDek(Ctx().get(), request, &response);
        if (status.ok()) {
          ++ok;
        } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                   status.error_code() == grpc::StatusCode::CANCELLED) {
          // Refused: sent after the stop, or accepted by the transport but
          // never started (gRPC cancels calls not yet matched to a handler).
          ++unavailable;
        } else {
          absl::MutexLock lock(&mu);
          other.push_back(status.error_message());
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ((*broker)->Terminate(), 0);
  absl::SleepFor(absl::Milliseconds(200));
  stop = true;
  for (auto& client : clients) client.join();
  EXPECT_GT(ok.load(), 0);
  EXPECT_GT(unavailable.load(), 0) << "calls after the stop are refused";
  EXPECT_TRUE(other.empty()) << "no started call may fail: "
                             << ::testing::PrintToString(other);
}

TEST(LifecycleTest, KillDuringRotationsLosesNoVersion) {
  TempDir dir;
  std::vector<Made> made;
  for (int round = 0; round < 5; ++round) {
    auto broker = BrokerProcess::Start(Embedded(dir));
    ASSERT_OK(broker);
    auto stub = NewStub((*broker)->address());
    for (const Made& m : made) {
      std::string plaintext;
      ASSERT_TRUE(Unwrap(*stub, m, &plaintext).ok()) << "round " << round << " v" << m.version;
      ASSERT_EQ(plaintext, m.plaintext);
    }
    std::atomic<bool> stop{false};
    std::thread rotator([&] {
      auto rotate_stub = NewStub((*broker)->address());
      while (!stop) {
        v1::RotateRequest request;
        request.set_key("default");
        v1::RotateResponse response;
        rotate_stub->Rotate(Ctx().get(), request, &response);
      }
    });
    // Wrap DEKs while rotations land, then kill -9 with rotations in flight.
    for (int i = 0; i < 20; ++i) made.push_back(GenerateDek(*stub));
    ::kill((*broker)->pid(), SIGKILL);
    stop = true;
    rotator.join();
    (*broker)->Terminate(absl::Seconds(5));
  }
}

}  // namespace
}  // namespace keybroker::testing
