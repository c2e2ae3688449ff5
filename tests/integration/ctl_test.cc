// keybrokerctl against the real broker: JSON out, base64 bytes, error JSON
// with the broker's reason, and exit codes 0 / 1 / 2.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/broker_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {
namespace {

struct CtlResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class CtlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker = BrokerProcess::Start({"--listen", "127.0.0.1:0", "--data-dir", dir_.path()});
    ASSERT_OK(broker);
    broker_ = *std::move(broker);
  }

  // Runs keybrokerctl with `args` (already shell-quoted where needed).
  CtlResult Ctl(const std::string& args) {
    std::string err_file = dir_.File("ctl.err");
    std::string command = BuiltBinary("ctl/keybrokerctl") + " --addr " + broker_->address() +
                          " " + args + " 2>" + err_file;
    CtlResult result;
    FILE* pipe = ::popen(command.c_str(), "r");
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
    int status = ::pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream in(err_file);
    result.err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return result;
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(CtlTest, GenerateDekAndUnwrapRoundTrip) {
  CtlResult generated = Ctl("generate-dek --key default --context tenant=acme --context a=b=c");
  ASSERT_EQ(generated.exit_code, 0) << generated.err;
  nlohmann::json dek = nlohmann::json::parse(generated.out);
  std::string plaintext;
  ASSERT_TRUE(absl::Base64Unescape(dek["plaintext"].get<std::string>(), &plaintext));
  EXPECT_EQ(plaintext.size(), 32u);
  EXPECT_EQ(dek["key_version"], "1");

  CtlResult unwrapped = Ctl("unwrap --edek " + dek["edek"].get<std::string>() +
                            " --context a=b=c --context tenant=acme");
  ASSERT_EQ(unwrapped.exit_code, 0) << unwrapped.err;
  EXPECT_EQ(nlohmann::json::parse(unwrapped.out)["plaintext"], dek["plaintext"]);
}

TEST_F(CtlTest, WrapRotateRewrapDescribe) {
  CtlResult wrapped = Ctl("wrap --key default --plaintext " + absl::Base64Escape("secret-key"));
  ASSERT_EQ(wrapped.exit_code, 0) << wrapped.err;
  std::string edek = nlohmann::json::parse(wrapped.out)["edek"];

  CtlResult rotated = Ctl("rotate --key default");
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  EXPECT_EQ(nlohmann::json::parse(rotated.out)["key_version"], "2");

  CtlResult rewrapped = Ctl("rewrap --edek " + edek);
  ASSERT_EQ(rewrapped.exit_code, 0) << rewrapped.err;
  nlohmann::json moved = nlohmann::json::parse(rewrapped.out);
  EXPECT_EQ(moved["key_version"], "2");
  CtlResult unwrapped = Ctl("unwrap --edek " + moved["edek"].get<std::string>());
  EXPECT_EQ(nlohmann::json::parse(unwrapped.out)["plaintext"], absl::Base64Escape("secret-key"));

  CtlResult described = Ctl("describe --key default");
  ASSERT_EQ(described.exit_code, 0) << described.err;
  nlohmann::json description = nlohmann::json::parse(described.out);
  EXPECT_EQ(description["key_version"], "2");
  EXPECT_EQ(description["accessible"], true);
  EXPECT_EQ(description["algorithm"], "AES-256-GCM");
}

TEST_F(CtlTest, BrokerErrorsArePrintedAsJsonWithTheReason) {
  CtlResult missing = Ctl("describe --key nosuch");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(missing.out.empty());
  nlohmann::json error = nlohmann::json::parse(missing.err)["error"];
  EXPECT_EQ(error["code"], "NOT_FOUND");
  EXPECT_EQ(error["reason"], "KEY_NOT_FOUND");
  EXPECT_EQ(error["domain"], "keybroker");

  std::string edek = nlohmann::json::parse(Ctl("generate-dek --key default --context t=1").out)["edek"];
  CtlResult wrong = Ctl("unwrap --edek " + edek + " --context t=2");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_EQ(nlohmann::json::parse(wrong.err)["error"]["reason"], "EDEK_INVALID");
}

TEST_F(CtlTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Ctl("unwrap --edek '***'").exit_code, 2);
  EXPECT_EQ(Ctl("generate-dek --key default --context novalue").exit_code, 2);
  EXPECT_EQ(Ctl("generate-dek").exit_code, 2);
}

}  // namespace
}  // namespace keybroker::testing
