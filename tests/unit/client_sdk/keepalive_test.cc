// HTTP/2 keepalive of WatchKeys streams, between the SDK's channel
// (client_sdk/src/channel.h) and the broker's server arguments
// (server/grpc_keepalive.h), over real gRPC on loopback with the intervals
// cut short (gRPC's client pings at most once a second whatever it is told):
// the SDK's defaults are ones the broker accepts; a quiet watch goes on
// pinging and stays open where the broker accepts its pings (and loses its
// connection where it does not); a watch whose connection goes silent
// (FreezableProxy) notices and reconnects, which without pings it never
// does; and the broker drops a watcher that went silent.
//
// That the SDK's pings go on past gRPC's default of two without data
// (GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA 0) is checked as an argument only:
// on the wire it shows after four seconds of quiet, too slow for a unit test.
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client_sdk/src/channel.h"
#include "client_sdk/src/grpc_key_watch.h"
#include "grpc/grpc.h"
#include "gtest/gtest.h"
#include "server/grpc_keepalive.h"
#include "tests/fakes/scripted_key_broker.h"
#include "tests/testing/freezable_proxy.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/client_sdk/scripted_broker_test.h"

namespace keybroker::sdk {
namespace {

using ::keybroker::testing::Eventually;
using ::keybroker::testing::FreezableProxy;
using ::keybroker::testing::ScriptedBrokerServer;
using ::keybroker::testing::ScriptedKeyBroker;

// The integer channel argument `name`, or -1.
int IntArgument(const grpc::ChannelArguments& arguments, const char* name) {
  const grpc_channel_args args = arguments.c_channel_args();
  for (size_t i = 0; i < args.num_args; ++i) {
    if (std::string(args.args[i].key) == name && args.args[i].type == GRPC_ARG_INTEGER) {
      return args.args[i].value.integer;
    }
  }
  return -1;
}

// The client pings after 100 ms of quiet; the broker accepts that.
constexpr internal::Keepalive kFastPings = {.time = absl::Milliseconds(100),
                                            .timeout = absl::Milliseconds(300)};
// No pings within any test's time.
constexpr internal::Keepalive kNoPings = {.time = absl::Hours(1), .timeout = absl::Seconds(20)};

server::ServerKeepalive AcceptsFastPings(int max_ping_strikes = 2) {
  server::ServerKeepalive keepalive;
  keepalive.min_client_ping_interval = absl::Milliseconds(50);
  keepalive.max_ping_strikes = max_ping_strikes;
  return keepalive;
}

// A broker serving "orders", with `keepalive`, and watches of it.
class KeepaliveTest : public ::testing::Test {
 protected:
  void Serve(const server::ServerKeepalive& keepalive) {
    server_ = std::make_unique<ScriptedBrokerServer>(
        &broker_,
        [keepalive](grpc::ServerBuilder& builder) { server::SetKeepalive(builder, keepalive); });
    ASSERT_TRUE(server_->Start());
  }

  // A watch of "orders" at `target`, over a channel with `keepalive`,
  // reconnecting after 10 ms.
  std::unique_ptr<internal::GrpcKeyWatch> Watch(const std::string& target,
                                                const internal::Keepalive& keepalive) {
    ClientOptions options;
    options.target = target;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        internal::MakeChannel(options, keepalive);
    EXPECT_OK(channel);
    return std::make_unique<internal::GrpcKeyWatch>(
        *channel, std::vector<std::string>{"orders"},
        [this](const KeyEvent& event) {
          absl::MutexLock lock(&mu_);
          if (event.initial) ++initial_events_;
        },
        internal::KeyWatchBackoff{.initial = absl::Milliseconds(10),
                                  .max = absl::Milliseconds(50)});
  }

  int initial_events() {
    absl::MutexLock lock(&mu_);
    return initial_events_;
  }

  ScriptedKeyBroker broker_{{{"orders", "orders-key"}}};
  std::unique_ptr<ScriptedBrokerServer> server_;
  absl::Mutex mu_;
  int initial_events_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(KeepaliveDefaultsTest, TheSdkPingsQuietCallsAtAnIntervalTheBrokerAccepts) {
  ClientOptions options;
  options.target = "127.0.0.1:1";
  grpc::ChannelArguments args = internal::ChannelArgumentsFor(options);
  EXPECT_EQ(IntArgument(args, GRPC_ARG_KEEPALIVE_TIME_MS), 30000);
  EXPECT_EQ(IntArgument(args, GRPC_ARG_KEEPALIVE_TIMEOUT_MS), 10000);
  EXPECT_EQ(IntArgument(args, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS), 0);
  EXPECT_EQ(IntArgument(args, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA), 0);
  // Well above the broker's floor: a conforming SDK never strikes.
  const server::ServerKeepalive broker;
  EXPECT_GE(internal::Keepalive().time, 3 * broker.min_client_ping_interval);
  EXPECT_GT(broker.max_ping_strikes, 0);
  EXPECT_LT(internal::Keepalive().timeout, internal::Keepalive().time);
  EXPECT_LT(broker.timeout, broker.time);
}

TEST_F(KeepaliveTest, AQuietWatchPingsOnAndStaysOpen) {
  Serve(AcceptsFastPings(/*max_ping_strikes=*/1));
  std::unique_ptr<internal::GrpcKeyWatch> watch = Watch(server_->address(), kFastPings);
  ASSERT_TRUE(Eventually([&] { return initial_events() == 1; }));
  // gRPC's client sends at most a ping a second: three seconds, three pings
  // without a byte of data on the stream, past the point where the control
  // below has lost its connection.
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(broker_.watch_calls(), 1) << "the stream was never broken";
  EXPECT_EQ(initial_events(), 1);
  EXPECT_OK(watch->status());
}

// The control of the test above: with gRPC's default floor (a ping every
// 5 minutes on a quiet connection), the same pings are strikes and the
// broker ends the connection at the second (GOAWAY too_many_pings), about
// two seconds in; the watch reconnects.
TEST_F(KeepaliveTest, PingsFasterThanTheBrokerAcceptsLoseTheConnection) {
  server::ServerKeepalive strict = AcceptsFastPings(/*max_ping_strikes=*/1);
  strict.min_client_ping_interval = absl::Minutes(5);
  Serve(strict);
  std::unique_ptr<internal::GrpcKeyWatch> watch = Watch(server_->address(), kFastPings);
  ASSERT_TRUE(Eventually([&] { return initial_events() == 1; }));
  const absl::Time opened = absl::Now();
  EXPECT_TRUE(Eventually([&] { return broker_.watch_calls() >= 2; }, absl::Seconds(4)));
  EXPECT_LT(absl::Now() - opened, absl::Seconds(3)) << "within the test above's wait";
}

TEST_F(KeepaliveTest, AWatchNoticesThatItsConnectionWentSilentAndReconnects) {
  Serve(AcceptsFastPings());
  FreezableProxy proxy(server_->port());
  std::unique_ptr<internal::GrpcKeyWatch> watch = Watch(proxy.address(), kFastPings);
  ASSERT_TRUE(Eventually([&] { return initial_events() == 1; }));
  absl::SleepFor(absl::Milliseconds(500));
  proxy.Freeze();
  const absl::Time frozen = absl::Now();
  // The unanswered ping ends the stream; the watch reconnects (through a new
  // connection, which the proxy relays) and gets the state again.
  ASSERT_TRUE(Eventually([&] { return initial_events() == 2; }, absl::Seconds(4)));
  EXPECT_LT(absl::Now() - frozen, absl::Seconds(3))
      << "the next ping (at most a second: gRPC's client floor), its timeout, a reconnection";
}

// The control: without pings, the watch waits on the dead connection.
TEST_F(KeepaliveTest, WithoutPingsAWatchNeverNoticesASilentConnection) {
  Serve(AcceptsFastPings());
  FreezableProxy proxy(server_->port());
  std::unique_ptr<internal::GrpcKeyWatch> watch = Watch(proxy.address(), kNoPings);
  ASSERT_TRUE(Eventually([&] { return initial_events() == 1; }));
  proxy.Freeze();
  EXPECT_FALSE(Eventually([&] { return initial_events() == 2; }, absl::Seconds(1.5)));
  EXPECT_EQ(broker_.watch_calls(), 1);
}

TEST_F(KeepaliveTest, TheBrokerDropsAWatcherThatWentSilent) {
  server::ServerKeepalive keepalive = AcceptsFastPings();
  keepalive.time = absl::Milliseconds(100);
  keepalive.timeout = absl::Milliseconds(300);
  Serve(keepalive);
  FreezableProxy proxy(server_->port());
  // A client that never pings: only the broker's pings can tell.
  std::unique_ptr<internal::GrpcKeyWatch> watch = Watch(proxy.address(), kNoPings);
  ASSERT_TRUE(broker_.AwaitOpenStreams(1));
  // The broker's pings (every 100 ms) go on over the quiet stream.
  absl::SleepFor(absl::Milliseconds(600));
  ASSERT_TRUE(broker_.AwaitOpenStreams(1, absl::ZeroDuration())) << "still open";
  proxy.Freeze();
  const absl::Time frozen = absl::Now();
  EXPECT_TRUE(broker_.AwaitOpenStreams(0, absl::Seconds(4)));
  EXPECT_LT(absl::Now() - frozen, absl::Seconds(2));
}

}  // namespace
}  // namespace keybroker::sdk
