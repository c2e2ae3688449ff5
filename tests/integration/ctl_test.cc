// keybrokerctl against the real broker: JSON out, base64 bytes, error JSON
// with the broker's reason, and exit codes 0 / 1 / 2; plaintext to another
// host refused before any connection, as the SDK refuses it; and its keyring
// commands, which work on a keyring file with no broker.
#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/broker_process.h"
#include "tests/integration/ctl_runner.h"
#include "tests/testing/files.h"
#include "tests/testing/silent_peer.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// The names of `object`'s members, in the order printed.
std::vector<std::string> KeysOf(const std::string& object) {
  std::vector<std::string> keys;
  nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(object);
  for (const auto& item : parsed.items()) keys.push_back(item.key());
  return keys;
}

class CtlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker = BrokerProcess::Start({"--listen", "127.0.0.1:0", "--data-dir", dir_.path()});
    ASSERT_OK(broker);
    broker_ = *std::move(broker);
  }

  // Runs keybrokerctl with `args` (already shell-quoted where needed).
  CtlResult Ctl(const std::string& args) {
    return RunCtl("--addr " + broker_->address() + " " + args, dir_.path());
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
  EXPECT_THAT(KeysOf(generated.out), ElementsAre("plaintext", "edek", "key_version"));

  CtlResult unwrapped = Ctl("unwrap --edek " + dek["edek"].get<std::string>() +
                            " --context a=b=c --context tenant=acme");
  ASSERT_EQ(unwrapped.exit_code, 0) << unwrapped.err;
  EXPECT_EQ(nlohmann::json::parse(unwrapped.out)["plaintext"], dek["plaintext"]);
  EXPECT_EQ(nlohmann::json::parse(unwrapped.out)["key_version"], "1");
  EXPECT_THAT(KeysOf(unwrapped.out), ElementsAre("plaintext", "key_version"));
}

TEST_F(CtlTest, WrapRotateRewrapDescribe) {
  CtlResult wrapped = Ctl("wrap --key default --plaintext " + absl::Base64Escape("secret-key"));
  ASSERT_EQ(wrapped.exit_code, 0) << wrapped.err;
  std::string edek = nlohmann::json::parse(wrapped.out)["edek"];
  EXPECT_EQ(nlohmann::json::parse(wrapped.out)["key_version"], "1");
  EXPECT_THAT(KeysOf(wrapped.out), ElementsAre("edek", "key_version"));

  CtlResult rotated = Ctl("rotate --key default");
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  EXPECT_EQ(nlohmann::json::parse(rotated.out)["key_version"], "2");

  CtlResult rewrapped = Ctl("rewrap --edek " + edek);
  ASSERT_EQ(rewrapped.exit_code, 0) << rewrapped.err;
  nlohmann::json moved = nlohmann::json::parse(rewrapped.out);
  EXPECT_EQ(moved["key_version"], "2");
  EXPECT_THAT(KeysOf(rewrapped.out), ElementsAre("edek", "key_version"));
  CtlResult unwrapped = Ctl("unwrap --edek " + moved["edek"].get<std::string>());
  EXPECT_EQ(nlohmann::json::parse(unwrapped.out)["plaintext"], absl::Base64Escape("secret-key"));

  CtlResult described = Ctl("describe --key default");
  ASSERT_EQ(described.exit_code, 0) << described.err;
  nlohmann::json description = nlohmann::json::parse(described.out);
  EXPECT_EQ(description["key_version"], "2");
  EXPECT_EQ(description["accessible"], true);
  EXPECT_EQ(description["algorithm"], "AES-256-GCM");
  EXPECT_EQ(description["kms"], "local");
  EXPECT_EQ(description["customer_managed"], false);
  EXPECT_EQ(description["reason"], "");
  EXPECT_THAT(KeysOf(described.out),
              ElementsAre("key", "key_version", "algorithm", "accessible", "quantum_resistant",
                          "customer_managed", "reason", "kms"));
}

TEST_F(CtlTest, BrokerErrorsArePrintedAsJsonWithTheReason) {
  CtlResult missing = Ctl("describe --key nosuch");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(missing.out.empty());
  nlohmann::json error = nlohmann::json::parse(missing.err)["error"];
  EXPECT_EQ(error["code"], "NOT_FOUND");
  EXPECT_EQ(error["reason"], "KEY_NOT_FOUND");
  EXPECT_EQ(error["domain"], "keybroker");
  EXPECT_THAT(KeysOf(missing.err), ElementsAre("error"));
  EXPECT_THAT(KeysOf(nlohmann::ordered_json::parse(missing.err)["error"].dump()),
              ElementsAre("code", "message", "reason", "domain"));

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

// 0.0.0.0 reaches this host's listeners on Linux, but the SDK's rule knows
// only unix sockets, localhost, 127.0.0.0/8 and ::1 as local, so it stands
// for another host whose connections the test can still see.
TEST(CtlPlaintextTest, PlaintextToAnotherHostIsRefusedWithoutAnyConnection) {
  TempDir dir;
  SilentPeer peer;
  const std::string elsewhere = "0.0.0.0:" + std::to_string(peer.port());
  for (const std::string& addr : {elsewhere, std::string("10.255.255.1:50051")}) {
    CtlResult refused = RunCtl("--addr " + addr + " --timeout 30 describe --key default", dir.path());
    EXPECT_EQ(refused.exit_code, 2) << addr;
    EXPECT_TRUE(refused.out.empty()) << addr;
    nlohmann::json error = nlohmann::json::parse(refused.err)["error"];
    EXPECT_EQ(error["code"], "INVALID_ARGUMENT") << addr;
    EXPECT_THAT(error["message"].get<std::string>(),
                AllOf(HasSubstr(addr), HasSubstr("--tls"), HasSubstr("--allow-plaintext")));
  }
  EXPECT_EQ(peer.ConnectionsMade(), 0);

  // The same command with --allow-plaintext does connect (the peer never
  // answers, so it fails at its deadline).
  CtlResult allowed = RunCtl("--addr " + elsewhere + " --allow-plaintext --timeout 1 describe "
                             "--key default", dir.path());
  EXPECT_EQ(allowed.exit_code, 1);
  // gRPC's own error: no reason, no domain.
  EXPECT_THAT(KeysOf(nlohmann::ordered_json::parse(allowed.err)["error"].dump()),
              ElementsAre("code", "message"));
  EXPECT_GE(peer.ConnectionsMade(), 1) << "0.0.0.0 no longer reaches this host";
}

// keybrokerctl keyring: a keyring file worked on directly, no broker.
class CtlKeyringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CtlResult created = Keyring("new-master-key --out " + master_);
    ASSERT_EQ(created.exit_code, 0) << created.err;
  }

  CtlResult Keyring(const std::string& args, const std::string& env = "") {
    return RunCtl("keyring " + args, dir_.path(), env);
  }
  // `keyring <command> --keyring-file ring --master-key-file master-key <args>`.
  CtlResult OnRing(const std::string& command, const std::string& args = "") {
    return Keyring(command + " --keyring-file " + ring_ + " --master-key-file " + master_ + " " +
                   args);
  }
  static nlohmann::json ErrorOf(const CtlResult& result) {
    return nlohmann::json::parse(result.err)["error"];
  }

  TempDir dir_;
  std::string master_ = dir_.File("master-key");
  std::string ring_ = dir_.File("ring");
};

TEST_F(CtlKeyringTest, NewMasterKeyIsA0600HexFileNeverOverwritten) {
  std::string key = ReadAll(master_);
  EXPECT_EQ(key.size(), 65u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), 64u);
  struct stat st;
  ASSERT_EQ(::stat(master_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  CtlResult again = Keyring("new-master-key --out " + master_);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(again.out.empty());
  EXPECT_EQ(ErrorOf(again)["code"], "ALREADY_EXISTS");
  EXPECT_EQ(ReadAll(master_), key);
  EXPECT_EQ(Keyring("new-master-key").exit_code, 2) << "--out is required";
}

TEST_F(CtlKeyringTest, InitRotateAndListNeverPrintMaterial) {
  CtlResult init = OnRing("init", "--key alpha --key beta");
  ASSERT_EQ(init.exit_code, 0) << init.err;
  nlohmann::json made = nlohmann::json::parse(init.out);
  EXPECT_EQ(made["keyring_file"], ring_);
  ASSERT_EQ(made["keys"].size(), 2u);
  EXPECT_EQ(made["keys"][0]["key"], "alpha");
  EXPECT_EQ(made["keys"][0]["current_version"], "1");

  CtlResult rotated = OnRing("rotate", "--key alpha");
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  EXPECT_EQ(nlohmann::json::parse(rotated.out),
            (nlohmann::json{{"keyring_file", ring_}, {"key", "alpha"}, {"key_version", "2"}}));

  // The master key may come from the environment, as for the broker.
  CtlResult listed = Keyring("list --keyring-file " + ring_,
                             "KEYBROKER_MASTER_KEY=" + ReadAll(master_).substr(0, 64));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  nlohmann::json list = nlohmann::json::parse(listed.out);
  nlohmann::json alpha = list["keys"][0];
  EXPECT_EQ(alpha["key"], "alpha");
  EXPECT_EQ(alpha["current_version"], "2");
  ASSERT_EQ(alpha["versions"].size(), 2u);
  EXPECT_EQ(alpha["versions"][1]["version"], "2");
  EXPECT_THAT(alpha["versions"][1]["created"].get<std::string>(), ::testing::EndsWith("Z"));
  EXPECT_EQ(list["keys"][1]["current_version"], "1");
  for (const std::string& line : {init.out, rotated.out, listed.out}) {
    EXPECT_THAT(line, Not(HasSubstr("material")));
  }
}

TEST_F(CtlKeyringTest, InitRefusesToOverwriteAKeyring) {
  ASSERT_EQ(OnRing("init", "--key alpha").exit_code, 0);
  std::string before = ReadAll(ring_);
  CtlResult again = OnRing("init", "--key other");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(ErrorOf(again)["code"], "ALREADY_EXISTS");
  EXPECT_THAT(ErrorOf(again)["message"].get<std::string>(), HasSubstr("never overwrites"));
  EXPECT_EQ(ReadAll(ring_), before);
  EXPECT_EQ(OnRing("init").exit_code, 2) << "--key is required";
}

TEST_F(CtlKeyringTest, WrongOrMissingMasterKeyIsAnError) {
  ASSERT_EQ(OnRing("init", "--key alpha").exit_code, 0);
  std::string other = dir_.File("other-key");
  ASSERT_EQ(Keyring("new-master-key --out " + other).exit_code, 0);
  for (const std::string& command : {"list", "rotate --key alpha"}) {
    CtlResult wrong = Keyring(command + " --keyring-file " + ring_ + " --master-key-file " + other);
    EXPECT_EQ(wrong.exit_code, 1) << command;
    EXPECT_EQ(ErrorOf(wrong)["code"], "FAILED_PRECONDITION");
    EXPECT_THAT(ErrorOf(wrong)["message"].get<std::string>(), HasSubstr("wrong master key"));
  }
  CtlResult missing_key_file =
      Keyring("list --keyring-file " + ring_ + " --master-key-file " + dir_.File("nope"));
  EXPECT_EQ(missing_key_file.exit_code, 1);
  EXPECT_THAT(ErrorOf(missing_key_file)["message"].get<std::string>(),
              HasSubstr("cannot read master key file"));
  CtlResult no_key = Keyring("list --keyring-file " + ring_);  // nor KEYBROKER_MASTER_KEY
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_THAT(no_key.err, HasSubstr("--master-key-file"));
}

TEST_F(CtlKeyringTest, MissingKeyringOrKeyIsAnError) {
  CtlResult listed = OnRing("list");
  EXPECT_EQ(listed.exit_code, 1);
  EXPECT_EQ(ErrorOf(listed)["code"], "NOT_FOUND");
  CtlResult rotated = OnRing("rotate", "--key alpha");
  EXPECT_EQ(rotated.exit_code, 1);
  EXPECT_EQ(ErrorOf(rotated)["code"], "NOT_FOUND");

  ASSERT_EQ(OnRing("init", "--key alpha").exit_code, 0);
  CtlResult unknown = OnRing("rotate", "--key beta");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_EQ(ErrorOf(unknown)["reason"], "KEY_NOT_FOUND");
  EXPECT_EQ(OnRing("rotate").exit_code, 2) << "--key is required";
  EXPECT_EQ(Keyring("").exit_code, 2) << "a keyring command is required";
}

TEST_F(CtlKeyringTest, RotateRefusesWhileAWritableBrokerHoldsTheKeyring) {
  TempDir data;
  auto broker = BrokerProcess::Start({"--listen", "127.0.0.1:0", "--data-dir", data.path()});
  ASSERT_OK(broker);
  CtlResult rotated = Keyring("rotate --keyring-file " + data.File("keyring") +
                              " --master-key-file " + data.File("master-key") +
                              " --key service-default");
  EXPECT_EQ(rotated.exit_code, 1);
  EXPECT_THAT(ErrorOf(rotated)["message"].get<std::string>(), HasSubstr("another process"));
}

}  // namespace
}  // namespace keybroker::testing
