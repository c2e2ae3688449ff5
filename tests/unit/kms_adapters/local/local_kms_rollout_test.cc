// LocalKms during a keyring rollout: replicas on a read-only keyring take a
// rotated file at different times, so one may be asked to unwrap an EDEK made
// under a version it has not loaded yet. It looks at its file at once (at
// most once per spacing), answers KEY_VERSION_NOT_YET_LOADED (retryable)
// while a rollout may still bring the version, and EDEK_INVALID for what no
// rollout brings.
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
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::SizeIs;

class LocalKmsRolloutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    master_ = *crypto::RandomSecret(32);
    LocalKmsOptions options;
    options.keyring_file = published_;
    options.required_keys = {"k1"};
    ASSERT_OK(LocalKms::Create(options, master_.Clone()));  // writes the keyring
  }

  // A replica reading `path` read-only. Its own poll never runs during a
  // test: only on-demand looks (and ReloadIfChanged) happen.
  std::unique_ptr<LocalKms> Replica(const std::string& path,
                                    absl::Duration spacing = absl::ZeroDuration()) {
    LocalKmsOptions options;
    options.keyring_file = path;
    options.read_only = true;
    options.reload_interval = absl::Hours(1);
    options.on_demand_reload_spacing = spacing;
    options.required_keys = {"k1"};
    options.observer = &observer_;
    absl::StatusOr<std::unique_ptr<LocalKms>> kms = LocalKms::Create(options, master_.Clone());
    EXPECT_OK(kms);
    return kms.ok() ? *std::move(kms) : nullptr;
  }

  // `keybrokerctl keyring rotate` on the operator's published file.
  void Rotate(int times = 1) {
    Keyring keyring = *ReadKeyringFile(published_, master_);
    for (int i = 0; i < times; ++i) ASSERT_OK(keyring.AddVersion("k1", absl::Now()));
    ASSERT_OK(WriteKeyringFile(published_, master_, keyring));
  }

  // A replica's mount of its own, as on another node: it sees the published
  // file only when `Sync` copies it (the kubelet's Secret sync).
  std::string Mount() {
    std::string path = dir_.File(absl::StrCat("mount-", mounts_++));
    Sync(path);
    return path;
  }
  void Sync(const std::string& mount) { WriteAll(mount, ReadAll(published_)); }

  crypto::Edek Wrapped(LocalKms& kms) {
    absl::StatusOr<WrappedKey> wrapped = kms.Wrap("k1", dek_, context_, call_);
    EXPECT_OK(wrapped);
    return *crypto::DecodeEdek(wrapped->edek);
  }

  // A well-formed local EDEK naming `version` of k1 that no keyring made.
  crypto::Edek Crafted(const std::string& version) {
    crypto::Edek edek;
    edek.kms = crypto::EdekKms::kLocal;
    edek.algorithm = crypto::EdekAlgorithm::kAes256Gcm;
    edek.key_name = "k1";
    edek.key_version = version;
    edek.iv = std::string(32, '\x11');
    edek.tag = std::string(16, '\x22');
    edek.wrapped = std::string(32, '\x33');
    return edek;
  }

  size_t ReloadReports() {
    size_t count = 0;
    for (const std::string& r : observer_.requests()) count += absl::StrContains(r, "/reload/");
    return count;
  }

  TempDir dir_;
  std::string published_ = dir_.File("keyring");
  int mounts_ = 0;
  crypto::SecretBytes master_;
  RecordingKmsObserver observer_;
  LogCapture log_;
  CallOptions call_;
  crypto::SecretBytes dek_ = *crypto::RandomSecret(32);
  crypto::EncryptionContext context_ = *crypto::EncryptionContext::FromPairs({{"t", "a"}});
};

TEST_F(LocalKmsRolloutTest, AnEdekOfANewerVersionMakesTheReplicaTakeTheFileAtOnce) {
  std::unique_ptr<LocalKms> behind = Replica(published_, absl::Seconds(1));
  Rotate();
  std::unique_ptr<LocalKms> ahead = Replica(published_);
  crypto::Edek under_2 = Wrapped(*ahead);
  ASSERT_EQ(under_2.key_version, "2");

  // The file has version 2 already, the poll just has not run: taken now.
  absl::StatusOr<crypto::SecretBytes> dek = behind->Unwrap(under_2, context_, call_);
  ASSERT_OK(dek);
  EXPECT_TRUE(dek->ConstantTimeEquals(dek_));
  EXPECT_EQ(behind->Describe("k1", call_)->key_version, "2");
  std::vector<nlohmann::json> reloaded = log_.Events("keyring_reloaded");
  ASSERT_THAT(reloaded, SizeIs(1));
  EXPECT_EQ(reloaded[0]["trigger"], "edek");
}

TEST_F(LocalKmsRolloutTest, AVersionItsFileDoesNotHaveYetIsRetryableUntilItArrives) {
  std::string mount = Mount();
  std::unique_ptr<LocalKms> behind = Replica(mount);
  Rotate();
  std::unique_ptr<LocalKms> ahead = Replica(published_);
  crypto::Edek under_2 = Wrapped(*ahead);

  absl::StatusOr<crypto::SecretBytes> refused = behind->Unwrap(under_2, context_, call_);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kUnavailable,
                                AllOf(HasSubstr("version 2"), HasSubstr("current version is 1"))));
  EXPECT_THAT(refused.status(), HasReason(ErrorReason::kKeyVersionNotYetLoaded));
  EXPECT_THAT(RetryDelayOf(refused.status()), Optional(absl::Seconds(1)));
  EXPECT_EQ(ReloadReports(), 0u) << "it looked, but its file had not changed";
  EXPECT_EQ(observer_.requests().back(), "local/unwrap/KEY_VERSION_NOT_YET_LOADED");
  // Its authorization rules still see which key the EDEK names.
  absl::StatusOr<std::string> key_id = behind->KeyIdOf(under_2);
  ASSERT_OK(key_id);
  EXPECT_EQ(*key_id, "k1");

  Sync(mount);  // the kubelet catches up
  absl::StatusOr<crypto::SecretBytes> dek = behind->Unwrap(under_2, context_, call_);
  ASSERT_OK(dek);
  EXPECT_TRUE(dek->ConstantTimeEquals(dek_));
}

TEST_F(LocalKmsRolloutTest, NoRolloutSkipsThatManyVersionsSoFarAboveIsInvalid) {
  std::unique_ptr<LocalKms> replica = Replica(published_);  // at version 1; 4 ahead allowed
  EXPECT_THAT(replica->Unwrap(Crafted("5"), context_, call_),
              HasReason(ErrorReason::kKeyVersionNotYetLoaded));
  absl::StatusOr<crypto::SecretBytes> far = replica->Unwrap(Crafted("6"), context_, call_);
  EXPECT_THAT(far, StatusIs(absl::StatusCode::kInvalidArgument,
                            AllOf(HasSubstr("version 6"), HasSubstr("current version is 1"))));
  EXPECT_THAT(far.status(), HasReason(ErrorReason::kEdekInvalid));
  EXPECT_THAT(replica->Unwrap(Crafted("4294967295"), context_, call_),
              HasReason(ErrorReason::kEdekInvalid));
  for (const char* malformed : {"0", "01", "-1", "", "2x", "4294967296"}) {
    EXPECT_THAT(replica->Unwrap(Crafted(malformed), context_, call_),
                HasReason(ErrorReason::kEdekInvalid))
        << malformed;
    EXPECT_THAT(replica->KeyIdOf(Crafted(malformed)), HasReason(ErrorReason::kEdekInvalid))
        << malformed;
  }
  crypto::Edek other_key = Crafted("1");
  other_key.key_name = "k9";
  EXPECT_THAT(replica->Unwrap(other_key, context_, call_), HasReason(ErrorReason::kEdekInvalid));
  EXPECT_THAT(replica->KeyIdOf(other_key), HasReason(ErrorReason::kEdekInvalid));
}

TEST_F(LocalKmsRolloutTest, ACraftedEdekWithinTheWindowIsInvalidOnceTheVersionIsReal) {
  std::unique_ptr<LocalKms> replica = Replica(published_);
  crypto::Edek crafted = Crafted("2");
  EXPECT_THAT(replica->Unwrap(crafted, context_, call_),
              HasReason(ErrorReason::kKeyVersionNotYetLoaded));
  Rotate();
  // Version 2 exists now, and the crafted EDEK does not authenticate under it.
  EXPECT_THAT(replica->Unwrap(crafted, context_, call_), HasReason(ErrorReason::kEdekInvalid));
}

TEST_F(LocalKmsRolloutTest, AFloodOfCraftedEdeksReadsTheFileAtMostOncePerSpacing) {
  // A bad file is reported at every look (local_kms.h), which counts them.
  std::unique_ptr<LocalKms> counted = Replica(published_, absl::ZeroDuration());
  std::unique_ptr<LocalKms> spaced = Replica(published_, absl::Hours(1));
  WriteAll(published_, "not a keyring at all, but long enough to get past the size check");
  for (int i = 0; i < 5; ++i) {
    EXPECT_THAT(counted->Unwrap(Crafted("2"), context_, call_),
                HasReason(ErrorReason::kKeyVersionNotYetLoaded));
  }
  EXPECT_EQ(ReloadReports(), 5u) << "each on-demand look is one read of the file";

  for (int i = 0; i < 200; ++i) {
    EXPECT_THAT(spaced->Unwrap(Crafted("2"), context_, call_),
                HasReason(ErrorReason::kKeyVersionNotYetLoaded));
    EXPECT_THAT(spaced->Unwrap(Crafted("9"), context_, call_),
                HasReason(ErrorReason::kEdekInvalid));
  }
  EXPECT_EQ(ReloadReports(), 6u) << "one more look for 400 crafted EDEKs";
  EXPECT_FALSE(spaced->ReloadOnDemand()) << "still within the spacing";
}

TEST_F(LocalKmsRolloutTest, AWritableKeyringHasNoPeersToBeBehind) {
  LocalKmsOptions options;
  options.keyring_file = published_;
  options.required_keys = {"k1"};
  options.observer = &observer_;
  std::unique_ptr<LocalKms> writer = *LocalKms::Create(options, master_.Clone());
  EXPECT_THAT(writer->Unwrap(Crafted("2"), context_, call_), HasReason(ErrorReason::kEdekInvalid));
  EXPECT_FALSE(writer->ReloadOnDemand());
  EXPECT_THAT(log_.Events("keyring_reloaded"), IsEmpty());
}

TEST_F(LocalKmsRolloutTest, AnAuthenticationKeyVersionNotLoadedYetIsRetryableToo) {
  std::string mount = Mount();
  std::unique_ptr<LocalKms> behind = Replica(mount);
  Rotate();
  std::unique_ptr<LocalKms> ahead = Replica(published_);
  std::string used_ahead, used_behind;
  absl::StatusOr<crypto::SecretBytes> key = ahead->DerivePurposeKey("k1", "", "p", &used_ahead);
  ASSERT_OK(key);
  ASSERT_EQ(used_ahead, "2");
  EXPECT_THAT(behind->DerivePurposeKey("k1", "2", "p", &used_behind),
              HasReason(ErrorReason::kKeyVersionNotYetLoaded));
  EXPECT_THAT(behind->DerivePurposeKey("k1", "9", "p", &used_behind),
              HasReason(ErrorReason::kKeyNotFound));
  Sync(mount);
  absl::StatusOr<crypto::SecretBytes> same = behind->DerivePurposeKey("k1", "2", "p", &used_behind);
  ASSERT_OK(same);
  EXPECT_TRUE(same->ConstantTimeEquals(*key));
}

}  // namespace
}  // namespace keybroker::kms
