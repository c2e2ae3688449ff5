// The FHIR BYOK scenarios (../shared/seeds/000_132d991533fb1fef.txt) end to
// end: examples/fhir_store (SQLite + keybroker_sdk_fhir) against the real
// broker, configured with a service-managed local key ("default") and
// customer keys in the Key Vault emulator, broker cache TTLs of 2 s and an
// SDK cache TTL of 1 s. Accounts without a key use the service-managed one;
// a customer key works; provisioning with an inaccessible key fails;
// rotation does not interrupt; revoked access gives the 403
// OperationOutcome; restored access loses nothing; a blob moved to another
// resource, version or account does not decrypt; an old key version is
// migrated off (rewrap-account) and retired with nothing lost.
#include <sqlite3.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <iterator>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keybroker/sdk/client.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/keyvault_emulator_process.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::testing {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr char kTenant[] = "11111111-2222-3333-4444-555555555555";
constexpr char kClientId[] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
constexpr int kBrokerTtlSeconds = 2;
constexpr int kSdkCacheTtlSeconds = 1;
constexpr char kForbidden[] =
    R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden",)"
    R"("diagnostics":"Customer-managed key is not accessible."}]})";

struct Result {
  int exit_code;
  std::string out;
};

std::string Patient(const std::string& id, const std::string& version, const std::string& family) {
  return Json{{"resourceType", "Patient"},
              {"id", id},
              {"meta", {{"versionId", version}}},
              {"name", Json::array({{{"family", family}}})}}
      .dump();
}

class FhirStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // kv1 is the customer's vault the broker's identity may use; kv2 one it may not.
    auto emulator = KeyVaultEmulator::Start(
        {"--vault", "kv1", "--vault", "kv2", "--entra", "--separate-entra-ca"}, dir_.path());
    ASSERT_OK(emulator);
    emulator_ = *std::move(emulator);
    ASSERT_OK(emulator_->Control("register-principal", {{"tenant", kTenant},
                                                        {"client_id", kClientId},
                                                        {"client_secret", "s3cret"},
                                                        {"hosts", {"kv1"}}}));
    for (auto [host, name] : {std::pair{"kv1", "cmk-acme"}, std::pair{"kv2", "cmk-locked"}}) {
      ASSERT_OK(emulator_->Control(
          "create-key", {{"host", host}, {"name", name}, {"kty", "RSA"}, {"size", 2048}}));
    }
    WriteAll(dir_.File("client-id"), std::string(kClientId) + "\n");
    WriteAll(dir_.File("client-secret"), "s3cret\n");
    WriteAll(dir_.File("master-key"), std::string(64, '7'));
    WriteAll(dir_.File("keybroker.yaml"), Config());
    auto broker = BrokerProcess::Start({"--config", dir_.File("keybroker.yaml")});
    ASSERT_OK(broker);
    broker_ = *std::move(broker);
    ASSERT_TRUE(broker_->WaitForLogLine("key_checks_done", absl::Seconds(60)));
  }

  std::string Config() {
    std::string config = absl::StrCat(
        "listen: 127.0.0.1:0\n"
        "cache: { metadata_ttl_seconds: ",
        kBrokerTtlSeconds, ", unwrap_ttl_seconds: ", kBrokerTtlSeconds,
        " }\n"
        "kms:\n"
        "  local:\n"
        "    keyring_file: ",
        dir_.File("keyring"),
        "\n"
        "    master_key_file: ",
        dir_.File("master-key"),
        "\n"
        "  azure:\n"
        "    key_vault_tls: { ca_file: ",
        emulator_->ca_file(),
        " }\n"
        "    request_timeout_seconds: 5\n"
        "    identities:\n"
        "      app:\n"
        "        tenant_id: ",
        kTenant,
        "\n"
        "        client_id: { password_file: ",
        dir_.File("client-id"),
        " }\n"
        "        client_secret: { password_file: ",
        dir_.File("client-secret"),
        " }\n"
        "        oauth_endpoint_url: ",
        emulator_->Url("entra"),
        "\n"
        "        tls: { ca_file: ",
        emulator_->entra_ca_file(),
        " }\n"
        // Customer keys named by URI at account creation, on either vault.
        "    key_sources:\n"
        "      - vaults: [\"",
        absl::StripPrefix(emulator_->Url("kv1"), "https://"), "\", \"",
        absl::StripPrefix(emulator_->Url("kv2"), "https://"),
        "\"]\n"
        "        identity: app\n"
        "keys:\n"
        "  - alias: default\n"
        "    local_key: service-managed\n");
    for (auto [host, name] : {std::pair{"kv1", "cmk-acme"}, std::pair{"kv2", "cmk-locked"}}) {
      absl::StrAppend(&config, "  - alias: ", name, "\n    azure_key: ", emulator_->Url(host),
                      "/keys/", name, "\n    identity: app\n    vault_kind: vault\n");
    }
    return config;
  }

  // Runs fhir_store with `args` after the common flags.
  Result Store(const std::vector<std::string>& args) {
    std::string command = absl::StrCat(
        "'", BuiltBinary("examples/fhir_store/fhir_store"), "' --broker '", broker_->address(),
        "' --db '", dir_.File("fhir.db"), "' --cache-ttl-seconds ", kSdkCacheTtlSeconds);
    for (const std::string& arg : args) absl::StrAppend(&command, " '", arg, "'");
    absl::StrAppend(&command, " 2>>'", dir_.File("fhir_store.stderr"), "'");
    Result result{-1, ""};
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return result;
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
    int status = ::pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (!result.out.empty() && result.out.back() == '\n') result.out.pop_back();
    return result;
  }

  Result Put(const std::string& account, const std::string& resource) {
    const std::string file = dir_.File("resource.json");
    WriteAll(file, resource);
    return Store({"put", account, file});
  }

  // Expects `get` to return exactly `resource` (compared as JSON).
  void ExpectStored(const std::string& account, const std::string& resource) {
    Json want = Json::parse(resource);
    Result got =
        Store({"get", account, want["resourceType"], want["id"], want["meta"]["versionId"]});
    ASSERT_EQ(got.exit_code, 0) << got.out << "\n" << ReadAll(dir_.File("fhir_store.stderr"));
    EXPECT_EQ(Json::parse(got.out), want);
  }

  // Runs one SQL statement on the store's database; returns the first
  // column of the first row (as bytes), if any.
  std::string Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    std::string value;
    if (sqlite3_open(dir_.File("fhir.db").c_str(), &db) == SQLITE_OK) {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
          sqlite3_step(stmt) == SQLITE_ROW) {
        const char* data = static_cast<const char*>(sqlite3_column_blob(stmt, 0));
        if (data != nullptr) value.assign(data, sqlite3_column_bytes(stmt, 0));
      }
      sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return value;
  }

  std::string Blob(const std::string& account, const std::string& id, const std::string& version) {
    return Sql(absl::StrCat("SELECT blob FROM resources WHERE account='", account, "' AND id='", id,
                            "' AND version='", version, "'"));
  }

  void CreateAccounts() {
    Result basic = Store({"create-account", "basic"});
    ASSERT_EQ(basic.exit_code, 0) << basic.out;
    EXPECT_EQ(Json::parse(basic.out), (Json{{"account", "basic"}, {"key", "default"}}));
    Result acme = Store({"create-account", "acme", "--key", "cmk-acme"});
    ASSERT_EQ(acme.exit_code, 0) << acme.out;
    EXPECT_EQ(Json::parse(acme.out), (Json{{"account", "acme"}, {"key", "cmk-acme"}}));
  }

  static void WaitPastTheBound() {
    absl::SleepFor(absl::Seconds(kBrokerTtlSeconds + kSdkCacheTtlSeconds) +
                   absl::Milliseconds(500));
  }

  TempDir dir_;
  std::unique_ptr<KeyVaultEmulator> emulator_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(FhirStoreTest, AccountsUseTheServiceManagedKeyOrTheirOwn) {
  ASSERT_NO_FATAL_FAILURE(CreateAccounts());
  // The same resource name in both accounts; each sealed under its account's key.
  for (const std::string account : {"basic", "acme"}) {
    Result put = Put(account, Patient("p1", "1", "Doe-" + account));
    ASSERT_EQ(put.exit_code, 0) << put.out;
    EXPECT_EQ(Json::parse(put.out),
              (Json{{"resourceType", "Patient"}, {"id", "p1"}, {"versionId", "1"}}));
  }
  ExpectStored("basic", Patient("p1", "1", "Doe-basic"));
  ExpectStored("acme", Patient("p1", "1", "Doe-acme"));
  std::string basic = Blob("basic", "p1", "1"), acme = Blob("acme", "p1", "1");
  EXPECT_THAT(basic, HasSubstr("service-managed")) << "EDEK names the local key";
  EXPECT_THAT(acme, HasSubstr("cmk-acme")) << "EDEK names the customer's key";
  EXPECT_THAT(basic + acme, ::testing::Not(HasSubstr("Doe"))) << "no plaintext at rest";

  Result missing = Store({"get", "acme", "Patient", "p9"});
  EXPECT_EQ(missing.exit_code, 4);
  EXPECT_THAT(missing.out, HasSubstr(R"("code":"not-found")"));
  Result invalid = Put("acme", R"({"resourceType":"Patient","id":"p2"})");
  EXPECT_EQ(invalid.exit_code, 4);
  EXPECT_THAT(invalid.out, HasSubstr("meta.versionId"));
}

TEST_F(FhirStoreTest, ProvisioningWithAnInaccessibleKeyFails) {
  Result locked = Store({"create-account", "locked", "--key", "cmk-locked"});
  EXPECT_EQ(locked.exit_code, 3);
  EXPECT_EQ(locked.out, kForbidden);
  Result unknown = Store({"create-account", "typo", "--key", "no-such-key"});
  EXPECT_EQ(unknown.exit_code, 4);
  EXPECT_THAT(unknown.out, HasSubstr(R"("code":"invalid")"));
  EXPECT_EQ(Sql("SELECT count(*) FROM accounts"), "0") << "no account was recorded";
  EXPECT_EQ(Put("locked", Patient("p1", "1", "Doe")).exit_code, 4) << "unknown account";
}

TEST_F(FhirStoreTest, AnAccountIsCreatedFromAKeyUriWithoutARestart) {
  // The customer's key, made after the broker started and named by URI.
  ASSERT_OK(emulator_->Control(
      "create-key", {{"host", "kv1"}, {"name", "cmk-byok"}, {"kty", "RSA"}, {"size", 2048}}));
  const std::string uri = emulator_->Url("kv1") + "/keys/cmk-byok";
  Result created = Store({"create-account", "byok", "--key-uri", uri});
  ASSERT_EQ(created.exit_code, 0) << created.out;
  EXPECT_EQ(Json::parse(created.out), (Json{{"account", "byok"}, {"key", uri}}));
  const std::string patient = Patient("p1", "1", "Doe");
  Result put = Put("byok", patient);
  ASSERT_EQ(put.exit_code, 0) << put.out << "\n" << ReadAll(dir_.File("fhir_store.stderr"));
  ExpectStored("byok", patient);

  // A key the broker's identity cannot reach: refused, nothing recorded.
  ASSERT_OK(emulator_->Control(
      "create-key", {{"host", "kv2"}, {"name", "cmk-nope"}, {"kty", "RSA"}, {"size", 2048}}));
  Result locked =
      Store({"create-account", "nope", "--key-uri", emulator_->Url("kv2") + "/keys/cmk-nope"});
  EXPECT_EQ(locked.exit_code, 3);
  EXPECT_EQ(locked.out, kForbidden);
  EXPECT_EQ(Sql("SELECT count(*) FROM accounts WHERE name='nope'"), "0");
  EXPECT_NE(Store({"create-account", "both", "--key", "cmk-acme", "--key-uri", uri}).exit_code,
            0);
}

TEST_F(FhirStoreTest, RotationDoesNotInterruptAndOldVersionsStayReadable) {
  ASSERT_NO_FATAL_FAILURE(CreateAccounts());
  ASSERT_EQ(Put("acme", Patient("p1", "1", "Before")).exit_code, 0);
  ASSERT_EQ(Put("basic", Patient("p1", "1", "Before")).exit_code, 0);

  // The customer adds a key version in the vault; the service-managed key is
  // rotated through the broker.
  absl::StatusOr<Json> added =
      emulator_->Control("add-version", {{"host", "kv1"}, {"name", "cmk-acme"}});
  ASSERT_OK(added);
  std::string kid = (*added)["key"]["kid"];
  const std::string new_version = absl::HexStringToBytes(kid.substr(kid.rfind('/') + 1));
  ASSERT_EQ(new_version.size(), 16u) << kid;
  auto client = sdk::Client::Create({.target = broker_->address()});
  ASSERT_OK(client);
  ASSERT_OK((*client)->Rotate("default"));
  WaitPastTheBound();

  ASSERT_EQ(Put("acme", Patient("p1", "2", "After")).exit_code, 0);
  ASSERT_EQ(Put("basic", Patient("p1", "2", "After")).exit_code, 0);
  for (const std::string account : {"acme", "basic"}) {
    ExpectStored(account, Patient("p1", "1", "Before"));
    ExpectStored(account, Patient("p1", "2", "After"));
    Result latest = Store({"get", account, "Patient", "p1"});
    ASSERT_EQ(latest.exit_code, 0);
    EXPECT_EQ(Json::parse(latest.out)["meta"]["versionId"], "2");
  }
  // Key Vault versions are stored raw (16 bytes) in the EDEK; local ones as text.
  EXPECT_THAT(Blob("acme", "p1", "2"), HasSubstr(new_version));
  EXPECT_THAT(Blob("acme", "p1", "1"), ::testing::Not(HasSubstr(new_version)));
  EXPECT_THAT(Blob("basic", "p1", "1"), HasSubstr(std::string("service-managed\x01"
                                                              "1")));
  EXPECT_THAT(Blob("basic", "p1", "2"), HasSubstr(std::string("service-managed\x01"
                                                              "2")));
}

// The life of a customer key version, told end to end: rotate in the vault,
// see both versions in use, move the account to the new one with
// rewrap-account (a dry run first; a second run changes nothing), see the
// old version's last use stop, disable it in the vault, and read everything
// back. A record left under the old version would now be refused.
TEST_F(FhirStoreTest, AnOldKeyVersionIsMigratedOffThenRetiredWithNothingLost) {
  ASSERT_NO_FATAL_FAILURE(CreateAccounts());
  std::vector<std::string> stored = {Patient("p1", "1", "A"), Patient("p2", "1", "B"),
                                     Patient("p3", "1", "C")};
  for (const std::string& resource : stored) ASSERT_EQ(Put("acme", resource).exit_code, 0);
  const std::string old_blob = Blob("acme", "p1", "1");

  absl::StatusOr<Json> added =
      emulator_->Control("add-version", {{"host", "kv1"}, {"name", "cmk-acme"}});
  ASSERT_OK(added);
  const std::string kid = (*added)["key"]["kid"];
  const std::string new_version = kid.substr(kid.rfind('/') + 1);
  WaitPastTheBound();  // the broker's metadata cache learns the new current version
  for (const std::string& resource : {Patient("p1", "2", "D"), Patient("p2", "2", "E")}) {
    ASSERT_EQ(Put("acme", resource).exit_code, 0);
    stored.push_back(resource);
  }
  for (const std::string& resource : stored) ExpectStored("acme", resource);

  auto client = sdk::Client::Create({.target = broker_->address()});
  ASSERT_OK(client);
  // The versions of cmk-acme the broker has seen in use: {old, new}.
  auto used_versions = [&]() -> std::map<std::string, absl::Time> {
    absl::StatusOr<sdk::KeyDescription> key = (*client)->DescribeKey("cmk-acme");
    EXPECT_OK(key);
    std::map<std::string, absl::Time> used;
    if (!key.ok()) return used;
    EXPECT_EQ(key->key_version, new_version);
    for (const sdk::KeyVersionInfo& version : key->versions) {
      if (version.last_used.has_value()) used[version.key_version] = *version.last_used;
    }
    return used;
  };
  std::map<std::string, absl::Time> in_use = used_versions();
  ASSERT_EQ(in_use.size(), 2u) << "both versions protect data";
  ASSERT_EQ(in_use.count(new_version), 1u);
  const std::string old_version = in_use.begin()->first == new_version
                                      ? std::next(in_use.begin())->first
                                      : in_use.begin()->first;

  Result dry = Store({"rewrap-account", "acme", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.out;
  Json planned = Json::parse(dry.out);
  EXPECT_EQ(planned["records"], 5);
  EXPECT_EQ(planned["to_reseal"], 3);
  EXPECT_EQ(planned["already_current"], 2);
  EXPECT_EQ(planned["versions"], (Json{{old_version, 3}, {new_version, 2}}));
  EXPECT_EQ(Blob("acme", "p1", "1"), old_blob) << "a dry run changes nothing";

  Result rewrapped = Store({"rewrap-account", "acme", "--batch-size", "2"});
  ASSERT_EQ(rewrapped.exit_code, 0) << rewrapped.out << ReadAll(dir_.File("fhir_store.stderr"));
  Json report = Json::parse(rewrapped.out);
  EXPECT_EQ(report["key"], "cmk-acme");
  EXPECT_EQ(report["key_version"], new_version);
  EXPECT_EQ(report["records"], 5);
  EXPECT_EQ(report["resealed"], 3);
  EXPECT_EQ(report["already_current"], 2);
  EXPECT_EQ(report["failed"], 0);
  EXPECT_EQ(report["versions"], (Json{{new_version, 5}}));
  const std::string progress = ReadAll(dir_.File("fhir_store.stderr"));
  for (const char* line : {"rewrap-account acme: 2 records read, 2 re-sealed",
                           "rewrap-account acme: 4 records read, 3 re-sealed",
                           "rewrap-account acme: 5 records read, 3 re-sealed"}) {
    EXPECT_THAT(progress, HasSubstr(line)) << "progress after each batch of 2";
  }
  Result again = Store({"rewrap-account", "acme"});
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(Json::parse(again.out)["resealed"], 0) << "idempotent";
  EXPECT_EQ(Json::parse(again.out)["already_current"], 5);
  EXPECT_NE(Blob("acme", "p1", "1"), old_blob);

  // The old version's last use stops while reads go on under the new one.
  const absl::Time old_last_use = used_versions()[old_version];
  absl::SleepFor(absl::Milliseconds(1500));  // last use is kept to the second
  for (const std::string& resource : stored) ExpectStored("acme", resource);
  in_use = used_versions();
  EXPECT_EQ(in_use[old_version], old_last_use) << "nothing reads the old version";
  EXPECT_GT(in_use[new_version], old_last_use);

  // The customer retires the old version; every record still reads.
  ASSERT_OK(emulator_->Control(
      "set-attributes",
      {{"host", "kv1"}, {"name", "cmk-acme"}, {"version", old_version}, {"enabled", false}}));
  WaitPastTheBound();
  for (const std::string& resource : stored) ExpectStored("acme", resource);
  ASSERT_EQ(Put("acme", Patient("p3", "2", "F")).exit_code, 0);
  ExpectStored("acme", Patient("p3", "2", "F"));

  // Had a record been left behind, it would now be refused (403), and
  // rewrap-account --keep-going names it instead of stopping.
  Sql("UPDATE resources SET blob=X'" + absl::BytesToHexString(old_blob) +
      "' WHERE account='acme' AND id='p1' AND version='1'");
  Result refused = Store({"get", "acme", "Patient", "p1", "1"});
  EXPECT_EQ(refused.exit_code, 3) << refused.out;
  Result stops = Store({"rewrap-account", "acme"});
  EXPECT_EQ(stops.exit_code, 3) << stops.out;
  Result listed = Store({"rewrap-account", "acme", "--keep-going"});
  EXPECT_EQ(listed.exit_code, 2) << listed.out;
  Json left = Json::parse(listed.out);
  EXPECT_EQ(left["failed"], 1);
  EXPECT_EQ(left["resealed"], 0);
  ASSERT_EQ(left["failed_records"].size(), 1u);
  EXPECT_THAT(left["failed_records"][0].get<std::string>(), HasSubstr("Patient/p1/1"));
}

TEST_F(FhirStoreTest, RevokedAccessIs403AndRestoringItLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(CreateAccounts());
  std::vector<std::string> acme = {Patient("p1", "1", "A"), Patient("p2", "1", "B"),
                                   Patient("p2", "2", "C")};
  for (const std::string& resource : acme) ASSERT_EQ(Put("acme", resource).exit_code, 0);
  ASSERT_EQ(Put("basic", Patient("p1", "1", "Basic")).exit_code, 0);
  for (const std::string& resource : acme) ExpectStored("acme", resource);  // warm caches

  ASSERT_OK(emulator_->Control("revoke", {{"host", "kv1"}, {"client_id", kClientId}}));
  WaitPastTheBound();
  for (const std::string& resource : acme) {
    Json r = Json::parse(resource);
    Result denied = Store({"get", "acme", "Patient", r["id"], r["meta"]["versionId"]});
    EXPECT_EQ(denied.exit_code, 3);
    EXPECT_EQ(denied.out, kForbidden);
  }
  Result write = Put("acme", Patient("p3", "1", "D"));
  EXPECT_EQ(write.exit_code, 3);
  EXPECT_EQ(write.out, kForbidden);
  // Other accounts are not affected.
  ExpectStored("basic", Patient("p1", "1", "Basic"));
  EXPECT_EQ(Put("basic", Patient("p2", "1", "Basic")).exit_code, 0);

  ASSERT_OK(emulator_->Control("grant", {{"host", "kv1"}, {"client_id", kClientId}}));
  for (const std::string& resource : acme) ExpectStored("acme", resource);
  EXPECT_EQ(Put("acme", Patient("p3", "1", "D")).exit_code, 0);
  ExpectStored("acme", Patient("p3", "1", "D"));
}

TEST_F(FhirStoreTest, BlobMovedToAnotherResourceVersionOrAccountDoesNotDecrypt) {
  ASSERT_NO_FATAL_FAILURE(CreateAccounts());
  ASSERT_EQ(Put("acme", Patient("p1", "1", "Victim")).exit_code, 0);
  ASSERT_EQ(Put("acme", Patient("p2", "1", "Other")).exit_code, 0);
  ASSERT_EQ(Put("acme", Patient("p1", "2", "Newer")).exit_code, 0);
  ASSERT_EQ(Put("basic", Patient("p1", "1", "Basic")).exit_code, 0);
  const std::string copy =
      "(SELECT blob FROM resources WHERE account='acme' AND id='p1' AND version='1')";
  Sql("UPDATE resources SET blob=" + copy + " WHERE account='acme' AND id='p2'");
  Sql("UPDATE resources SET blob=" + copy + " WHERE account='acme' AND id='p1' AND version='2'");
  Sql("UPDATE resources SET blob=" + copy + " WHERE account='basic' AND id='p1'");
  for (auto [account, id, version] : {std::array<const char*, 3>{"acme", "p2", "1"},
                                      std::array<const char*, 3>{"acme", "p1", "2"},
                                      std::array<const char*, 3>{"basic", "p1", "1"}}) {
    Result moved = Store({"get", account, "Patient", id, version});
    EXPECT_EQ(moved.exit_code, 5) << account << " " << id << " " << version << ": " << moved.out;
    EXPECT_THAT(moved.out, HasSubstr(R"("code":"exception")"));
    EXPECT_THAT(moved.out, ::testing::Not(HasSubstr("Victim")));
  }
  ExpectStored("acme", Patient("p1", "1", "Victim"));
}

}  // namespace
}  // namespace keybroker::testing
