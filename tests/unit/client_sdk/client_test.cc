// Client against the real `keybroker` binary on a loopback port: every RPC,
// the broker's error reasons as typed absl::Status, concurrent use.
#include "keybroker/sdk/client.h"

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keybroker/sdk/error_info.h"
#include "tests/integration/broker_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::sdk {
namespace {

using ::keybroker::testing::BrokerProcess;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::TempDir;
using ::testing::HasSubstr;

class ClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto broker = BrokerProcess::Start({"--listen", "127.0.0.1:0", "--data-dir", dir_->path()});
    ASSERT_OK(broker);
    broker_ = broker->release();
  }
  static void TearDownTestSuite() {
    delete broker_;
    delete dir_;
  }

  void SetUp() override {
    ASSERT_NE(broker_, nullptr) << "the broker did not start";
    ClientOptions options;
    options.target = broker_->address();
    auto client = Client::Create(options);
    ASSERT_OK(client);
    client_ = *std::move(client);
  }

  static TempDir* dir_;
  static BrokerProcess* broker_;
  std::unique_ptr<Client> client_;
  const Context context_{{"tenant", "acme"}, {"topic", "orders"}};
};

TempDir* ClientTest::dir_ = nullptr;
BrokerProcess* ClientTest::broker_ = nullptr;

TEST_F(ClientTest, GenerateDekThenUnwrapGivesTheSameDek) {
  absl::StatusOr<DataKey> dek = client_->GenerateDek("default", context_);
  ASSERT_OK(dek);
  EXPECT_EQ(dek->plaintext.size(), 32u);
  EXPECT_FALSE(dek->edek.empty());
  EXPECT_FALSE(dek->key_version.empty());
  absl::StatusOr<crypto::SecretBytes> unwrapped = client_->Unwrap(dek->edek, context_);
  ASSERT_OK(unwrapped);
  EXPECT_TRUE(unwrapped->ConstantTimeEquals(dek->plaintext));
}

TEST_F(ClientTest, WrapThenUnwrapGivesTheCallersKey) {
  for (size_t size : {1, 15, 32, 64}) {
    crypto::SecretBytes key = crypto::SecretBytes::CopyFrom(std::string(size, 'k'));
    absl::StatusOr<std::string> edek = client_->Wrap("default", key, context_);
    ASSERT_OK(edek) << size;
    absl::StatusOr<crypto::SecretBytes> unwrapped = client_->Unwrap(*edek, context_);
    ASSERT_OK(unwrapped) << size;
    EXPECT_TRUE(unwrapped->ConstantTimeEquals(key)) << size;
  }
}

TEST_F(ClientTest, RotateThenRewrapMovesTheEdekToTheNewVersion) {
  absl::StatusOr<DataKey> dek = client_->GenerateDek("default", context_);
  ASSERT_OK(dek);
  absl::StatusOr<std::string> rotated = client_->Rotate("default");
  ASSERT_OK(rotated);
  EXPECT_NE(*rotated, dek->key_version);

  absl::StatusOr<std::string> rewrapped = client_->Rewrap(dek->edek, context_);
  ASSERT_OK(rewrapped);
  EXPECT_NE(*rewrapped, dek->edek);
  absl::StatusOr<crypto::SecretBytes> unwrapped = client_->Unwrap(*rewrapped, context_);
  ASSERT_OK(unwrapped);
  EXPECT_TRUE(unwrapped->ConstantTimeEquals(dek->plaintext));

  absl::StatusOr<KeyDescription> described = client_->DescribeKey("default");
  ASSERT_OK(described);
  EXPECT_EQ(described->key_version, *rotated);
}

TEST_F(ClientTest, WithVersionCallsSayWhichKeyVersionWrapped) {
  crypto::SecretBytes key = crypto::SecretBytes::CopyFrom(std::string(32, 'k'));
  absl::StatusOr<WrappedDek> wrapped = client_->WrapWithVersion("default", key, context_);
  ASSERT_OK(wrapped);
  absl::StatusOr<KeyDescription> before = client_->DescribeKey("default");
  ASSERT_OK(before);
  EXPECT_EQ(wrapped->key_version, before->key_version);
  absl::StatusOr<UnwrappedDek> unwrapped = client_->UnwrapWithVersion(wrapped->edek, context_);
  ASSERT_OK(unwrapped);
  EXPECT_TRUE(unwrapped->plaintext.ConstantTimeEquals(key));
  EXPECT_EQ(unwrapped->key_version, wrapped->key_version);

  absl::StatusOr<std::string> rotated = client_->Rotate("default");
  ASSERT_OK(rotated);
  absl::StatusOr<WrappedDek> rewrapped = client_->RewrapWithVersion(wrapped->edek, context_);
  ASSERT_OK(rewrapped);
  EXPECT_EQ(rewrapped->key_version, *rotated);
  absl::StatusOr<UnwrappedDek> moved = client_->UnwrapWithVersion(rewrapped->edek, context_);
  ASSERT_OK(moved);
  EXPECT_EQ(moved->key_version, *rotated);
  EXPECT_TRUE(moved->plaintext.ConstantTimeEquals(key));

  EXPECT_THAT(client_->UnwrapWithVersion(wrapped->edek, {}), HasReason(ErrorReason::kEdekInvalid));
  EXPECT_THAT(client_->WrapWithVersion("no-such-alias", key, context_),
              HasReason(ErrorReason::kKeyNotFound));
}

TEST_F(ClientTest, DescribeKeyFillsEveryField) {
  absl::StatusOr<KeyDescription> described = client_->DescribeKey("default");
  ASSERT_OK(described);
  EXPECT_EQ(described->key, "default");
  EXPECT_FALSE(described->key_version.empty());
  EXPECT_EQ(described->algorithm, "AES-256-GCM");
  EXPECT_EQ(described->kms, "local");
  EXPECT_TRUE(described->accessible);
  EXPECT_TRUE(described->quantum_resistant);
  EXPECT_FALSE(described->customer_managed);
  EXPECT_EQ(described->reason, "");
}

TEST_F(ClientTest, UnknownAliasIsNotFoundWithItsReason) {
  absl::StatusOr<DataKey> dek = client_->GenerateDek("no-such-alias", context_);
  EXPECT_THAT(dek, HasReason(ErrorReason::kKeyNotFound));
  std::optional<ErrorInfo> info = ErrorInfoOf(dek.status());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason, "KEY_NOT_FOUND");
  EXPECT_EQ(info->domain, "keybroker");
  EXPECT_TRUE(IsAliasNotConfigured(dek.status())) << "ErrorInfo metadata alias_configured";
  EXPECT_THAT(std::string(dek.status().message()), HasSubstr("no-such-alias"));
  EXPECT_THAT(client_->Rotate("no-such-alias"), HasReason(ErrorReason::kKeyNotFound));
  EXPECT_THAT(client_->Wrap("no-such-alias", crypto::SecretBytes::CopyFrom("k"), context_),
              HasReason(ErrorReason::kKeyNotFound));
}

TEST_F(ClientTest, WrongContextOrTamperedEdekIsEdekInvalid) {
  absl::StatusOr<DataKey> dek = client_->GenerateDek("default", context_);
  ASSERT_OK(dek);
  EXPECT_THAT(client_->Unwrap(dek->edek, {{"tenant", "other"}, {"topic", "orders"}}),
              HasReason(ErrorReason::kEdekInvalid));
  EXPECT_THAT(client_->Rewrap(dek->edek, {}), HasReason(ErrorReason::kEdekInvalid));
  std::string tampered = dek->edek;
  tampered.back() ^= 1;
  EXPECT_THAT(client_->Unwrap(tampered, context_), HasReason(ErrorReason::kEdekInvalid));
}

TEST_F(ClientTest, KeyMaterialOutOfRangeIsAnInvalidRequest) {
  EXPECT_THAT(client_->Wrap("default", crypto::SecretBytes::CopyFrom(std::string(65, 'k')), {}),
              HasReason(ErrorReason::kInvalidRequest));
  EXPECT_THAT(client_->Wrap("default", crypto::SecretBytes(), {}),
              HasReason(ErrorReason::kInvalidRequest));
}

TEST_F(ClientTest, OneClientServesManyThreads) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        absl::StatusOr<DataKey> dek = client_->GenerateDek("default", context_);
        absl::StatusOr<crypto::SecretBytes> unwrapped =
            dek.ok() ? client_->Unwrap(dek->edek, context_) : dek.status();
        if (!unwrapped.ok() || !unwrapped->ConstantTimeEquals(dek->plaintext)) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace keybroker::sdk
