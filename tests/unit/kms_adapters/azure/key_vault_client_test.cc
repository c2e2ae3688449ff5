#include "kms_adapters/azure/key_vault_client.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/fakes/fake_http_client.h"
#include "tests/fakes/fake_token_provider.h"
#include "tests/fakes/recording_kms_observer.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::FakeHttpClient;
using ::keybroker::testing::FakeTokenProvider;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::JsonResponse;
using ::keybroker::testing::RecordingKmsObserver;
using ::keybroker::testing::StatusIs;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::SizeIs;
using Json = nlohmann::json;

constexpr char kVersion[] = "974eb8a01de843d6ad746295f85f11f3";
constexpr char kKid[] =
    "https://myvault.vault.azure.net/keys/kek-orders/974eb8a01de843d6ad746295f85f11f3";
constexpr char kScope[] = "https://vault.azure.net/.default";

// §3.3: a 2048-bit modulus as Key Vault sends it (342 base64url characters).
constexpr char kModulus[] =
    "vavVHOYCSOA6JNhl6H299NmjOOD7DgtXDt1c2jBrFIfU9O7CG4yfiFSRWD9xPbIZaz2ZCL2Tf9XD7N8VRX8wHLvuvnZcd"
    "ZVqya7Eux70jLZrdyM31oXTUMwR-ImTWPzTgOHdjWhcYM4Qsu6VYqpS5MlKgCQCKE2YN_gqTQ_SDW5gUSoPNqbJSAB9oq"
    "Xf_12CO0-016o3ge5kVX9hc7MMn0vl_RrIqRTwPQozuX6Pb6T5e7kGSUW3WmWxCFzhxwvNK4mn-O1mWEsWSQuwhYJwrwMe"
    "aCwMC8jEFsfYgeWmVbzoch3oOD0cc_REdBGY02GjKS1UUQg-nTvQ0cXDhTeEQw";

// §3.3, verbatim apart from the elided request id.
std::string VaultRsaBundle(const std::string& kid = kKid) {
  return absl::StrCat(R"({"key":{"kid":")", kid, R"(",
 "kty":"RSA",
 "key_ops":["encrypt","decrypt","sign","verify","wrapKey","unwrapKey"],
 "n":")",
                      kModulus, R"(",
 "e":"AQAB"},
 "attributes":{"enabled":true,"exp":3797280000,"created":1678954183,"updated":1678954183,
  "recoveryLevel":"CustomizedRecoverable+Purgeable","recoverableDays":7,"exportable":false},
 "tags":{"purpose":"kek"}})");
}

// The bundle of a version the customer disabled: still a 200 (§3.1).
std::string DisabledRsaBundle() {
  return absl::StrReplaceAll(VaultRsaBundle(), {{R"("enabled":true)", R"("enabled":false)"}});
}

HttpResponse Ok(std::string body) {
  HttpResponse response = JsonResponse(200, std::move(body));
  response.headers.emplace_back("x-ms-request-id", "0b0c1a2d-0000-4000-8000-000000000001");
  return response;
}

// A §7.1 error body, with a request id.
HttpResponse ErrorResponse(int status, const std::string& code, const std::string& inner = "") {
  std::string body = absl::StrCat(
      R"({"error":{"code":")", code, R"(","message":"m")",
      inner.empty() ? "" : absl::StrCat(R"(,"innererror":{"code":")", inner, R"("})"), "}}");
  HttpResponse response = JsonResponse(status, body);
  response.headers.emplace_back("x-ms-request-id", "req-err-7");
  return response;
}

// Answers the scripted results in order, then repeats the last.
FakeHttpClient::Handler Script(std::vector<absl::StatusOr<HttpResponse>> results) {
  auto shared = std::make_shared<std::vector<absl::StatusOr<HttpResponse>>>(std::move(results));
  auto next = std::make_shared<size_t>(0);
  return [shared, next](const HttpRequest&) {
    size_t index = std::min(*next, shared->size() - 1);
    ++*next;
    return (*shared)[index];
  };
}

std::string Header(const HttpRequest& request, const std::string& name) {
  for (const auto& [key, value] : request.headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return "<absent>";
}

std::string Unb64(const std::string& text) {
  std::string bytes;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(text, &bytes)) << text;
  return bytes;
}

// Bytes whose base64url uses '-' and '_' and needs padding in standard base64:
// "-_-_-w" (standard: "+/+/+w==").
const std::string kAwkwardBytes = "\xfb\xff\xbf\xfb";

class KeyVaultClientTest : public ::testing::Test {
 protected:
  KeyVaultClientTest() {
    key_.id = *ParseKeyId("https://myvault.vault.azure.net/keys/kek-orders");
    key_.scope = kScope;
    key_.tokens = &tokens_;
    hsm_key_.id = *ParseKeyId("https://myhsm.managedhsm.azure.net/keys/kek-aes");
    hsm_key_.scope = "https://managedhsm.azure.net/.default";
    hsm_key_.tokens = &tokens_;
  }

  // A client over a FakeHttpClient that answers with `handler`.
  KeyVaultClient& Client(FakeHttpClient::Handler handler) {
    http_ = std::make_unique<FakeHttpClient>(std::move(handler));
    client_ = std::make_unique<KeyVaultClient>(http_.get());
    return *client_;
  }

  std::vector<HttpRequest> requests() const { return http_->requests(); }

  FakeTokenProvider tokens_;
  VaultKey key_, hsm_key_;
  std::unique_ptr<FakeHttpClient> http_;
  std::unique_ptr<KeyVaultClient> client_;
};

// --- Requests ---------------------------------------------------------------

TEST_F(KeyVaultClientTest, GetLatestSendsGetWithBearerTokenAndApiVersion) {
  KeyVaultClient& client = Client(Script({Ok(VaultRsaBundle())}));
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  ASSERT_OK(client.GetKey(key_, "", deadline));

  ASSERT_THAT(requests(), SizeIs(1));
  const HttpRequest request = requests()[0];
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.url, "https://myvault.vault.azure.net/keys/kek-orders?api-version=7.4");
  EXPECT_EQ(Header(request, "Authorization"), "Bearer token-1");
  EXPECT_EQ(Header(request, "Accept"), "application/json");
  EXPECT_EQ(Header(request, "Content-Type"), "<absent>") << "a GET has no body";
  EXPECT_EQ(request.body, "");
  EXPECT_TRUE(request.retry_safe);
  EXPECT_THAT(tokens_.scopes(), ElementsAre(kScope));
  EXPECT_EQ(tokens_.last_deadline(), deadline) << "the token fetch gets the call's deadline";
}

TEST_F(KeyVaultClientTest, GetVersionPutsTheVersionInThePath) {
  KeyVaultClient& client = Client(Script({Ok(VaultRsaBundle())}));
  ASSERT_OK(client.GetKey(key_, kVersion, absl::InfiniteFuture()));
  ASSERT_THAT(requests(), SizeIs(1));
  EXPECT_EQ(requests()[0].url, absl::StrCat("https://myvault.vault.azure.net/keys/kek-orders/",
                                            kVersion, "?api-version=7.4"));
}

TEST_F(KeyVaultClientTest, RotatePostsToRotateAndIsNotRetrySafe) {
  KeyVaultClient& client = Client(Script({Ok(VaultRsaBundle())}));
  absl::StatusOr<KeyBundle> bundle = client.RotateKey(key_, absl::InfiniteFuture());
  ASSERT_OK(bundle);
  EXPECT_EQ(bundle->version, kVersion);
  ASSERT_THAT(requests(), SizeIs(1));
  const HttpRequest request = requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, "https://myvault.vault.azure.net/keys/kek-orders/rotate?api-version=7.4");
  EXPECT_FALSE(request.retry_safe) << "rotate creates a version: a transport retry could make two";
  EXPECT_EQ(Header(request, "Authorization"), "Bearer token-1");
}

TEST_F(KeyVaultClientTest, UnwrapSendsAlgAndUnpaddedBase64UrlValue) {
  KeyVaultClient& client = Client(Script({Ok(absl::StrCat(
      R"({"kid":")", kKid, R"(","value":"rN448wf7SEaAvCctdn1Qp3bKLwgdcJhNcxJ7WVffpRM"})"))}));
  std::string wrapped = kAwkwardBytes;
  absl::StatusOr<crypto::SecretBytes> dek =
      client.UnwrapKey(key_, kVersion, "RSA-OAEP-256", wrapped, absl::InfiniteFuture());
  ASSERT_OK(dek);
  EXPECT_EQ(dek->RevealAsStringView(), Unb64("rN448wf7SEaAvCctdn1Qp3bKLwgdcJhNcxJ7WVffpRM"));
  EXPECT_EQ(dek->size(), 32u);

  ASSERT_THAT(requests(), SizeIs(1));
  const HttpRequest request = requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, absl::StrCat("https://myvault.vault.azure.net/keys/kek-orders/", kVersion,
                                      "/unwrapkey?api-version=7.4"));
  EXPECT_EQ(Header(request, "Content-Type"), "application/json");
  EXPECT_EQ(Header(request, "Authorization"), "Bearer token-1");
  EXPECT_TRUE(request.retry_safe);
  Json body = Json::parse(request.body);
  EXPECT_EQ(body, Json({{"alg", "RSA-OAEP-256"}, {"value", "-_-_-w"}}));
}

TEST_F(KeyVaultClientTest, EncryptSendsAadAndNoIvAndReadsIvAndTag) {
  // §5, as recorded on a Managed HSM (members in alphabetical order, alg echoed).
  KeyVaultClient& client = Client(Script({Ok(
      R"({"aad":"Y3R4","alg":"A256GCM","iv":"MtIzjcptwpeblSun",)"
      R"("kid":"https://myhsm.managedhsm.azure.net/keys/kek-aes/ad07dd3dc2120fb300e985b71dc271db",)"
      R"("tag":"_cyASnVs11u0_guP9cZGbA","value":"uuD4She_NmZs46fGk6SbDiBjS5hIClrMqdjjR311ixQ"})")}));
  crypto::SecretBytes plaintext =
      crypto::SecretBytes::CopyFrom(Unb64("rN448wf7SEaAvCctdn1Qp3bKLwgdcJhNcxJ7WVffpRM"));
  absl::StatusOr<GcmCiphertext> sealed = client.EncryptGcm(
      hsm_key_, "ad07dd3dc2120fb300e985b71dc271db", plaintext, "ctx", absl::InfiniteFuture());
  ASSERT_OK(sealed);
  EXPECT_EQ(sealed->value, Unb64("uuD4She_NmZs46fGk6SbDiBjS5hIClrMqdjjR311ixQ"));
  EXPECT_EQ(sealed->iv, Unb64("MtIzjcptwpeblSun"));
  EXPECT_EQ(sealed->iv.size(), 12u);
  EXPECT_EQ(sealed->tag, Unb64("_cyASnVs11u0_guP9cZGbA"));
  EXPECT_EQ(sealed->tag.size(), 16u);

  ASSERT_THAT(requests(), SizeIs(1));
  const HttpRequest request = requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url,
            "https://myhsm.managedhsm.azure.net/keys/kek-aes/ad07dd3dc2120fb300e985b71dc271db/"
            "encrypt?api-version=7.4");
  Json body = Json::parse(request.body);
  EXPECT_EQ(body, Json({{"alg", "A256GCM"},
                        {"value", "rN448wf7SEaAvCctdn1Qp3bKLwgdcJhNcxJ7WVffpRM"},
                        {"aad", "Y3R4"}}))
      << "the service makes the IV (§5): no iv in the request";
  EXPECT_THAT(tokens_.scopes(), ElementsAre("https://managedhsm.azure.net/.default"));
}

TEST_F(KeyVaultClientTest, DecryptSendsValueIvTagAad) {
  KeyVaultClient& client = Client(Script({Ok(
      R"({"alg":"A256GCM","kid":"https://myhsm.managedhsm.azure.net/keys/kek-aes/)"
      R"(ad07dd3dc2120fb300e985b71dc271db","value":"rN448wf7SEaAvCctdn1Qp3bKLwgdcJhNcxJ7WVffpRM"})")}));
  GcmCiphertext sealed{kAwkwardBytes, Unb64("MtIzjcptwpeblSun"), Unb64("_cyASnVs11u0_guP9cZGbA")};
  absl::StatusOr<crypto::SecretBytes> plaintext = client.DecryptGcm(
      hsm_key_, "ad07dd3dc2120fb300e985b71dc271db", sealed, kAwkwardBytes, absl::InfiniteFuture());
  ASSERT_OK(plaintext);
  EXPECT_EQ(plaintext->RevealAsStringView(), Unb64("rN448wf7SEaAvCctdn1Qp3bKLwgdcJhNcxJ7WVffpRM"));

  ASSERT_THAT(requests(), SizeIs(1));
  EXPECT_EQ(requests()[0].url,
            "https://myhsm.managedhsm.azure.net/keys/kek-aes/ad07dd3dc2120fb300e985b71dc271db/"
            "decrypt?api-version=7.4");
  Json body = Json::parse(requests()[0].body);
  EXPECT_EQ(body, Json({{"alg", "A256GCM"},
                        {"value", "-_-_-w"},
                        {"iv", "MtIzjcptwpeblSun"},
                        {"tag", "_cyASnVs11u0_guP9cZGbA"},
                        {"aad", "-_-_-w"}}));
}

TEST_F(KeyVaultClientTest, RandomBytesPostsCountToRng) {
  KeyVaultClient& client = Client(Script({Ok(R"({"value":"UE4dShtqyrmNURe_A57vQA"})")}));
  absl::StatusOr<crypto::SecretBytes> random =
      client.RandomBytes(hsm_key_, 16, absl::InfiniteFuture());
  ASSERT_OK(random);
  EXPECT_EQ(random->RevealAsStringView(), Unb64("UE4dShtqyrmNURe_A57vQA"));

  ASSERT_THAT(requests(), SizeIs(1));
  EXPECT_EQ(requests()[0].method, "POST");
  EXPECT_EQ(requests()[0].url, "https://myhsm.managedhsm.azure.net/rng?api-version=7.4");
  EXPECT_EQ(Json::parse(requests()[0].body), Json({{"count", 16}}));
}

TEST_F(KeyVaultClientTest, RandomBytesOfTheWrongCountIsAnError) {
  // §6: count 4 gives 4 bytes ("MTIzNA" = "1234"); 16 were asked for.
  KeyVaultClient& client = Client(Script({Ok(R"({"value":"MTIzNA"})")}));
  EXPECT_THAT(client.RandomBytes(hsm_key_, 16, absl::InfiniteFuture()),
              HasReason(ErrorReason::kInternal));
  EXPECT_THAT(client.RandomBytes(hsm_key_, 3, absl::InfiniteFuture()),
              HasReason(ErrorReason::kInternal));
  EXPECT_OK(client.RandomBytes(hsm_key_, 4, absl::InfiniteFuture()));
}

// --- GetKey parsing (§3.2-§3.5) ----------------------------------------------

TEST_F(KeyVaultClientTest, ParsesAVaultRsaBundle) {
  KeyVaultClient& client = Client(Script({Ok(VaultRsaBundle())}));
  absl::StatusOr<KeyBundle> bundle = client.GetKey(key_, "", absl::InfiniteFuture());
  ASSERT_OK(bundle);
  EXPECT_EQ(bundle->version, kVersion);
  EXPECT_EQ(bundle->kty, "RSA");
  EXPECT_THAT(bundle->key_ops,
              ElementsAre("encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"));
  EXPECT_TRUE(bundle->HasOp("wrapKey"));
  EXPECT_FALSE(bundle->HasOp("deriveKey"));
  EXPECT_EQ(bundle->n, Unb64(kModulus));
  EXPECT_EQ(bundle->n.size(), 256u);
  EXPECT_EQ(bundle->e, std::string("\x01\x00\x01", 3));
  EXPECT_TRUE(bundle->enabled);
  EXPECT_EQ(bundle->not_before, std::nullopt);
  EXPECT_EQ(bundle->expires, absl::FromUnixSeconds(3797280000));
  EXPECT_EQ(bundle->request_id, "0b0c1a2d-0000-4000-8000-000000000001");
}

TEST_F(KeyVaultClientTest, ParsesAManagedHsmBundleWithMembersInAlphabeticalOrder) {
  // §3.4: attributes first, key members sorted, key_ops in no useful order.
  std::string body = absl::StrCat(
      R"({"attributes":{"created":1647991288,"enabled":false,"exp":1900000000,"exportable":false,)"
      R"("nbf":1600000000,"recoverableDays":7,"recoveryLevel":"CustomizedRecoverable+Purgeable",)"
      R"("updated":1647991288},)"
      R"("key":{"e":"AQAB","key_ops":["wrapKey","decrypt","encrypt","unwrapKey","sign","verify"],)"
      R"("kid":"https://myhsm.managedhsm.azure.net/keys/kek-orders/1d6df409bd3d0e6693d5a5ec7060e8bb",)"
      R"("kty":"RSA-HSM","n":")",
      kModulus, R"("}})");
  KeyVaultClient& client = Client(Script({Ok(body)}));
  absl::StatusOr<KeyBundle> bundle = client.GetKey(key_, "", absl::InfiniteFuture());
  ASSERT_OK(bundle);
  EXPECT_EQ(bundle->version, "1d6df409bd3d0e6693d5a5ec7060e8bb");
  EXPECT_EQ(bundle->kty, "RSA-HSM");
  EXPECT_THAT(bundle->key_ops,
              ElementsAre("wrapKey", "decrypt", "encrypt", "unwrapKey", "sign", "verify"));
  EXPECT_EQ(bundle->n, Unb64(kModulus));
  EXPECT_EQ(bundle->e, std::string("\x01\x00\x01", 3));
  EXPECT_FALSE(bundle->enabled);
  EXPECT_EQ(bundle->not_before, absl::FromUnixSeconds(1600000000));
  EXPECT_EQ(bundle->expires, absl::FromUnixSeconds(1900000000));
}

TEST_F(KeyVaultClientTest, ParsesAnOctHsmBundleWithoutKeyMaterial) {
  // §3.5, with deriveKey (tolerated) in key_ops.
  KeyVaultClient& client = Client(Script({Ok(
      R"({"attributes":{"created":1667430964,"enabled":true,"exportable":false,)"
      R"("recoverableDays":7,"recoveryLevel":"CustomizedRecoverable+Purgeable",)"
      R"("updated":1667430964},"key":{"key_ops":["deriveKey","wrapKey","verify","sign",)"
      R"("unwrapKey","encrypt","decrypt"],)"
      R"("kid":"https://myhsm.managedhsm.azure.net/keys/kek-aes/31c0900c7c57406a27b6d7f9353a8976",)"
      R"("kty":"oct-HSM"}})")}));
  absl::StatusOr<KeyBundle> bundle = client.GetKey(hsm_key_, "", absl::InfiniteFuture());
  ASSERT_OK(bundle);
  EXPECT_EQ(bundle->version, "31c0900c7c57406a27b6d7f9353a8976");
  EXPECT_EQ(bundle->kty, "oct-HSM");
  EXPECT_TRUE(bundle->HasOp("encrypt"));
  EXPECT_TRUE(bundle->HasOp("decrypt"));
  EXPECT_TRUE(bundle->n.empty());
  EXPECT_TRUE(bundle->enabled);
  EXPECT_EQ(bundle->expires, std::nullopt);
}

TEST_F(KeyVaultClientTest, VersionComesFromTheKidLowerCased) {
  // Identifiers compare case-insensitively (§1.1); the broker keeps versions
  // in Key Vault's lowercase form.
  KeyVaultClient& client = Client(Script({Ok(VaultRsaBundle(
      "https://myvault.vault.azure.net/keys/kek-orders/974EB8A01DE843D6AD746295F85F11F3"))}));
  absl::StatusOr<KeyBundle> bundle = client.GetKey(key_, "", absl::InfiniteFuture());
  ASSERT_OK(bundle);
  EXPECT_EQ(bundle->version, kVersion);
}

// Key Vault names itself in kid by its own URL (§1.1), which need not be the
// URL the broker was configured with (another port or case, a name that
// resolves to a private endpoint, the emulator on 127.0.0.1): only the
// version is read from kid, and requests keep going to the configured URL.
TEST_F(KeyVaultClientTest, KidNamingAnotherHostIsFine) {
  VaultKey local = key_;
  local.id = *ParseKeyId("https://127.0.0.1:8443/keys/kek-orders");
  std::string elsewhere =
      absl::StrCat("https://MyVault.vault.azure.net:443/keys/KEK-Orders/", kVersion);
  KeyVaultClient& client =
      Client(Script({Ok(VaultRsaBundle(elsewhere)), Ok(VaultRsaBundle(elsewhere))}));
  absl::StatusOr<KeyBundle> got = client.GetKey(local, "", absl::InfiniteFuture());
  ASSERT_OK(got);
  EXPECT_EQ(got->version, kVersion);
  absl::StatusOr<KeyBundle> rotated = client.RotateKey(local, absl::InfiniteFuture());
  ASSERT_OK(rotated);
  EXPECT_EQ(rotated->version, kVersion);
  ASSERT_THAT(requests(), SizeIs(2));
  EXPECT_EQ(requests()[0].url, "https://127.0.0.1:8443/keys/kek-orders?api-version=7.4");
  EXPECT_EQ(requests()[1].url, "https://127.0.0.1:8443/keys/kek-orders/rotate?api-version=7.4");
}

TEST_F(KeyVaultClientTest, AVersionThatIsNotHexIsMalformed) {
  // The version goes into request paths and EDEKs: only Key Vault's own form
  // (32 hex, §1.1) is accepted, as for configured key URLs (key_id.h).
  for (const char* version :
       {"0123456789abcdefghijklmnopqrstuv", "974eb8a01de843d6ad746295f85f11f?",
        "974eb8a01de843d6ad746295f85f1%2f", "974eb8a01de843d6ad746295f85f11f "}) {
    SCOPED_TRACE(version);
    KeyVaultClient& client = Client(Script({Ok(VaultRsaBundle(
        absl::StrCat("https://myvault.vault.azure.net/keys/kek-orders/", version)))}));
    EXPECT_THAT(client.GetKey(key_, "", absl::InfiniteFuture()), HasReason(ErrorReason::kInternal));
    EXPECT_THAT(client.RotateKey(key_, absl::InfiniteFuture()), HasReason(ErrorReason::kInternal));
  }
}

TEST_F(KeyVaultClientTest, ToleratesOddKeyOpsAndMissingAttributes) {
  KeyVaultClient& client = Client(Script({Ok(absl::StrCat(
      R"({"key":{"kid":")", kKid, R"(","kty":"RSA","key_ops":[1,null,"wrapKey",{}],"n":")",
      kModulus, R"(","e":"AQAB"}})"))}));
  absl::StatusOr<KeyBundle> bundle = client.GetKey(key_, "", absl::InfiniteFuture());
  ASSERT_OK(bundle);
  EXPECT_THAT(bundle->key_ops, ElementsAre("wrapKey"));
  EXPECT_TRUE(bundle->enabled) << "a bundle without attributes is not disabled";
  EXPECT_EQ(bundle->not_before, std::nullopt);
}

TEST_F(KeyVaultClientTest, PaddedBase64UrlIsAccepted) {
  // §11: the service sends unpadded, but padded input decodes the same.
  std::string padded_bundle =
      absl::StrCat(R"({"key":{"kid":")", kKid, R"(","kty":"RSA","key_ops":["wrapKey"],"n":")",
                   kModulus, R"(==","e":"AQAB"}})");
  KeyVaultClient& client = Client(Script(
      {Ok(padded_bundle), Ok(R"({"value":"rN448wf7SEaAvCctdn1Qp3bKLwgdcJhNcxJ7WVffpRM="})"),
       Ok(R"({"iv":"MtIzjcptwpeblSun","tag":"_cyASnVs11u0_guP9cZGbA==","value":"-_-_-w=="})"),
       Ok(R"({"value":"MTIzNA=="})")}));
  absl::StatusOr<KeyBundle> bundle = client.GetKey(key_, "", absl::InfiniteFuture());
  ASSERT_OK(bundle);
  EXPECT_EQ(bundle->n, Unb64(kModulus));

  absl::StatusOr<crypto::SecretBytes> dek =
      client.UnwrapKey(key_, kVersion, "RSA-OAEP-256", "x", absl::InfiniteFuture());
  ASSERT_OK(dek);
  EXPECT_EQ(dek->RevealAsStringView(), Unb64("rN448wf7SEaAvCctdn1Qp3bKLwgdcJhNcxJ7WVffpRM"));

  absl::StatusOr<GcmCiphertext> sealed = client.EncryptGcm(
      hsm_key_, kVersion, crypto::SecretBytes::CopyFrom("abcd"), "", absl::InfiniteFuture());
  ASSERT_OK(sealed);
  EXPECT_EQ(sealed->tag, Unb64("_cyASnVs11u0_guP9cZGbA"));
  EXPECT_EQ(sealed->value, kAwkwardBytes);

  absl::StatusOr<crypto::SecretBytes> random =
      client.RandomBytes(hsm_key_, 4, absl::InfiniteFuture());
  ASSERT_OK(random);
  EXPECT_EQ(random->RevealAsStringView(), "1234");
}

// Every one of these must give an error, never throw (nlohmann::json throws
// on a wrong-typed get<> or a parse error unless told not to).
TEST_F(KeyVaultClientTest, MalformedKeyBundlesAreErrorsNotExceptions) {
  auto rsa = [](const std::string& kid, const std::string& kty, const std::string& n_member) {
    return absl::StrCat(R"({"key":{"kid":)", kid, R"(,"kty":)", kty,
                        R"(,"key_ops":["wrapKey","unwrapKey"],)", n_member,
                        R"("e":"AQAB"},"attributes":{"enabled":true}})");
  };
  std::string kid = absl::StrCat("\"", kKid, "\"");
  std::string n = absl::StrCat(R"("n":")", kModulus, R"(",)");
  // Sanity: the template itself parses.
  {
    KeyVaultClient& client = Client(Script({Ok(rsa(kid, R"("RSA")", n))}));
    ASSERT_OK(client.GetKey(key_, "", absl::InfiniteFuture()));
  }
  std::vector<std::string> bodies = {
      "",
      "not json",
      "{\"key\":",
      "[]",
      "null",
      "42",
      "{}",
      R"({"key":null})",
      R"({"key":"RSA"})",
      R"({"key":[]})",
      rsa(kid, "null", n),                                                         // "kty": null
      rsa(kid, "7", n),                                                            // "kty": number
      rsa(kid, R"("")", n),                                                        // "kty": ""
      rsa("null", R"("RSA")", n),                                                  // "kid": null
      rsa("12", R"("RSA")", n),                                                    // "kid": number
      rsa(R"("https://myvault.vault.azure.net/keys/kek-orders")", R"("RSA")", n),  // no version
      rsa(R"("https://myvault.vault.azure.net/keys/kek-orders/")", R"("RSA")", n),
      rsa(R"("")", R"("RSA")", n),
      rsa(kid, R"("RSA")", ""),  // no n
      rsa(kid, R"("RSA")", R"("n":null,)"),
      rsa(kid, R"("RSA")", R"("n":12345,)"),
      rsa(kid, R"("RSA")", R"("n":["AQAB"],)"),
      rsa(kid, R"("RSA")", R"("n":"not base64url!",)"),
      rsa(kid, R"("RSA")", R"("n":"abcde",)"),  // 5 chars: no byte boundary
      rsa(kid, R"("RSA")", R"("n":"ab+/",)"),   // standard alphabet
      absl::StrCat(R"({"key":{"kid":")", kKid, R"(","kty":"RSA","n":")", kModulus, R"("}})"),
  };
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body);
    KeyVaultClient& client = Client(Script({Ok(body)}));
    absl::StatusOr<KeyBundle> bundle;
    EXPECT_NO_THROW(bundle = client.GetKey(key_, "", absl::InfiniteFuture()));
    EXPECT_THAT(bundle, HasReason(ErrorReason::kInternal));
  }
}

TEST_F(KeyVaultClientTest, WrongTypedAttributesNeverThrow) {
  std::vector<std::string> attributes = {
      R"("attributes":null)",
      R"("attributes":[])",
      R"("attributes":{"enabled":null,"nbf":"soon","exp":1.5})",
      R"("attributes":{"enabled":"false","nbf":{},"exp":[1]})",
      R"("attributes":{"exp":18446744073709551615,"nbf":-9223372036854775808})",
  };
  for (const std::string& member : attributes) {
    SCOPED_TRACE(member);
    KeyVaultClient& client = Client(
        Script({Ok(absl::StrCat(R"({"key":{"kid":")", kKid,
                                R"(","kty":"oct-HSM","key_ops":["encrypt"]},)", member, "}"))}));
    EXPECT_NO_THROW(client.GetKey(key_, "", absl::InfiniteFuture()).IgnoreError());
  }
}

TEST_F(KeyVaultClientTest, MalformedOperationResultsAreErrorsNotExceptions) {
  std::vector<std::string> bodies = {
      "",
      "<html>",
      "[1]",
      "null",
      "{}",
      R"({"value":null})",
      R"({"value":7})",
      R"({"value":"%%%"})",
      R"({"value":"a"})",
      R"({"value":["rN448w"]})",
  };
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body);
    KeyVaultClient& client = Client(Script({Ok(body)}));
    absl::StatusOr<crypto::SecretBytes> unwrapped, decrypted, random;
    absl::StatusOr<GcmCiphertext> sealed;
    EXPECT_NO_THROW(
        unwrapped = client.UnwrapKey(key_, kVersion, "RSA-OAEP-256", "w", absl::InfiniteFuture()));
    EXPECT_THAT(unwrapped, HasReason(ErrorReason::kInternal));
    EXPECT_NO_THROW(decrypted = client.DecryptGcm(hsm_key_, kVersion, GcmCiphertext{"a", "b", "c"},
                                                  "", absl::InfiniteFuture()));
    EXPECT_THAT(decrypted, HasReason(ErrorReason::kInternal));
    EXPECT_NO_THROW(random = client.RandomBytes(hsm_key_, 1, absl::InfiniteFuture()));
    EXPECT_THAT(random, HasReason(ErrorReason::kInternal));
    EXPECT_NO_THROW(sealed =
                        client.EncryptGcm(hsm_key_, kVersion, crypto::SecretBytes::CopyFrom("k"),
                                          "", absl::InfiniteFuture()));
    EXPECT_THAT(sealed, HasReason(ErrorReason::kInternal));
  }
}

TEST_F(KeyVaultClientTest, EncryptResultWithoutIvOrTagIsAnError) {
  std::vector<std::string> bodies = {
      R"({"value":"uuD4","tag":"_cyASnVs11u0_guP9cZGbA"})",
      R"({"value":"uuD4","iv":"MtIzjcptwpeblSun"})",
      R"({"value":"uuD4","iv":12,"tag":"_cyASnVs11u0_guP9cZGbA"})",
      R"({"value":"uuD4","iv":"MtIzjcptwpeblSun","tag":null})",
  };
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body);
    KeyVaultClient& client = Client(Script({Ok(body)}));
    absl::StatusOr<GcmCiphertext> sealed;
    EXPECT_NO_THROW(sealed =
                        client.EncryptGcm(hsm_key_, kVersion, crypto::SecretBytes::CopyFrom("k"),
                                          "", absl::InfiniteFuture()));
    EXPECT_THAT(sealed, HasReason(ErrorReason::kInternal));
  }
}

// --- Authentication (§2.3) --------------------------------------------------

TEST_F(KeyVaultClientTest, A401InvalidatesTheTokenAndRetriesOnceWithAFreshOne) {
  KeyVaultClient& client =
      Client(Script({ErrorResponse(401, "Unauthorized"),
                     Ok(R"({"value":"rN448wf7SEaAvCctdn1Qp3bKLwgdcJhNcxJ7WVffpRM"})")}));
  ASSERT_OK(
      client.UnwrapKey(key_, kVersion, "RSA-OAEP-256", kAwkwardBytes, absl::InfiniteFuture()));
  std::vector<HttpRequest> sent = requests();
  ASSERT_THAT(sent, SizeIs(2));
  EXPECT_EQ(Header(sent[0], "Authorization"), "Bearer token-1");
  EXPECT_EQ(Header(sent[1], "Authorization"), "Bearer token-2");
  EXPECT_EQ(sent[1].url, sent[0].url);
  EXPECT_EQ(sent[1].body, sent[0].body) << "the retry sends the same request";
  EXPECT_EQ(Json::parse(sent[1].body)["value"], "-_-_-w");
  EXPECT_EQ(tokens_.invalidate_calls(), 1);
  EXPECT_THAT(tokens_.invalidated_scopes(), ElementsAre(kScope));
  EXPECT_EQ(tokens_.token_calls(), 2);
}

TEST_F(KeyVaultClientTest, A401OnTheRetryIsKeyNotAccessible) {
  KeyVaultClient& client = Client(Script({ErrorResponse(401, "Unauthorized")}));
  absl::StatusOr<KeyBundle> bundle = client.GetKey(key_, "", absl::InfiniteFuture());
  EXPECT_THAT(bundle, HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_THAT(requests(), SizeIs(2)) << "exactly one retry";
  EXPECT_EQ(tokens_.invalidate_calls(), 1);
  EXPECT_EQ(tokens_.token_calls(), 2);
}

// --- Cancellation -------------------------------------------------------------

TEST_F(KeyVaultClientTest, CancelledCallFetchesNoTokenAndSendsNothing) {
  KeyVaultClient& client = Client(Script({Ok(VaultRsaBundle())}));
  absl::Status status =
      client.GetKey(key_, "", absl::InfiniteFuture(), [] { return true; }).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kCancelled, "the caller cancelled the call"));
  EXPECT_EQ(ReasonOf(status), std::nullopt) << "says nothing about the key";
  EXPECT_EQ(tokens_.token_calls(), 0);
  EXPECT_THAT(requests(), SizeIs(0));
}

TEST_F(KeyVaultClientTest, CancellationReachesTheTransportAndStopsThe401Retry) {
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  KeyVaultClient& client = Client([cancelled](const HttpRequest&) {
    cancelled->store(true);
    return absl::StatusOr<HttpResponse>(ErrorResponse(401, "Unauthorized"));
  });
  absl::Status status =
      client.GetKey(key_, "", absl::InfiniteFuture(), [cancelled] { return cancelled->load(); })
          .status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kCancelled));
  ASSERT_THAT(requests(), SizeIs(1)) << "no fresh token, no second request";
  EXPECT_TRUE(requests()[0].cancelled && requests()[0].cancelled())
      << "the request carries the caller's cancellation";
  EXPECT_EQ(tokens_.token_calls(), 1);
}

TEST_F(KeyVaultClientTest, TransportCancellationIsReturnedAsIsAndNotReported) {
  FakeHttpClient http(
      [](const HttpRequest&) -> absl::StatusOr<HttpResponse> { return CallerCancelled(); });
  RecordingKmsObserver observer;
  KeyVaultClient client(&http, &observer);
  EXPECT_THAT(client.UnwrapKey(key_, kVersion, "RSA-OAEP-256", "w", absl::InfiniteFuture()),
              StatusIs(absl::StatusCode::kCancelled, "the caller cancelled the call"));
  EXPECT_THAT(observer.requests(), SizeIs(0)) << "not an INTERNAL outcome of the vault";
}

// A broker whose own credential fails has asked the vault nothing: the
// failure is counted as the KMS request's outcome (a service fault that
// alerts), but never reported as the key's state, which would mark a
// customer's key inaccessible.
TEST_F(KeyVaultClientTest, ATokenFailureIsNotReportedAsTheKeysState) {
  FakeHttpClient http(Script({ErrorResponse(403, "Forbidden", "ForbiddenByRbac")}));
  RecordingKmsObserver observer;
  key_.key_id = "https://myvault.vault.azure.net/keys/kek-orders";
  KeyVaultClient client(&http, &observer);
  tokens_.FailWith(MakeError(ErrorReason::kKmsUnavailable,
                             "entra id refused the broker's own credential: HTTP 401"));
  absl::Status refused =
      client.UnwrapKey(key_, kVersion, "RSA-OAEP-256", "w", absl::InfiniteFuture()).status();
  EXPECT_THAT(refused, HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_THAT(std::string(refused.message()),
              ::testing::HasSubstr("no access token for the broker"));
  EXPECT_THAT(observer.requests(), ElementsAre("azure_key_vault/unwrapkey/KMS_UNAVAILABLE"));
  EXPECT_THAT(observer.key_requests(), SizeIs(0));
  EXPECT_THAT(http.requests(), SizeIs(0));

  // The vault's own refusal is the key's state.
  tokens_.FailWith(absl::OkStatus());
  EXPECT_THAT(client.UnwrapKey(key_, kVersion, "RSA-OAEP-256", "w", absl::InfiniteFuture()),
              HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_THAT(observer.key_requests(),
              ElementsAre(absl::StrCat(key_.key_id, "@", kVersion, "/KEY_NOT_ACCESSIBLE")));
}

// Without keys/rotate/action the customer rotates in Key Vault themselves:
// a refused rotate says nothing of the key's use (AzureKms picks up the
// latest version instead), so it does not mark the key inaccessible.
TEST_F(KeyVaultClientTest, ARefusedRotateIsNotReportedAsTheKeysState) {
  FakeHttpClient http(Script({ErrorResponse(403, "Forbidden", "ForbiddenByRbac")}));
  RecordingKmsObserver observer;
  key_.key_id = "https://myvault.vault.azure.net/keys/kek-orders";
  KeyVaultClient client(&http, &observer);
  EXPECT_THAT(client.RotateKey(key_, absl::InfiniteFuture()),
              HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_THAT(observer.requests(), ElementsAre("azure_key_vault/rotate/KEY_NOT_ACCESSIBLE"));
  EXPECT_THAT(observer.key_requests(), SizeIs(0));
  EXPECT_THAT(client.GetKey(key_, "", absl::InfiniteFuture()),
              HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_THAT(observer.key_requests(),
              ElementsAre(absl::StrCat(key_.key_id, "@/KEY_NOT_ACCESSIBLE")))
      << "a refused read is";
}

// A key pinned to a version (its URL names one) has that version for its
// current one: a request naming it is reported as one on the current
// version, so that its refusal tells the key's state; a request naming
// another version is not.
TEST_F(KeyVaultClientTest, APinnedKeysOwnVersionIsReportedAsItsCurrentOne) {
  FakeHttpClient http(Script({ErrorResponse(403, "Forbidden", "KeyDisabled"),
                              ErrorResponse(403, "Forbidden", "KeyDisabled"),
                              Ok(DisabledRsaBundle())}));
  RecordingKmsObserver observer;
  key_.id = *ParseKeyId(absl::StrCat("https://myvault.vault.azure.net/keys/kek-orders/", kVersion));
  key_.key_id = absl::StrCat("https://myvault.vault.azure.net/keys/kek-orders/", kVersion);
  KeyVaultClient client(&http, &observer);
  EXPECT_THAT(client.GetKey(key_, kVersion, absl::InfiniteFuture()),
              HasReason(ErrorReason::kKeyDisabled));
  const std::string other = "0123456789abcdef0123456789abcdef";
  EXPECT_THAT(client.UnwrapKey(key_, other, "RSA-OAEP-256", "w", absl::InfiniteFuture()),
              HasReason(ErrorReason::kKeyDisabled));
  // The vault's usual answer for a disabled key: 200, enabled false.
  ASSERT_OK(client.GetKey(key_, kVersion, absl::InfiniteFuture()));
  EXPECT_THAT(observer.key_requests(),
              ElementsAre(absl::StrCat(key_.key_id, "@", kVersion, "(current)/KEY_DISABLED"),
                          absl::StrCat(key_.key_id, "@", other, "/KEY_DISABLED"),
                          absl::StrCat(key_.key_id, "@", kVersion, "(current)/KEY_DISABLED")));
}

// A disabled or expired version still answers GET with 200 (§3.1): the
// bundle goes back to the caller, and the observer hears KEY_DISABLED as
// the key's state (with the response's request id), so that a disabled
// current version marks the key; enabled again, it hears OK.
TEST_F(KeyVaultClientTest, AGetOfADisabledOrExpiredVersionReportsItDisabled) {
  const std::string disabled = DisabledRsaBundle();
  const std::string expired =
      absl::StrReplaceAll(VaultRsaBundle(), {{R"("exp":3797280000)", R"("exp":1678954183)"}});
  FakeHttpClient http(Script({Ok(disabled), Ok(expired), Ok(disabled), Ok(VaultRsaBundle())}));
  RecordingKmsObserver observer;
  key_.key_id = "https://myvault.vault.azure.net/keys/kek-orders";
  KeyVaultClient client(&http, &observer);
  absl::StatusOr<KeyBundle> bundle = client.GetKey(key_, "", absl::InfiniteFuture());
  ASSERT_OK(bundle);
  EXPECT_FALSE(bundle->enabled);
  ASSERT_OK(client.GetKey(key_, "", absl::InfiniteFuture()));
  // An old version, disabled to retire it: reported, not as the current one.
  ASSERT_OK(client.GetKey(key_, kVersion, absl::InfiniteFuture()));
  ASSERT_OK(client.GetKey(key_, "", absl::InfiniteFuture()));
  EXPECT_THAT(observer.key_requests(),
              ElementsAre(absl::StrCat(key_.key_id, "@/KEY_DISABLED"),
                          absl::StrCat(key_.key_id, "@/KEY_DISABLED"),
                          absl::StrCat(key_.key_id, "@", kVersion, "/KEY_DISABLED"),
                          absl::StrCat(key_.key_id, "@/OK")));
  EXPECT_THAT(observer.requests(), Each("azure_key_vault/get_key/OK"))
      << "the request itself succeeded";
}

// --- Listing versions (§3.6) --------------------------------------------------

// A page of KeyItems for versions `first`..`last` (as 32-hex ids) of
// kek-orders, with `next_link` ("" for null).
std::string VersionPage(int first, int last, const std::string& next_link) {
  Json items = Json::array();
  for (int v = first; v <= last; ++v) {
    items.push_back({{"kid", absl::StrCat("https://myvault.vault.azure.net/keys/kek-orders/",
                                          absl::StrFormat("%032x", v))},
                     {"attributes", {{"enabled", v != 2}, {"created", 1678954000 + v}}}});
  }
  Json page = {{"value", items}};
  page["nextLink"] = next_link.empty() ? Json(nullptr) : Json(next_link);
  return page.dump();
}

TEST_F(KeyVaultClientTest, ListVersionsFollowsNextLinkOnTheSameVault) {
  const std::string next =
      "https://myvault.vault.azure.net:443/keys/kek-orders/versions?api-version=7.4"
      "&$skiptoken=abc%3D&maxresults=25";
  KeyVaultClient& client = Client(Script({Ok(VersionPage(1, 2, next)), Ok(VersionPage(3, 3, ""))}));
  absl::StatusOr<std::vector<KeyVersionItem>> versions =
      client.ListKeyVersions(key_, /*max_pages=*/8, absl::InfiniteFuture());
  ASSERT_OK(versions);
  ASSERT_THAT(*versions, SizeIs(3));
  EXPECT_EQ((*versions)[0].version, absl::StrFormat("%032x", 1));
  EXPECT_TRUE((*versions)[0].enabled);
  EXPECT_FALSE((*versions)[1].enabled);
  EXPECT_EQ((*versions)[2].created, absl::FromUnixSeconds(1678954003));
  ASSERT_THAT(requests(), SizeIs(2));
  EXPECT_EQ(requests()[0].method, "GET");
  EXPECT_EQ(requests()[0].url, "https://myvault.vault.azure.net/keys/kek-orders/versions"
                               "?api-version=7.4&maxresults=25");
  EXPECT_EQ(requests()[1].url, "https://myvault.vault.azure.net/keys/kek-orders/versions"
                               "?api-version=7.4&$skiptoken=abc%3D&maxresults=25");
}

TEST_F(KeyVaultClientTest, ListVersionsStopsAtMaxPages) {
  const std::string next =
      "https://myvault.vault.azure.net/keys/kek-orders/versions?api-version=7.4&$skiptoken=2";
  KeyVaultClient& client = Client(Script({Ok(VersionPage(1, 1, next))}));
  absl::StatusOr<std::vector<KeyVersionItem>> versions =
      client.ListKeyVersions(key_, /*max_pages=*/3, absl::InfiniteFuture());
  ASSERT_OK(versions);
  EXPECT_THAT(*versions, SizeIs(3));
  EXPECT_THAT(requests(), SizeIs(3));
}

TEST_F(KeyVaultClientTest, ANextLinkLeavingTheKeysListIsNotFollowed) {
  for (const std::string& next :
       {"https://attacker.example/keys/kek-orders/versions?x=1",
        "https://myvault.vault.azure.net:8443/keys/kek-orders/versions?x=1",
        "https://myvault.vault.azure.net/keys/other-key/versions?x=1",
        "https://myvault.vault.azure.net/secrets/kek-orders/versions?x=1", "not a url"}) {
    KeyVaultClient& client = Client(Script({Ok(VersionPage(1, 1, next))}));
    EXPECT_THAT(client.ListKeyVersions(key_, 8, absl::InfiniteFuture()),
                HasReason(ErrorReason::kInternal))
        << next;
    EXPECT_THAT(requests(), SizeIs(1)) << next;
  }
}

TEST_F(KeyVaultClientTest, ListVersionsSkipsItemsOfOtherKeysOrWithoutAVersion) {
  Json page = Json::parse(absl::StrCat(
      R"({"value": [{"kid": "https://myvault.vault.azure.net/keys/kek-orders/)", kVersion, R"("},
                    {"kid": "https://myvault.vault.azure.net/keys/other/)", kVersion, R"("},
                    {"kid": "https://myvault.vault.azure.net/keys/kek-orders/not-hex"},
                    {"kid": 7}, "junk"],
          "nextLink": null})"));
  KeyVaultClient& client = Client(Script({Ok(page.dump())}));
  absl::StatusOr<std::vector<KeyVersionItem>> versions =
      client.ListKeyVersions(key_, 8, absl::InfiniteFuture());
  ASSERT_OK(versions);
  ASSERT_THAT(*versions, SizeIs(1));
  EXPECT_EQ((*versions)[0].version, kVersion);
  KeyVaultClient& broken = Client(Script({Ok(R"({"value": 3})")}));
  EXPECT_THAT(broken.ListKeyVersions(key_, 8, absl::InfiniteFuture()),
              HasReason(ErrorReason::kInternal));
}

TEST_F(KeyVaultClientTest, ARefusedListingIsNotReportedAsTheKeysState) {
  FakeHttpClient http(Script({ErrorResponse(403, "Forbidden", "ForbiddenByPolicy")}));
  RecordingKmsObserver observer;
  key_.key_id = "https://myvault.vault.azure.net/keys/kek-orders";
  KeyVaultClient client(&http, &observer);
  EXPECT_THAT(client.ListKeyVersions(key_, 8, absl::InfiniteFuture()),
              HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_THAT(observer.requests(),
              ElementsAre("azure_key_vault/list_versions/KEY_NOT_ACCESSIBLE"));
  EXPECT_THAT(observer.key_requests(), SizeIs(0)) << "keys/list is not wrap and unwrap";
}

TEST_F(KeyVaultClientTest, ManagedHsmChallengeWithEmptyBodyIsRetriedToo) {
  // §2.1: a Managed HSM 401 has no body at all.
  HttpResponse challenge;
  challenge.status = 401;
  challenge.headers = {{"WWW-Authenticate",
                        "Bearer authorization=\"https://login.microsoftonline"
                        ".com/t\", resource=\"https://managedhsm.azure.net\""}};
  KeyVaultClient& client = Client(Script({challenge, challenge}));
  EXPECT_THAT(client.RandomBytes(hsm_key_, 8, absl::InfiniteFuture()),
              HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_THAT(requests(), SizeIs(2));
}

TEST_F(KeyVaultClientTest, A401ThenA403IsKeyNotAccessible) {
  KeyVaultClient& client = Client(Script(
      {ErrorResponse(401, "Unauthorized"), ErrorResponse(403, "Forbidden", "ForbiddenByRbac")}));
  EXPECT_THAT(client.RotateKey(key_, absl::InfiniteFuture()),
              HasReason(ErrorReason::kKeyNotAccessible));
  ASSERT_THAT(requests(), SizeIs(2));
  EXPECT_FALSE(requests()[1].retry_safe);
}

TEST_F(KeyVaultClientTest, ATokenFailureSendsNothingAndKeepsItsReason) {
  KeyVaultClient& client = Client(Script({Ok(VaultRsaBundle())}));
  tokens_.FailWith(MakeError(ErrorReason::kKmsUnavailable, "entra id did not answer"));
  absl::StatusOr<crypto::SecretBytes> dek =
      client.UnwrapKey(key_, kVersion, "RSA-OAEP-256", "w", absl::InfiniteFuture());
  EXPECT_THAT(dek, HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_THAT(std::string(dek.status().message()), ::testing::HasSubstr("unwrapkey"));
  EXPECT_THAT(requests(), SizeIs(0));
}

// --- Error mapping through each operation (§7) -------------------------------

struct Operation {
  std::string name;
  bool edek_operation;  // unwrapkey / decrypt: a 400 means a bad EDEK
  std::function<absl::Status(KeyVaultClient&, const VaultKey&)> run;
};

std::vector<Operation> AllOperations() {
  absl::Time forever = absl::InfiniteFuture();
  return {
      {"get key", false,
       [=](KeyVaultClient& c, const VaultKey& k) {
         return c.GetKey(k, kVersion, forever).status();
       }},
      {"rotate", false,
       [=](KeyVaultClient& c, const VaultKey& k) { return c.RotateKey(k, forever).status(); }},
      {"unwrapkey", true,
       [=](KeyVaultClient& c, const VaultKey& k) {
         return c.UnwrapKey(k, kVersion, "RSA-OAEP-256", "w", forever).status();
       }},
      {"encrypt", false,
       [=](KeyVaultClient& c, const VaultKey& k) {
         return c.EncryptGcm(k, kVersion, crypto::SecretBytes::CopyFrom("dek"), "aad", forever)
             .status();
       }},
      {"decrypt", true,
       [=](KeyVaultClient& c, const VaultKey& k) {
         return c.DecryptGcm(k, kVersion, GcmCiphertext{"v", "i", "t"}, "aad", forever).status();
       }},
      {"rng", false,
       [=](KeyVaultClient& c, const VaultKey& k) { return c.RandomBytes(k, 8, forever).status(); }},
  };
}

struct ErrorCase {
  std::string name;
  absl::StatusOr<HttpResponse> answer;
  ErrorReason reason;  // for an EDEK operation, where it differs
  ErrorReason edek_reason;
};

std::vector<ErrorCase> AllErrorCases() {
  HttpResponse throttled = ErrorResponse(429, "Throttled");
  throttled.headers.emplace_back("Retry-After", "7");
  HttpResponse empty_503;
  empty_503.status = 503;
  return {
      {"403 ForbiddenByRbac", ErrorResponse(403, "Forbidden", "ForbiddenByRbac"),
       ErrorReason::kKeyNotAccessible, ErrorReason::kKeyNotAccessible},
      {"403 ForbiddenByPolicy", ErrorResponse(403, "Forbidden", "ForbiddenByPolicy"),
       ErrorReason::kKeyNotAccessible, ErrorReason::kKeyNotAccessible},
      {"403 ForbiddenByFirewall", ErrorResponse(403, "Forbidden", "ForbiddenByFirewall"),
       ErrorReason::kKeyNotAccessible, ErrorReason::kKeyNotAccessible},
      {"403 HSM AccessDenied", ErrorResponse(403, "AccessDenied"), ErrorReason::kKeyNotAccessible,
       ErrorReason::kKeyNotAccessible},
      {"403 KeyDisabled", ErrorResponse(403, "Forbidden", "KeyDisabled"), ErrorReason::kKeyDisabled,
       ErrorReason::kKeyDisabled},
      {"403 KeyOperationForbidden", ErrorResponse(403, "Forbidden", "KeyOperationForbidden"),
       ErrorReason::kKeyDisabled, ErrorReason::kKeyDisabled},
      {"404 KeyNotFound", ErrorResponse(404, "KeyNotFound"), ErrorReason::kKeyNotFound,
       ErrorReason::kKeyNotFound},
      {"400 BadParameter", ErrorResponse(400, "BadParameter"), ErrorReason::kInternal,
       ErrorReason::kEdekInvalid},
      {"409 Conflict", ErrorResponse(409, "Conflict"), ErrorReason::kInternal,
       ErrorReason::kInternal},
      {"429 Throttled", throttled, ErrorReason::kKmsThrottled, ErrorReason::kKmsThrottled},
      {"500", ErrorResponse(500, "InternalServerError"), ErrorReason::kKmsUnavailable,
       ErrorReason::kKmsUnavailable},
      {"503 empty", empty_503, ErrorReason::kKmsUnavailable, ErrorReason::kKmsUnavailable},
      {"transport UNAVAILABLE", absl::UnavailableError("connection reset by peer"),
       ErrorReason::kKmsUnavailable, ErrorReason::kKmsUnavailable},
      {"transport DEADLINE_EXCEEDED", absl::DeadlineExceededError("deadline passed"),
       ErrorReason::kDeadlineExceeded, ErrorReason::kDeadlineExceeded},
      {"transport RESOURCE_EXHAUSTED", absl::ResourceExhaustedError("vault at its limit"),
       ErrorReason::kKmsThrottled, ErrorReason::kKmsThrottled},
      {"transport INVALID_ARGUMENT", absl::InvalidArgumentError("bad url"), ErrorReason::kInternal,
       ErrorReason::kInternal},
  };
}

TEST_F(KeyVaultClientTest, MapsErrorsThroughEveryOperation) {
  for (const Operation& op : AllOperations()) {
    for (const ErrorCase& error : AllErrorCases()) {
      SCOPED_TRACE(absl::StrCat(op.name, ": ", error.name));
      KeyVaultClient& client = Client(Script({error.answer}));
      absl::Status status =
          op.run(client, op.name == "encrypt" || op.name == "decrypt" || op.name == "rng" ? hsm_key_
                                                                                          : key_);
      ErrorReason expected = op.edek_operation ? error.edek_reason : error.reason;
      EXPECT_THAT(status, HasReason(expected));
      EXPECT_THAT(requests(), SizeIs(1)) << "only a 401 is retried here";
      EXPECT_EQ(tokens_.invalidate_calls(), 0);
      std::string message(status.message());
      EXPECT_THAT(message, ::testing::HasSubstr(op.name));
      EXPECT_FALSE(absl::StrContains(message, "token-")) << message;
      if (error.answer.ok()) {
        EXPECT_THAT(message, ::testing::HasSubstr(absl::StrCat("HTTP ", error.answer->status)));
        if (!error.answer->body.empty()) {
          EXPECT_THAT(message, ::testing::HasSubstr("req-err-7")) << "x-ms-request-id";
        }
      }
      if (expected == ErrorReason::kKmsThrottled) {
        EXPECT_EQ(RetryDelayOf(status),
                  error.name == "429 Throttled" ? absl::Seconds(7) : absl::Seconds(1));
      }
    }
  }
}

TEST_F(KeyVaultClientTest, Throttled429WithoutRetryAfterWaitsADefault) {
  // §7.3: Key Vault was not seen sending Retry-After.
  KeyVaultClient& client = Client(Script({ErrorResponse(429, "Throttled")}));
  absl::StatusOr<crypto::SecretBytes> dek =
      client.UnwrapKey(key_, kVersion, "RSA-OAEP-256", "w", absl::InfiniteFuture());
  EXPECT_THAT(dek, HasReason(ErrorReason::kKmsThrottled));
  EXPECT_EQ(RetryDelayOf(dek.status()), absl::Seconds(1));
}

TEST_F(KeyVaultClientTest, ErrorMessagesNameTheKeyAndVersion) {
  KeyVaultClient& client = Client(Script({ErrorResponse(404, "KeyNotFound")}));
  absl::Status status = client.GetKey(key_, kVersion, absl::InfiniteFuture()).status();
  EXPECT_THAT(
      std::string(status.message()),
      ::testing::HasSubstr(absl::StrCat("myvault.vault.azure.net/kek-orders version ", kVersion)));
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("KeyNotFound"));
}

}  // namespace
}  // namespace keybroker::kms::azure
