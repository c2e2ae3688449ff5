// AzureBrokerSuite: what the Azure integration suites share. One Key Vault
// emulator (vault kv1, managed HSM hsm1, Entra ID, the client-secret
// principal of azure_broker_config.h) and one broker serve every test of a
// suite; each test gets its own stub; the RPCs the tests make most are here,
// with the encryption context tenant=acme unless a test names another.
//
//   class MyTest : public AzureBrokerSuite<MyTest> {
//    protected:
//     static void SetUpTestSuite() {
//       StartEmulator("secret");
//       ... create keys with emulator_->Control("create-key", ...) ...
//       StartBroker(AzureBrokerConfig(*emulator_, options));
//     }
//   };
//
// The template parameter gives each suite its own emulator and broker.
#ifndef KEYBROKER_TESTS_INTEGRATION_AZURE_BROKER_SUITE_H_
#define KEYBROKER_TESTS_INTEGRATION_AZURE_BROKER_SUITE_H_

#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/integration/azure_broker_config.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/grpc_test_client.h"
#include "tests/integration/keyvault_emulator_process.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {

template <typename Suite>
class AzureBrokerSuite : public ::testing::Test {
 protected:
  // Every RPC's deadline: long enough for a loaded machine and a slow vault.
  static constexpr std::chrono::seconds kRpcDeadline{30};

  // Makes the suite's directory and starts the emulator with the principal's
  // `secret`. Call first in SetUpTestSuite.
  static void StartEmulator(const std::string& secret) {
    dir_ = new TempDir();
    auto emulator = StartEmulatorWithSecretPrincipal(dir_->path(), secret);
    ASSERT_OK(emulator);
    emulator_ = emulator->release();
  }

  // Writes `config` to keybroker.yaml in the suite's directory, starts the
  // broker on it and waits for `ready_line` in its log: by default the end of
  // the start-up key checks, so that tests counting the emulator's requests
  // see only their own.
  static void StartBroker(const std::string& config,
                          const std::string& ready_line = "key_checks_done") {
    WriteAll(dir_->File("keybroker.yaml"), config);
    auto broker = BrokerProcess::Start({"--config", dir_->File("keybroker.yaml")});
    ASSERT_OK(broker);
    broker_ = broker->release();
    ASSERT_TRUE(broker_->WaitForLogLine(ready_line, absl::Seconds(60)));
  }

  static void TearDownTestSuite() {
    delete broker_;
    delete emulator_;
    delete dir_;
    broker_ = nullptr;
    emulator_ = nullptr;
    dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(broker_, nullptr) << "the suite's broker did not start";
    stub_ = NewStub(broker_->address());
  }

  grpc::Status GenerateDek(const std::string& key, v1::GenerateDekResponse* response,
                           const std::string& tenant = "acme") {
    v1::GenerateDekRequest request;
    request.set_key(key);
    (*request.mutable_context())["tenant"] = tenant;
    grpc::Status status = stub_->GenerateDek(Ctx(kRpcDeadline).get(), request, response);
    if (!status.ok()) std::cerr << "GenerateDek(" << key << "): " << status.error_message() << "\n";
    return status;
  }

  grpc::Status Unwrap(const std::string& edek, std::string* plaintext,
                      const std::string& tenant = "acme") {
    v1::UnwrapRequest request;
    request.set_edek(edek);
    (*request.mutable_context())["tenant"] = tenant;
    v1::UnwrapResponse response;
    grpc::Status status = stub_->Unwrap(Ctx(kRpcDeadline).get(), request, &response);
    *plaintext = response.plaintext();
    return status;
  }

  grpc::Status DescribeKey(const std::string& key, v1::DescribeKeyResponse* response) {
    v1::DescribeKeyRequest request;
    request.set_key(key);
    return stub_->DescribeKey(Ctx(kRpcDeadline).get(), request, response);
  }

  static inline TempDir* dir_ = nullptr;
  static inline KeyVaultEmulator* emulator_ = nullptr;
  static inline BrokerProcess* broker_ = nullptr;
  std::unique_ptr<v1::KeyBroker::Stub> stub_;
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_INTEGRATION_AZURE_BROKER_SUITE_H_
