// keybrokerctl's connection options become the SDK's ClientOptions; the
// SDK's refusal of plaintext to another host comes back in keybrokerctl's
// flags, and --allow-plaintext lifts it; --timeout (fractional seconds) is
// the deadline of the call.
#include "ctl/connection_flags.h"

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/silent_peer.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::ctl {
namespace {

using ::keybroker::testing::SilentPeer;
using ::keybroker::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// Parses `args` (global options only) into flags.
ConnectionFlags Parse(std::vector<std::string> args) {
  CLI::App app;
  ConnectionFlags flags;
  AddConnectionOptions(app, &flags);
  args.insert(args.begin(), "keybrokerctl");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return flags;
}

TEST(ConnectionFlagsTest, DefaultsAreThisHostsBrokerInPlaintext) {
  ConnectionFlags flags = Parse({});
  EXPECT_EQ(flags.client.target, "127.0.0.1:50051");
  EXPECT_EQ(flags.timeout_seconds, 10);
  EXPECT_FALSE(flags.client.tls);
  EXPECT_FALSE(flags.client.allow_plaintext);
  EXPECT_OK(ConnectToBroker(flags));
}

TEST(ConnectionFlagsTest, PlaintextToAnotherHostIsRefusedNamingTheFlags) {
  for (const char* remote : {"10.255.255.1:50051", "keybroker.internal:50051"}) {
    EXPECT_THAT(ConnectToBroker(Parse({"--addr", remote})),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(remote), HasSubstr("--allow-plaintext"),
                               HasSubstr("--tls"), Not(HasSubstr("allow_plaintext")))))
        << remote;
    EXPECT_OK(ConnectToBroker(Parse({"--addr", remote, "--allow-plaintext"}))) << remote;
    EXPECT_OK(ConnectToBroker(Parse({"--addr", remote, "--tls"}))) << remote;
  }
  for (const char* local : {"localhost:50051", "127.0.0.2:50051", "[::1]:50051", "unix:/x"}) {
    EXPECT_OK(ConnectToBroker(Parse({"--addr", local}))) << local;
  }
}

TEST(ConnectionFlagsTest, TimeoutIsTheDeadlineOfTheCall) {
  SilentPeer peer;
  auto client = ConnectToBroker(Parse({"--addr", peer.address(), "--timeout", "0.3"}));
  ASSERT_OK(client);
  absl::Time start = absl::Now();
  EXPECT_THAT((*client)->Rotate("default"), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
}

}  // namespace
}  // namespace keybroker::ctl
