#include "kms_adapters/local/local_kms.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <thread>

#include "crypto/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kms_adapters/local/keyring_file.h"
#include "tests/fakes/recording_kms_observer.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::kms {
namespace {

using ::keybroker::testing::HasReason;
using ::keybroker::testing::StatusIs;
using ::keybroker::testing::ReadAll;
using ::keybroker::testing::TempDir;
using ::keybroker::testing::WriteAll;
using ::testing::AllOf;
using ::testing::HasSubstr;

crypto::EncryptionContext Context(std::vector<crypto::EncryptionContext::Pair> pairs) {
  return *crypto::EncryptionContext::FromPairs(std::move(pairs));
}

class LocalKmsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    master_ = *crypto::RandomSecret(32);
    kms_ = Open();
    ASSERT_NE(kms_, nullptr);
  }

  std::unique_ptr<LocalKms> Open(bool read_only = false) {
    LocalKmsOptions options;
    options.keyring_file = dir_.File("keyring");
    options.read_only = read_only;
    options.required_keys = {"k1", "k2"};
    absl::StatusOr<std::unique_ptr<LocalKms>> kms = LocalKms::Create(options, master_.Clone());
    EXPECT_OK(kms);
    return kms.ok() ? *std::move(kms) : nullptr;
  }

  crypto::Edek Decode(const std::string& edek) { return *crypto::DecodeEdek(edek); }

  TempDir dir_;
  crypto::SecretBytes master_;
  std::unique_ptr<LocalKms> kms_;
  crypto::SecretBytes dek_ = *crypto::RandomSecret(32);
  crypto::EncryptionContext context_ = Context({{"tenant", "a"}, {"topic", "orders"}});
  CallOptions options_;
};

TEST_F(LocalKmsTest, WrapUnwrapRoundTrip) {
  absl::StatusOr<WrappedKey> wrapped = kms_->Wrap("k1", dek_, context_, options_);
  ASSERT_OK(wrapped);
  EXPECT_EQ(wrapped->key_version, "1");
  crypto::Edek edek = Decode(wrapped->edek);
  EXPECT_EQ(edek.kms, crypto::EdekKms::kLocal);
  EXPECT_EQ(edek.key_name, "k1");
  EXPECT_EQ(edek.key_version, "1");
  absl::StatusOr<crypto::SecretBytes> dek = kms_->Unwrap(edek, context_, options_);
  ASSERT_OK(dek);
  EXPECT_TRUE(dek->ConstantTimeEquals(dek_));
}

TEST_F(LocalKmsTest, ContextOrderDoesNotMatterButContentDoes) {
  WrappedKey wrapped = *kms_->Wrap("k1", dek_, context_, options_);
  crypto::Edek edek = Decode(wrapped.edek);
  EXPECT_OK(kms_->Unwrap(edek, Context({{"topic", "orders"}, {"tenant", "a"}}), options_));
  EXPECT_THAT(kms_->Unwrap(edek, Context({{"tenant", "b"}, {"topic", "orders"}}), options_),
              HasReason(ErrorReason::kEdekInvalid));
  EXPECT_THAT(kms_->Unwrap(edek, Context({{"tenant", "a"}}), options_),
              HasReason(ErrorReason::kEdekInvalid));
  EXPECT_THAT(kms_->Unwrap(edek, crypto::EncryptionContext(), options_),
              HasReason(ErrorReason::kEdekInvalid));
}

TEST_F(LocalKmsTest, EdekIsBoundToItsKeyNameAndVersion) {
  crypto::Edek edek = Decode(kms_->Wrap("k1", dek_, context_, options_)->edek);
  ASSERT_OK(kms_->Rotate("k1", options_));
  crypto::Edek moved = edek;
  moved.key_version = "2";  // a version that exists, but not the one that wrapped it
  EXPECT_THAT(kms_->Unwrap(moved, context_, options_), HasReason(ErrorReason::kEdekInvalid));
  moved = edek;
  moved.key_name = "k2";
  EXPECT_THAT(kms_->Unwrap(moved, context_, options_), HasReason(ErrorReason::kEdekInvalid));
  moved = edek;
  moved.key_name = "nope";
  EXPECT_THAT(kms_->Unwrap(moved, context_, options_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not hold")));
}

TEST_F(LocalKmsTest, RotateKeepsOldVersionsAndPersists) {
  WrappedKey v1 = *kms_->Wrap("k1", dek_, context_, options_);
  absl::StatusOr<std::string> version = kms_->Rotate("k1", options_);
  ASSERT_OK(version);
  EXPECT_EQ(*version, "2");
  WrappedKey v2 = *kms_->Wrap("k1", dek_, context_, options_);
  EXPECT_EQ(v2.key_version, "2");
  EXPECT_EQ(kms_->Describe("k1", options_)->key_version, "2");
  EXPECT_EQ(kms_->Describe("k2", options_)->key_version, "1") << "other keys untouched";

  kms_.reset();  // releases the keyring lock
  std::unique_ptr<LocalKms> reopened = Open();
  ASSERT_NE(reopened, nullptr);
  for (const WrappedKey* wrapped : {&v1, &v2}) {
    absl::StatusOr<crypto::SecretBytes> dek =
        reopened->Unwrap(Decode(wrapped->edek), context_, options_);
    ASSERT_OK(dek);
    EXPECT_TRUE(dek->ConstantTimeEquals(dek_));
  }
  EXPECT_EQ(reopened->Describe("k1", options_)->key_version, "2");
}

TEST_F(LocalKmsTest, RotationThatCannotBeSavedIsNotVisible) {
  ASSERT_OK(kms_->Rotate("k1", options_));
  // Make the directory unwritable by replacing the keyring path's directory
  // entry with a directory: rename over it fails.
  std::string path = dir_.File("keyring");
  ASSERT_EQ(std::remove(path.c_str()), 0);
  ASSERT_EQ(::mkdir(path.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((path + "/x").c_str(), 0700), 0);
  EXPECT_THAT(kms_->Rotate("k1", options_), HasReason(ErrorReason::kInternal));
  EXPECT_EQ(kms_->Wrap("k1", dek_, context_, options_)->key_version, "2");
}

TEST_F(LocalKmsTest, UnknownKeyIsNotFound) {
  EXPECT_THAT(kms_->Wrap("nope", dek_, context_, options_), HasReason(ErrorReason::kKeyNotFound));
  EXPECT_THAT(kms_->Rotate("nope", options_), HasReason(ErrorReason::kKeyNotFound));
  EXPECT_THAT(kms_->Describe("nope", options_), HasReason(ErrorReason::kKeyNotFound));
}

TEST_F(LocalKmsTest, WrapRejectsEmptyAndOversizedMaterial) {
  EXPECT_THAT(kms_->Wrap("k1", crypto::SecretBytes(), context_, options_),
              HasReason(ErrorReason::kInvalidRequest));
  EXPECT_THAT(kms_->Wrap("k1", crypto::SecretBytes(65), context_, options_),
              HasReason(ErrorReason::kInvalidRequest));
  EXPECT_OK(kms_->Wrap("k1", crypto::SecretBytes(64), context_, options_));
  EXPECT_OK(kms_->Wrap("k1", crypto::SecretBytes(1), context_, options_));
}

TEST_F(LocalKmsTest, ReadOnlyKeyringRefusesRotate) {
  std::unique_ptr<LocalKms> read_only = Open(/*read_only=*/true);
  ASSERT_NE(read_only, nullptr);
  EXPECT_THAT(read_only->Rotate("k1", options_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("keybrokerctl keyring rotate")));
  EXPECT_THAT(read_only->Rotate("k1", options_), HasReason(ErrorReason::kKeyringReadOnly));
  EXPECT_OK(read_only->Wrap("k1", dek_, context_, options_));
}

TEST_F(LocalKmsTest, TellsTheObserverAboutEachWrapUnwrapAndRotate) {
  kms_.reset();
  testing::RecordingKmsObserver observer;
  LocalKmsOptions options;
  options.keyring_file = dir_.File("keyring");
  options.observer = &observer;
  std::unique_ptr<LocalKms> kms = *LocalKms::Create(options, master_.Clone());
  crypto::Edek edek = Decode(kms->Wrap("k1", dek_, context_, options_)->edek);
  ASSERT_OK(kms->Unwrap(edek, context_, options_));
  EXPECT_FALSE(kms->Unwrap(edek, crypto::EncryptionContext(), options_).ok());
  ASSERT_OK(kms->Rotate("k1", options_));
  EXPECT_FALSE(kms->Rotate("nope", options_).ok());
  ASSERT_OK(kms->Describe("k1", options_));  // no KMS operation: not reported
  EXPECT_THAT(observer.requests(),
              ::testing::ElementsAre("local/wrap/OK", "local/unwrap/OK", "local/unwrap/EDEK_INVALID",
                                     "local/rotate/OK", "local/rotate/KEY_NOT_FOUND"));
  EXPECT_FALSE(observer.negative_latency());

  kms.reset();
  options.read_only = true;
  kms = *LocalKms::Create(options, master_.Clone());
  EXPECT_FALSE(kms->Rotate("k1", options_).ok());
  EXPECT_EQ(observer.requests().back(), "local/rotate/KEYRING_READ_ONLY");
}

TEST_F(LocalKmsTest, VersionsBelowTheFloorAreDisabledForUnwrapOnly) {
  WrappedKey v1 = *kms_->Wrap("k1", dek_, context_, options_);
  ASSERT_OK(kms_->Rotate("k1", options_));
  WrappedKey v2 = *kms_->Wrap("k1", dek_, context_, options_);
  WrappedKey other = *kms_->Wrap("k2", dek_, context_, options_);
  kms_.reset();  // the keyring's lock, for the next writer
  LocalKmsOptions options;
  options.keyring_file = dir_.File("keyring");
  options.required_keys = {"k1", "k2"};
  options.min_decryption_versions = {{"k1", 2}};
  std::unique_ptr<LocalKms> kms = *LocalKms::Create(options, master_.Clone());

  EXPECT_THAT(kms->Unwrap(Decode(v1.edek), context_, options_),
              AllOf(HasReason(ErrorReason::kKeyDisabled),
                    StatusIs(absl::StatusCode::kFailedPrecondition,
                             HasSubstr("below the key's min_decryption_version 2"))));
  EXPECT_OK(kms->Unwrap(Decode(v2.edek), context_, options_));
  EXPECT_OK(kms->Unwrap(Decode(other.edek), context_, options_));  // k2 has no floor
  EXPECT_EQ(kms->Wrap("k1", dek_, context_, options_)->key_version, "2");

  absl::StatusOr<std::vector<KeyVersionInfo>> versions = kms->ListVersions("k1", options_);
  ASSERT_OK(versions);
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].version, "1");
  EXPECT_FALSE((*versions)[0].enabled);
  EXPECT_TRUE((*versions)[0].created.has_value());
  EXPECT_EQ((*versions)[1].version, "2");
  EXPECT_TRUE((*versions)[1].enabled);
  EXPECT_THAT(kms->ListVersions("nope", options_), HasReason(ErrorReason::kKeyNotFound));
}

TEST_F(LocalKmsTest, EachEdekHasItsOwnSalt) {
  crypto::Edek a = Decode(kms_->Wrap("k1", dek_, context_, options_)->edek);
  crypto::Edek b = Decode(kms_->Wrap("k1", dek_, context_, options_)->edek);
  EXPECT_EQ(a.iv.size(), 32u);
  EXPECT_NE(a.iv, b.iv);
  EXPECT_NE(a.wrapped, b.wrapped) << "the same DEK under the same version must not repeat";
}

TEST_F(LocalKmsTest, ReadOnlyKeyringMustExistAndHoldTheKeys) {
  LocalKmsOptions options;
  options.keyring_file = dir_.File("absent");
  options.read_only = true;
  EXPECT_THAT(LocalKms::Create(options, master_.Clone()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("does not exist")));
  options.keyring_file = dir_.File("keyring");
  options.required_keys = {"k3"};
  EXPECT_THAT(LocalKms::Create(options, master_.Clone()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("k3")));
}

TEST_F(LocalKmsTest, ASecondWriterIsRefused) {
  LocalKmsOptions options;
  options.keyring_file = dir_.File("keyring");
  EXPECT_THAT(LocalKms::Create(options, master_.Clone()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("another process")));
  kms_.reset();
  EXPECT_OK(LocalKms::Create(options, master_.Clone()));
}

TEST_F(LocalKmsTest, CorruptKeyringStopsStartWithoutTouchingTheFile) {
  kms_.reset();
  std::string path = dir_.File("keyring");
  std::string original = ReadAll(path);
  std::string truncated = original.substr(0, original.size() - 5);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << truncated;
  LocalKmsOptions options;
  options.keyring_file = path;
  options.required_keys = {"k1", "k9"};  // would be written if start went on
  EXPECT_THAT(LocalKms::Create(options, master_.Clone()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ReadAll(path), truncated);
  EXPECT_THAT(LocalKms::Create(options, *crypto::RandomSecret(32)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ReadAll(path), truncated);
}

TEST_F(LocalKmsTest, ConcurrentWrapsAndRotationsLoseNothing) {
  std::vector<std::thread> threads;
  std::vector<std::vector<WrappedKey>> made(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (t == 0 && i % 20 == 0) ASSERT_OK(kms_->Rotate("k1", options_));
        absl::StatusOr<WrappedKey> wrapped = kms_->Wrap("k1", dek_, context_, options_);
        ASSERT_OK(wrapped);
        made[t].push_back(*std::move(wrapped));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  kms_.reset();
  std::unique_ptr<LocalKms> reopened = Open();
  for (const auto& list : made) {
    for (const WrappedKey& wrapped : list) {
      ASSERT_OK(reopened->Unwrap(Decode(wrapped.edek), context_, options_));
    }
  }
  EXPECT_EQ(reopened->Describe("k1", options_)->key_version, "11");
}

}  // namespace
}  // namespace keybroker::kms
