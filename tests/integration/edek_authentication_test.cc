// edek_authentication through the real broker and the Key Vault emulator:
// RSA EDEKs the broker makes carry its tag and unwrap; an RSA EDEK anyone
// could mint with the public key (here: a real one with its tag removed) is
// refused before any Key Vault call.
#include <string>

#include "gtest/gtest.h"
#include "crypto/edek.h"
#include "nlohmann/json.hpp"
#include "tests/integration/azure_broker_config.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/integration/keyvault_emulator_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/files.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {
namespace {

class EdekAuthenticationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto emulator = StartEmulatorWithSecretPrincipal(dir_.path(), "edek-auth-secret");
    ASSERT_OK(emulator);
    emulator_ = *std::move(emulator);
    ASSERT_OK(emulator_->Control(
        "create-key", {{"host", "kv1"}, {"name", "rsa"}, {"kty", "RSA"}, {"size", 2048}}));
    WriteAll(dir_.File("master-key"), std::string(64, 'a'));
  }

  std::unique_ptr<BrokerProcess> StartBroker(bool accept_unauthenticated) {
    AzureBrokerConfigOptions options;
    options.kv_ca_file = emulator_->ca_file();
    options.secrets_dir = dir_.path();
    options.keys = AzureKeyConfig(*emulator_, "tenant-rsa", "kv1", "rsa", "app", false);
    options.more_kms = "  local:\n    keyring_file: " + dir_.File("keyring") +
                       "\n    master_key_file: " + dir_.File("master-key") + "\n";
    options.more_settings = std::string("edek_authentication:\n  local_key: edek-auth\n") +
                            (accept_unauthenticated ? "  accept_unauthenticated: true\n" : "");
    WriteAll(dir_.File("keybroker.yaml"), AzureBrokerConfig(*emulator_, options));
    auto broker = BrokerProcess::Start({"--config", dir_.File("keybroker.yaml")});
    EXPECT_OK(broker);
    if (!broker.ok()) return nullptr;
    EXPECT_TRUE((*broker)->WaitForLogLine("key_checks_done", absl::Seconds(30)));
    return *std::move(broker);
  }

  static grpc::Status Unwrap(v1::KeyBroker::Stub& stub, const std::string& edek,
                             std::string* plaintext) {
    v1::UnwrapRequest request;
    request.set_edek(edek);
    (*request.mutable_context())["tenant"] = "acme";
    v1::UnwrapResponse response;
    grpc::Status status = stub.Unwrap(Ctx().get(), request, &response);
    *plaintext = response.plaintext();
    return status;
  }

  // `edek` as someone with only the public key could make it: no tag.
  static std::string Untagged(const std::string& edek) {
    crypto::Edek decoded = *crypto::DecodeEdek(edek);
    decoded.iv.clear();
    decoded.tag.clear();
    return *crypto::EncodeEdek(decoded);
  }

  TempDir dir_;
  std::unique_ptr<KeyVaultEmulator> emulator_;
};

TEST_F(EdekAuthenticationTest, OnlyEdeksThisBrokerMadeReachKeyVault) {
  auto broker = StartBroker(/*accept_unauthenticated=*/false);
  ASSERT_NE(broker, nullptr);
  auto stub = NewStub(broker->address());
  v1::GenerateDekRequest request;
  request.set_key("tenant-rsa");
  (*request.mutable_context())["tenant"] = "acme";
  v1::GenerateDekResponse dek;
  ASSERT_TRUE(stub->GenerateDek(Ctx().get(), request, &dek).ok());
  crypto::Edek decoded = *crypto::DecodeEdek(dek.edek());
  EXPECT_EQ(decoded.algorithm, crypto::EdekAlgorithm::kRsaOaep256);
  EXPECT_EQ(decoded.tag.size(), 32u);

  std::string plaintext;
  ASSERT_TRUE(Unwrap(*stub, dek.edek(), &plaintext).ok());
  EXPECT_EQ(plaintext, dek.plaintext());

  ASSERT_OK(emulator_->Control("reset-counts", nlohmann::json::object()));
  grpc::Status forged = Unwrap(*stub, Untagged(dek.edek()), &plaintext);
  EXPECT_EQ(GrpcReasonOf(forged), "EDEK_INVALID") << forged.error_message();
  std::string tampered = dek.edek();
  tampered[tampered.size() - 1] ^= 1;  // the last byte of the wrapped DEK
  EXPECT_EQ(GrpcReasonOf(Unwrap(*stub, tampered, &plaintext)), "EDEK_INVALID");
  // The tag check is for RSA EDEKs; the same EDEK relabelled AES-GCM (which
  // only a Managed HSM key makes) is refused as well, not sent to decrypt.
  crypto::Edek relabelled = *crypto::DecodeEdek(Untagged(dek.edek()));
  relabelled.algorithm = crypto::EdekAlgorithm::kAes256Gcm;
  relabelled.iv.assign(12, '\x01');
  relabelled.tag.assign(16, '\x02');
  EXPECT_EQ(GrpcReasonOf(Unwrap(*stub, *crypto::EncodeEdek(relabelled), &plaintext)),
            "EDEK_INVALID");
  EXPECT_EQ(emulator_->Count("kv1", "unwrapkey"), 0) << "refused before any Key Vault call";
  EXPECT_EQ(emulator_->Count("kv1", "decrypt"), 0) << "refused before any Key Vault call";

  v1::RewrapRequest rewrap;
  rewrap.set_edek(dek.edek());
  (*rewrap.mutable_context())["tenant"] = "acme";
  v1::RewrapResponse rewrapped;
  ASSERT_TRUE(stub->Rewrap(Ctx().get(), rewrap, &rewrapped).ok());
  ASSERT_TRUE(Unwrap(*stub, rewrapped.edek(), &plaintext).ok()) << "a rewrapped EDEK is tagged";
  EXPECT_EQ(plaintext, dek.plaintext());
}

TEST_F(EdekAuthenticationTest, MigrationAcceptsUntaggedEdeksAndRewrapTagsThem) {
  auto broker = StartBroker(/*accept_unauthenticated=*/true);
  ASSERT_NE(broker, nullptr);
  auto stub = NewStub(broker->address());
  v1::GenerateDekRequest request;
  request.set_key("tenant-rsa");
  (*request.mutable_context())["tenant"] = "acme";
  v1::GenerateDekResponse dek;
  ASSERT_TRUE(stub->GenerateDek(Ctx().get(), request, &dek).ok());
  const std::string old_edek = Untagged(dek.edek());  // as made before authentication
  std::string plaintext;
  ASSERT_TRUE(Unwrap(*stub, old_edek, &plaintext).ok());
  EXPECT_EQ(plaintext, dek.plaintext());

  v1::RewrapRequest rewrap;
  rewrap.set_edek(old_edek);
  (*rewrap.mutable_context())["tenant"] = "acme";
  v1::RewrapResponse rewrapped;
  ASSERT_TRUE(stub->Rewrap(Ctx().get(), rewrap, &rewrapped).ok());
  EXPECT_EQ(crypto::DecodeEdek(rewrapped.edek())->tag.size(), 32u);
}

}  // namespace
}  // namespace keybroker::testing
