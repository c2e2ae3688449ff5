// The life of a key version on the real broker (embedded keyring, real gRPC,
// a real scrape of /metrics, the real keybrokerctl): after a rotation both
// versions show in DescribeKey, in the last-used gauge and in
// `keybrokerctl versions`, and a min_decryption_version floor refuses EDEKs
// under older versions with KEY_DISABLED while newer ones still unwrap.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/broker_process.h"
#include "tests/integration/ctl_runner.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/integration/http_get.h"
#include "tests/integration/key_calls.h"
#include "tests/integration/prometheus_text.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kGauge[] = "keybroker_key_version_last_used_timestamp_seconds";

TEST(VersionLifecycleTest, BothVersionsInUseShowInDescribeKeyTheGaugeAndKeybrokerctl) {
  TempDir dir;
  auto broker = BrokerProcess::Start(
      {"--listen", "127.0.0.1:0", "--data-dir", dir.path(), "--metrics-listen", "127.0.0.1:0"});
  ASSERT_OK(broker);
  ASSERT_TRUE((*broker)->WaitForLogLine("metrics_listening", absl::Seconds(5)));
  auto stub = NewStub((*broker)->address());
  KeyCalls calls(stub.get(), "default");
  const int64_t start = absl::ToUnixSeconds(absl::Now());

  MadeDek old_dek = calls.GenerateDek();
  EXPECT_EQ(calls.Describe().versions_size(), 1) << "a fresh keyring: version 1 only";
  ASSERT_EQ(calls.Rotate(), "2");
  MadeDek new_dek = calls.GenerateDek();
  ASSERT_EQ(new_dek.version, "2");
  ASSERT_TRUE(calls.Unwrap(old_dek).ok());  // the old version is still read
  const int64_t end = absl::ToUnixSeconds(absl::Now());

  v1::DescribeKeyResponse described = calls.Describe();
  EXPECT_EQ(described.key_version(), "2");
  ASSERT_THAT(described.versions(), SizeIs(2));
  for (int i = 0; i < 2; ++i) {
    const v1::KeyVersionInfo& version = described.versions(i);
    EXPECT_EQ(version.key_version(), absl::StrCat(i + 1));
    EXPECT_TRUE(version.listed());
    EXPECT_TRUE(version.enabled());
    EXPECT_TRUE(version.has_created());
    ASSERT_TRUE(version.has_last_used()) << version.key_version();
    EXPECT_GE(version.last_used().seconds(), start);
    EXPECT_LE(version.last_used().seconds(), end);
  }

  absl::StatusOr<HttpGetResponse> metrics = HttpGet((*broker)->MetricsAddress(), "/metrics");
  ASSERT_OK(metrics);
  absl::StatusOr<PrometheusScrape> scrape = PrometheusScrape::Parse(metrics->body);
  ASSERT_OK(scrape);
  std::vector<PrometheusSample> samples = scrape->Select(kGauge);
  ASSERT_THAT(samples, SizeIs(2));
  for (const std::string version : {"1", "2"}) {
    std::optional<double> value =
        scrape->Find(kGauge, {{"alias", "default"}, {"key_version", version}});
    ASSERT_TRUE(value.has_value()) << "version " << version << "\n" << metrics->body;
    EXPECT_GE(*value, start);
    EXPECT_LE(*value, end);
  }

  CtlResult ctl = RunCtl("--addr " + (*broker)->address() + " versions --key default", dir.path());
  ASSERT_EQ(ctl.exit_code, 0) << ctl.err;
  nlohmann::json printed = nlohmann::json::parse(ctl.out);
  EXPECT_EQ(printed["key"], "default");
  EXPECT_EQ(printed["key_version"], "2");
  ASSERT_THAT(printed["versions"], SizeIs(2));
  EXPECT_EQ(printed["versions"][0]["key_version"], "1");
  EXPECT_EQ(printed["versions"][1]["key_version"], "2");
  for (const nlohmann::json& version : printed["versions"]) {
    EXPECT_TRUE(version["enabled"].get<bool>());
    EXPECT_TRUE(version["listed"].get<bool>());
    EXPECT_TRUE(version["created"].is_string());
    ASSERT_TRUE(version["last_used"].is_string()) << ctl.out;
    EXPECT_THAT(version["last_used"].get<std::string>(), HasSubstr("T"));
  }
  CtlResult unknown = RunCtl("--addr " + (*broker)->address() + " versions --key nope", dir.path());
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("KEY_NOT_FOUND"));
}

// The broker configured on the embedded default's keyring, with `floor`.
std::string FloorConfig(const TempDir& dir, int floor) {
  const std::string local = absl::StrCat("    keyring_file: ", dir.File("keyring"),
                                         "\n    master_key_file: ", dir.File("master-key"));
  return absl::StrCat("listen: 127.0.0.1:0\nkms:\n  local:\n", local,
                      "\nkeys:\n  - alias: default\n    local_key: service-default\n",
                      "    min_decryption_version: ", floor, "\n");
}

TEST(VersionLifecycleTest, AFloorRefusesOlderVersionsWithKeyDisabledAndAllowsNewerOnes) {
  TempDir dir;
  MadeDek old_dek, new_dek;
  {
    auto broker = BrokerProcess::Start({"--listen", "127.0.0.1:0", "--data-dir", dir.path()});
    ASSERT_OK(broker);
    auto stub = NewStub((*broker)->address());
    KeyCalls calls(stub.get(), "default");
    old_dek = calls.GenerateDek();
    ASSERT_EQ(calls.Rotate(), "2");
    new_dek = calls.GenerateDek();
    ASSERT_EQ((*broker)->Terminate(), 0);
  }
  WriteAll(dir.File("floor.yaml"), FloorConfig(dir, 2));
  auto broker = BrokerProcess::Start({"--config", dir.File("floor.yaml")});
  ASSERT_OK(broker);
  auto stub = NewStub((*broker)->address());
  KeyCalls calls(stub.get(), "default");

  for (const grpc::Status& status : {calls.Unwrap(old_dek), calls.Rewrap(old_dek)}) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(GrpcReasonOf(status), "KEY_DISABLED");
    EXPECT_THAT(status.error_message(), HasSubstr("min_decryption_version 2"));
  }
  EXPECT_TRUE(calls.Unwrap(new_dek).ok());
  EXPECT_TRUE(calls.Rewrap(new_dek).ok());
  EXPECT_EQ(calls.GenerateDek().version, "2");
  v1::DescribeKeyResponse described = calls.Describe();
  ASSERT_THAT(described.versions(), SizeIs(2));
  EXPECT_FALSE(described.versions(0).enabled()) << "below the floor";
  EXPECT_FALSE(described.versions(0).has_last_used()) << "a refused EDEK is not a use";
  EXPECT_TRUE(described.versions(1).enabled());
  ASSERT_EQ((*broker)->Terminate(), 0);

  WriteAll(dir.File("floor.yaml"), FloorConfig(dir, 3));
  std::string output;
  EXPECT_EQ(BrokerProcess::RunToExit({"--config", dir.File("floor.yaml")}, &output), 1);
  EXPECT_THAT(output, HasSubstr("keys[0].min_decryption_version 3 is above the current version 2"));
}

}  // namespace
}  // namespace keybroker::testing
