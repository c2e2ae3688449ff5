// LocalKms on a read-only keyring: reloading the file when its contents
// change, refusing a keyring that would drop or replace a version, and
// keeping the old keyring (logged once) when the file is bad.
#include <dirent.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "crypto/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kms_adapters/local/keyring_file.h"
#include "kms_adapters/local/local_kms.h"
#include "nlohmann/json.hpp"
#include "tests/fakes/recording_kms_observer.h"
#include "tests/testing/files.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::kms {
namespace {

using ::keybroker::testing::HasReason;
using ::keybroker::testing::LogCapture;
using ::keybroker::testing::ReadAll;
using ::keybroker::testing::RecordingKmsObserver;
using ::keybroker::testing::StatusIs;
using ::keybroker::testing::TempDir;
using ::keybroker::testing::WriteAll;
using ::testing::AllOf;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::set<std::string> Listing(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  while (dirent* entry = ::readdir(d)) names.insert(entry->d_name);
  ::closedir(d);
  return names;
}

class LocalKmsReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    master_ = *crypto::RandomSecret(32);
    LocalKmsOptions options;
    options.keyring_file = path_;
    options.required_keys = {"k1", "k2"};
    ASSERT_OK(LocalKms::Create(options, master_.Clone()));  // writes the keyring
  }

  std::unique_ptr<LocalKms> OpenReadOnly(absl::Duration interval = absl::Hours(1)) {
    LocalKmsOptions options;
    options.keyring_file = path_;
    options.read_only = true;
    options.reload_interval = interval;
    options.required_keys = {"k1"};
    options.observer = &observer_;
    absl::StatusOr<std::unique_ptr<LocalKms>> kms = LocalKms::Create(options, master_.Clone());
    EXPECT_OK(kms);
    return kms.ok() ? *std::move(kms) : nullptr;
  }

  // What `keybrokerctl keyring rotate` does to the file.
  void RotateFile(const std::string& key = "k1") {
    Keyring keyring = *ReadKeyringFile(path_, master_);
    ASSERT_OK(keyring.AddVersion(key, absl::Now()));
    ASSERT_OK(WriteKeyringFile(path_, master_, keyring));
  }

  std::string CurrentVersion(LocalKms& kms) { return kms.Describe("k1", call_)->key_version; }

  // The observer's reload reports.
  std::vector<std::string> Reloads() {
    std::vector<std::string> reloads;
    for (const std::string& r : observer_.requests()) {
      if (absl::StrContains(r, "/reload/")) reloads.push_back(r);
    }
    return reloads;
  }

  TempDir dir_;
  std::string path_ = dir_.File("keyring");
  crypto::SecretBytes master_;
  RecordingKmsObserver observer_;
  LogCapture log_;
  CallOptions call_;
  crypto::SecretBytes dek_ = *crypto::RandomSecret(32);
  crypto::EncryptionContext context_;
};

TEST_F(LocalKmsReloadTest, ChangedContentsAreTakenAndOldEdeksStillUnwrap) {
  std::unique_ptr<LocalKms> kms = OpenReadOnly();
  WrappedKey before = *kms->Wrap("k1", dek_, context_, call_);
  EXPECT_EQ(before.key_version, "1");

  RotateFile();
  kms->ReloadIfChanged();
  EXPECT_EQ(CurrentVersion(*kms), "2");
  EXPECT_EQ(kms->Wrap("k1", dek_, context_, call_)->key_version, "2");
  absl::StatusOr<crypto::SecretBytes> unwrapped =
      kms->Unwrap(*crypto::DecodeEdek(before.edek), context_, call_);
  ASSERT_OK(unwrapped);
  EXPECT_TRUE(unwrapped->ConstantTimeEquals(dek_));

  std::vector<nlohmann::json> reloaded = log_.Events("keyring_reloaded");
  ASSERT_EQ(reloaded.size(), 1u);
  EXPECT_EQ(reloaded[0]["keyring_file"], path_);
  EXPECT_EQ(reloaded[0]["keys"], (nlohmann::json{{"k1", "2"}, {"k2", "1"}}));
  EXPECT_THAT(Reloads(), ElementsAre("local/reload/OK"));
}

TEST_F(LocalKmsReloadTest, UnchangedContentsAreNotReloaded) {
  std::unique_ptr<LocalKms> kms = OpenReadOnly();
  // The same bytes written again (a new inode and mtime, as a Secret update
  // that changed another key would give) are no change.
  std::string bytes = ReadAll(path_);
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  WriteAll(path_, bytes);
  kms->ReloadIfChanged();
  kms->ReloadIfChanged();
  EXPECT_THAT(Reloads(), IsEmpty());
  EXPECT_THAT(log_.Events("keyring_reloaded"), IsEmpty());
  EXPECT_EQ(CurrentVersion(*kms), "1");
}

TEST_F(LocalKmsReloadTest, AKeyringMissingAVersionIsRefusedAndTheOldOneKept) {
  std::string version_1_only = ReadAll(path_);
  RotateFile();
  std::unique_ptr<LocalKms> kms = OpenReadOnly();
  WrappedKey under_2 = *kms->Wrap("k1", dek_, context_, call_);
  EXPECT_EQ(under_2.key_version, "2");

  WriteAll(path_, version_1_only);  // an old copy put back
  kms->ReloadIfChanged();
  kms->ReloadIfChanged();
  std::vector<nlohmann::json> refused = log_.Events("keyring_reload_refused");
  ASSERT_EQ(refused.size(), 1u) << "once per distinct contents";
  EXPECT_EQ(refused[0]["keyring_file"], path_);
  EXPECT_THAT(refused[0]["error"].get<std::string>(), HasSubstr("local key k1 has 1 versions"));
  EXPECT_THAT(Reloads(), ElementsAre("local/reload/INTERNAL", "local/reload/INTERNAL"));
  EXPECT_EQ(CurrentVersion(*kms), "2");
  EXPECT_OK(kms->Unwrap(*crypto::DecodeEdek(under_2.edek), context_, call_));
}

TEST_F(LocalKmsReloadTest, AKeyringWithOtherMaterialIsRefused) {
  std::unique_ptr<LocalKms> kms = OpenReadOnly();
  Keyring impostor;  // the same names and versions, new material
  ASSERT_OK(impostor.AddKey("k1", absl::Now()));
  ASSERT_OK(impostor.AddKey("k2", absl::Now()));
  ASSERT_OK(impostor.AddVersion("k1", absl::Now()));
  ASSERT_OK(WriteKeyringFile(path_, master_, impostor));
  kms->ReloadIfChanged();
  std::vector<nlohmann::json> refused = log_.Events("keyring_reload_refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_THAT(refused[0]["error"].get<std::string>(), HasSubstr("k1 version 1 has other material"));
  EXPECT_EQ(CurrentVersion(*kms), "1");
}

TEST_F(LocalKmsReloadTest, GarbageKeepsTheOldKeyringAndIsLoggedOncePerContents) {
  std::string good = ReadAll(path_);
  std::unique_ptr<LocalKms> kms = OpenReadOnly();
  WriteAll(path_, "not a keyring at all, but long enough to get past the size check");
  for (int i = 0; i < 3; ++i) kms->ReloadIfChanged();
  std::vector<nlohmann::json> failed = log_.Events("keyring_reload_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["level"], "error");
  EXPECT_THAT(failed[0]["error"].get<std::string>(), HasSubstr("bad magic"));
  EXPECT_EQ(kms->Wrap("k1", dek_, context_, call_)->key_version, "1");

  WriteAll(path_, good.substr(0, good.size() - 1));  // other bad contents: logged
  for (int i = 0; i < 3; ++i) kms->ReloadIfChanged();
  EXPECT_EQ(log_.Events("keyring_reload_failed").size(), 2u);

  // Logged once per contents, but reported at every poll while a bad file
  // stays, so that a reload-failure alert lasts as long as the problem.
  EXPECT_THAT(Reloads(), AllOf(SizeIs(6), Each("local/reload/INTERNAL")));

  WriteAll(path_, good);  // put right: the keyring being served, nothing to do
  kms->ReloadIfChanged();
  kms->ReloadIfChanged();
  EXPECT_THAT(Reloads(), SizeIs(6));
  EXPECT_THAT(log_.Events("keyring_reloaded"), IsEmpty());

  RotateFile();
  kms->ReloadIfChanged();
  EXPECT_EQ(CurrentVersion(*kms), "2");
  EXPECT_EQ(log_.Events("keyring_reload_failed").size(), 2u);
}

TEST_F(LocalKmsReloadTest, AKeyringUnderAnotherMasterKeyFails) {
  std::unique_ptr<LocalKms> kms = OpenReadOnly();
  Keyring keyring = *ReadKeyringFile(path_, master_);
  ASSERT_OK(WriteKeyringFile(path_, *crypto::RandomSecret(32), keyring));
  kms->ReloadIfChanged();
  std::vector<nlohmann::json> failed = log_.Events("keyring_reload_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_THAT(failed[0]["error"].get<std::string>(), HasSubstr("wrong master key"));
  EXPECT_EQ(CurrentVersion(*kms), "1");
}

TEST_F(LocalKmsReloadTest, AMissingFileIsLoggedOnceAndTheKeyringKept) {
  std::unique_ptr<LocalKms> kms = OpenReadOnly();
  std::string good = ReadAll(path_);
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  kms->ReloadIfChanged();
  kms->ReloadIfChanged();
  std::vector<nlohmann::json> failed = log_.Events("keyring_reload_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_THAT(failed[0]["error"].get<std::string>(), HasSubstr("no such file"));
  EXPECT_THAT(Reloads(), ElementsAre("local/reload/INTERNAL", "local/reload/INTERNAL"));
  EXPECT_EQ(CurrentVersion(*kms), "1");
}

TEST_F(LocalKmsReloadTest, TheReloaderThreadPicksUpARotation) {
  std::unique_ptr<LocalKms> kms = OpenReadOnly(absl::Milliseconds(20));
  RotateFile();
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (CurrentVersion(*kms) != "2" && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(CurrentVersion(*kms), "2");
}

TEST_F(LocalKmsReloadTest, DestructionStopsTheReloaderPromptly) {
  std::unique_ptr<LocalKms> kms = OpenReadOnly(absl::Hours(1));
  absl::Time start = absl::Now();
  kms.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST_F(LocalKmsReloadTest, ReadOnlyWritesNothingBesideTheKeyring) {
  // The keyring is mounted read-only: no lock file, no temporary file.
  ASSERT_EQ(::unlink(KeyringLockPath(path_).c_str()), 0);  // the set-up's writer made it
  std::set<std::string> before = Listing(dir_.path());
  std::unique_ptr<LocalKms> kms = OpenReadOnly(absl::Milliseconds(10));
  EXPECT_THAT(kms->Rotate("k1", call_), HasReason(ErrorReason::kKeyringReadOnly));
  RotateFile();
  kms->ReloadIfChanged();
  absl::SleepFor(absl::Milliseconds(50));  // a few of the reloader's rounds
  EXPECT_EQ(CurrentVersion(*kms), "2");
  EXPECT_EQ(Listing(dir_.path()), before);
}

TEST_F(LocalKmsReloadTest, TheIntervalMustBePositive) {
  LocalKmsOptions options;
  options.keyring_file = path_;
  options.read_only = true;
  options.reload_interval = absl::ZeroDuration();
  EXPECT_THAT(LocalKms::Create(options, master_.Clone()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace keybroker::kms
