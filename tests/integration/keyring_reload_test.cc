// Several replicas on the local keyring (DESIGN.md "Deployment"): the real
// broker on a read-only keyring created with `keybrokerctl keyring init`,
// rotated out of band with `keybrokerctl keyring rotate` (in place, and as a
// Kubernetes Secret update swaps its `..data` symlink), reloading it within
// the reload interval, refusing Rotate, and serving on through a bad file.
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/ctl_runner.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {
namespace {

using ::testing::HasSubstr;

// kms.local.reload_interval_seconds in these tests, and how long past it a
// reload may take on a loaded machine before the test gives up.
constexpr absl::Duration kReloadInterval = absl::Seconds(1);
constexpr absl::Duration kSlack = absl::Seconds(15);

// The names in `dir`, without "." and "..".
std::set<std::string> Listing(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.insert(name);
  }
  ::closedir(d);
  return names;
}

// Replaces `path` with `data` in one rename, as keybrokerctl does: the
// broker never reads half a file (which would be one more bad file to log).
void ReplaceFile(const std::string& path, const std::string& data) {
  WriteAll(path + ".new", data);
  ASSERT_EQ(::rename((path + ".new").c_str(), path.c_str()), 0);
}

struct Dek {
  std::string plaintext;
  std::string edek;
  std::string version;
};

class KeyringReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CtlResult created = Ctl("keyring new-master-key --out " + master_);
    ASSERT_EQ(created.exit_code, 0) << created.err;
  }

  CtlResult Ctl(const std::string& args) { return RunCtl(args, dir_.path()); }

  // keybrokerctl keyring init / rotate on `ring` under this test's master key.
  void InitKeyring(const std::string& ring) {
    CtlResult init = Ctl("keyring init --keyring-file " + ring + " --master-key-file " + master_ +
                         " --key service-default");
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }
  void RotateKeyring(const std::string& ring, const std::string& expected_version) {
    CtlResult rotated = Ctl("keyring rotate --keyring-file " + ring + " --master-key-file " +
                            master_ + " --key service-default");
    ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
    EXPECT_THAT(rotated.out, HasSubstr("\"key_version\":\"" + expected_version + "\""));
  }

  // A broker on `ring`, mounted read-only, reloaded every kReloadInterval.
  void StartBroker(const std::string& ring) {
    std::string config = dir_.File("keybroker.yaml");
    WriteAll(config, absl::StrCat("listen: 127.0.0.1:0\n"
                                  "kms:\n"
                                  "  local:\n"
                                  "    keyring_file: ", ring, "\n",
                                  "    master_key_file: ", master_, "\n",
                                  "    read_only: true\n"
                                  "    reload_interval_seconds: ",
                                  absl::ToInt64Seconds(kReloadInterval), "\n",
                                  "keys:\n"
                                  "  - alias: default\n"
                                  "    local_key: service-default\n"));
    auto broker = BrokerProcess::Start({"--config", config});
    ASSERT_OK(broker);
    broker_ = *std::move(broker);
    stub_ = NewStub(broker_->address());
  }

  Dek GenerateDek() {
    v1::GenerateDekRequest request;
    request.set_key("default");
    (*request.mutable_context())["tenant"] = "a";
    v1::GenerateDekResponse response;
    grpc::Status status = stub_->GenerateDek(Ctx().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.plaintext(), response.edek(), response.key_version()};
  }

  // Whether `dek`'s EDEK still unwraps to its plaintext.
  bool Unwraps(const Dek& dek) {
    v1::UnwrapRequest request;
    request.set_edek(dek.edek);
    (*request.mutable_context())["tenant"] = "a";
    v1::UnwrapResponse response;
    grpc::Status status = stub_->Unwrap(Ctx().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return status.ok() && response.plaintext() == dek.plaintext;
  }

  // Polls GenerateDek until it answers `version`, for at most the reload
  // interval plus slack; returns the last version seen.
  std::string WaitForVersion(const std::string& version) {
    absl::Time deadline = absl::Now() + kReloadInterval + kSlack;
    std::string seen = GenerateDek().version;
    while (seen != version && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
      seen = GenerateDek().version;
    }
    return seen;
  }

  size_t CountLogLines(const std::string& event) {
    size_t count = 0;
    for (const std::string& line : broker_->Lines()) {
      if (line.find("\"event\":\"" + event + "\"") != std::string::npos) ++count;
    }
    return count;
  }

  TempDir dir_;
  std::string master_ = dir_.File("master-key");
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<v1::KeyBroker::Stub> stub_;
};

TEST_F(KeyringReloadTest, AnOutOfBandRotationReachesTheBrokerAndRotateIsRefused) {
  std::string ring_dir = dir_.File("ring");
  ASSERT_EQ(::mkdir(ring_dir.c_str(), 0755), 0);
  std::string ring = ring_dir + "/keyring";
  InitKeyring(ring);
  ASSERT_EQ(::unlink((ring + ".lock").c_str()), 0);  // keybrokerctl's, not the broker's
  StartBroker(ring);

  Dek before = GenerateDek();
  EXPECT_EQ(before.version, "1");
  v1::RotateRequest rotate;
  rotate.set_key("default");
  v1::RotateResponse rotated;
  grpc::Status refused = stub_->Rotate(Ctx().get(), rotate, &rotated);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(GrpcReasonOf(refused), "KEYRING_READ_ONLY");
  EXPECT_THAT(refused.error_message(), HasSubstr("keybrokerctl keyring rotate"));
  // The broker writes nothing beside the keyring: no lock, no temporary file.
  EXPECT_EQ(Listing(ring_dir), (std::set<std::string>{"keyring"}));

  // A writable broker would hold the lock and make this fail.
  RotateKeyring(ring, "2");
  EXPECT_EQ(WaitForVersion("2"), "2");
  EXPECT_TRUE(Unwraps(before)) << "EDEKs made before the reload still unwrap";
  EXPECT_TRUE(broker_->WaitForLogLine("\"event\":\"keyring_reloaded\"", absl::Seconds(5)));
  EXPECT_EQ(Listing(ring_dir), (std::set<std::string>{"keyring", "keyring.lock"}))
      << "only keybrokerctl's lock";
}

TEST_F(KeyringReloadTest, AKubernetesSecretUpdateIsPickedUp) {
  // What the kubelet makes of a Secret volume: the file is a symlink through
  // `..data`, itself a symlink to a timestamped directory; an update writes
  // a new directory and swaps `..data` atomically.
  std::string staging = dir_.File("staging-keyring");  // the operator's copy
  InitKeyring(staging);
  std::string mount = dir_.File("mount");
  ASSERT_EQ(::mkdir(mount.c_str(), 0755), 0);
  auto publish = [&](const std::string& version_dir) {
    ASSERT_EQ(::mkdir((mount + "/" + version_dir).c_str(), 0755), 0);
    WriteAll(mount + "/" + version_dir + "/keyring", ReadAll(staging));
    ASSERT_EQ(::symlink(version_dir.c_str(), (mount + "/..data_tmp").c_str()), 0);
    ASSERT_EQ(::rename((mount + "/..data_tmp").c_str(), (mount + "/..data").c_str()), 0);
  };
  publish("..2025_01_01_00_00_00.1");
  ASSERT_EQ(::symlink("..data/keyring", (mount + "/keyring").c_str()), 0);
  StartBroker(mount + "/keyring");
  Dek before = GenerateDek();
  EXPECT_EQ(before.version, "1");

  RotateKeyring(staging, "2");
  publish("..2025_01_01_00_05_00.2");
  std::filesystem::remove_all(mount + "/..2025_01_01_00_00_00.1");
  EXPECT_EQ(WaitForVersion("2"), "2");
  EXPECT_TRUE(Unwraps(before));
  EXPECT_EQ(Listing(mount),
            (std::set<std::string>{"keyring", "..data", "..2025_01_01_00_05_00.2"}));
  EXPECT_EQ(Listing(mount + "/..2025_01_01_00_05_00.2"), (std::set<std::string>{"keyring"}));
}

TEST_F(KeyringReloadTest, BadFilesLeaveTheBrokerServingTheKeyringItHas) {
  std::string ring = dir_.File("keyring");
  InitKeyring(ring);
  std::string good = ReadAll(ring);
  StartBroker(ring);
  Dek before = GenerateDek();

  ReplaceFile(ring, "garbage, not a keyring file at all");
  ASSERT_TRUE(broker_->WaitForLogLine("\"event\":\"keyring_reload_failed\"",
                                      kReloadInterval + kSlack));
  // Let the broker look at the same bad file a few more times: it must not
  // log it again (counted at the end).
  absl::SleepFor(2.5 * kReloadInterval);
  EXPECT_EQ(GenerateDek().version, "1");
  EXPECT_TRUE(Unwraps(before));

  // A keyring of its own (the same key name, other material) would strand
  // every EDEK made so far: refused.
  std::string impostor = dir_.File("impostor");
  InitKeyring(impostor);
  ReplaceFile(ring, ReadAll(impostor));
  ASSERT_TRUE(broker_->WaitForLogLine("\"event\":\"keyring_reload_refused\"",
                                      kReloadInterval + kSlack));
  EXPECT_EQ(GenerateDek().version, "1");
  EXPECT_TRUE(Unwraps(before));

  // Put right, and rotated: taken. Each bad file was logged once, however
  // many times the broker looked at it.
  ReplaceFile(ring, good);
  RotateKeyring(ring, "2");
  EXPECT_EQ(WaitForVersion("2"), "2");
  EXPECT_TRUE(Unwraps(before));
  EXPECT_EQ(CountLogLines("keyring_reload_failed"), 1u);
  EXPECT_EQ(CountLogLines("keyring_reload_refused"), 1u);
}

}  // namespace
}  // namespace keybroker::testing
