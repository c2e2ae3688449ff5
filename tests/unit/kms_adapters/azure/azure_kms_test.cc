#include "kms_adapters/azure/azure_kms.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/error_reason.h"
#include "crypto/edek.h"
#include "crypto/encryption_context.h"
#include "crypto/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/fakes/fake_http_client.h"
#include "tests/fakes/fake_token_provider.h"
#include "tests/fakes/in_memory_key_vault.h"
#include "tests/testing/openssl_cli.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::testing::FakeHttpClient;
using ::keybroker::testing::FakeTokenProvider;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::InMemoryKeyVault;
using ::keybroker::testing::OpensslCli;
using ::keybroker::testing::StatusIs;
using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr char kVaultHost[] = "myvault.vault.azure.net";
constexpr char kHsmHost[] = "myhsm.managedhsm.azure.net";
constexpr char kKeyUrl[] = "https://myvault.vault.azure.net/keys/kek-orders";
constexpr char kHsmKeyUrl[] = "https://myhsm.managedhsm.azure.net/keys/kek-aes";

crypto::EncryptionContext Context(absl::string_view tenant) {
  return *crypto::EncryptionContext::FromPairs({{"tenant", tenant}, {"table", "orders"}});
}

crypto::SecretBytes Dek() { return *crypto::RandomSecret(32); }

bool SameBytes(const crypto::SecretBytes& a, const crypto::SecretBytes& b) {
  return a.ConstantTimeEquals(b);
}

class AzureKmsTest : public ::testing::Test {
 protected:
  AzureKmsTest() : http_(vault_.Handler()), client_(&http_) { UseTtl(absl::Minutes(10)); }

  void UseTtl(absl::Duration ttl) { kms_ = std::make_unique<AzureKms>(&client_, ttl); }
  void UseOptions(const AzureKmsOptions& options) {
    kms_ = std::make_unique<AzureKms>(&client_, options);
  }

  AzureKeyOptions VaultKeyOptions(const std::string& url) {
    AzureKeyOptions options;
    options.key_url = url;
    options.kind = VaultKind::kVault;
    options.scope = "https://vault.azure.net/.default";
    options.tokens = &tokens_;
    return options;
  }
  AzureKeyOptions HsmKeyOptions(const std::string& url) {
    AzureKeyOptions options = VaultKeyOptions(url);
    options.kind = VaultKind::kManagedHsm;
    options.scope = "https://managedhsm.azure.net/.default";
    return options;
  }
  // Adds an RSA key to the vault and to the AzureKms; returns its version.
  std::string AddRsaKey(const std::string& name = "kek-orders",
                        InMemoryKeyVault::Version version = InMemoryKeyVault::Rsa()) {
    std::string id = vault_.AddVersion(kVaultHost, name, std::move(version));
    EXPECT_OK(kms_->AddKey(VaultKeyOptions(absl::StrCat("https://", kVaultHost, "/keys/", name))));
    return id;
  }

  size_t requests() const { return http_.requests().size(); }

  absl::StatusOr<WrappedKey> Wrap(const std::string& url, const crypto::SecretBytes& dek,
                                  const crypto::EncryptionContext& context) {
    return kms_->Wrap(url, dek, context, CallOptions());
  }
  absl::StatusOr<crypto::SecretBytes> Unwrap(const crypto::Edek& edek,
                                             const crypto::EncryptionContext& context) {
    return kms_->Unwrap(edek, context, CallOptions());
  }
  absl::StatusOr<crypto::SecretBytes> Unwrap(const WrappedKey& wrapped,
                                             const crypto::EncryptionContext& context) {
    absl::StatusOr<crypto::Edek> edek = crypto::DecodeEdek(wrapped.edek);
    if (!edek.ok()) return edek.status();
    return Unwrap(*edek, context);
  }

  InMemoryKeyVault vault_;
  FakeHttpClient http_;
  KeyVaultClient client_;
  FakeTokenProvider tokens_;
  std::unique_ptr<AzureKms> kms_;
};

// --- RSA keys on a vault --------------------------------------------------

TEST_F(AzureKmsTest, RsaWrapIsLocalOnceMetadataIsCachedAndUnwrapRoundTrips) {
  std::string version = AddRsaKey();
  crypto::SecretBytes dek = Dek();

  absl::StatusOr<WrappedKey> wrapped = Wrap(kKeyUrl, dek, Context("a"));
  ASSERT_OK(wrapped);
  EXPECT_EQ(wrapped->key_version, version);
  EXPECT_EQ(vault_.count("get"), 1);
  size_t after_first = requests();
  for (int i = 0; i < 3; ++i) ASSERT_OK(Wrap(kKeyUrl, Dek(), Context("a")));
  EXPECT_EQ(requests(), after_first) << "RSA wraps are local while the metadata is fresh";

  absl::StatusOr<crypto::Edek> edek = crypto::DecodeEdek(wrapped->edek);
  ASSERT_OK(edek);
  EXPECT_EQ(edek->kms, crypto::EdekKms::kAzure);
  EXPECT_EQ(edek->algorithm, crypto::EdekAlgorithm::kRsaOaep256);
  EXPECT_EQ(edek->key_name, "myvault.vault.azure.net/kek-orders");
  EXPECT_EQ(edek->key_version, version);
  EXPECT_EQ(edek->wrapped.size(), 256u);
  EXPECT_TRUE(edek->iv.empty());

  absl::StatusOr<crypto::SecretBytes> unwrapped = Unwrap(*edek, Context("a"));
  ASSERT_OK(unwrapped);
  EXPECT_TRUE(SameBytes(*unwrapped, dek));
  EXPECT_EQ(vault_.count("unwrapkey"), 1);
  EXPECT_EQ(vault_.count("get"), 1) << "unwrap needs no metadata";
  EXPECT_EQ(vault_.paths().back(), absl::StrCat("/keys/kek-orders/", version, "/unwrapkey"));
}

TEST_F(AzureKmsTest, RsaUnwrapUnderAnotherContextFailsAfterUnwrapping) {
  AddRsaKey();
  absl::StatusOr<WrappedKey> wrapped = Wrap(kKeyUrl, Dek(), Context("a"));
  ASSERT_OK(wrapped);
  EXPECT_THAT(Unwrap(*wrapped, Context("b")), HasReason(ErrorReason::kEdekInvalid));
  EXPECT_THAT(Unwrap(*wrapped, crypto::EncryptionContext()), HasReason(ErrorReason::kEdekInvalid));
  EXPECT_EQ(vault_.count("unwrapkey"), 2) << "Key Vault unwrapped; the binding check refused";
  EXPECT_OK(Unwrap(*wrapped, Context("a")));
}

TEST_F(AzureKmsTest, RsaEdekRelabeledToAnotherKeyOrVersionFailsAfterUnwrapping) {
  // The same key material under two names and in two versions (a customer
  // import): Key Vault unwraps the relabeled EDEK, the header binding does not.
  std::string version = AddRsaKey("kek-orders", InMemoryKeyVault::Rsa(0));
  std::string twin_version = AddRsaKey("kek-twin", InMemoryKeyVault::Rsa(0));

  crypto::SecretBytes dek = Dek();
  absl::StatusOr<WrappedKey> wrapped = Wrap(kKeyUrl, dek, Context("a"));
  ASSERT_OK(wrapped);
  std::string second_version =
      vault_.AddVersion(kVaultHost, "kek-orders", InMemoryKeyVault::Rsa(0));
  crypto::Edek edek = *crypto::DecodeEdek(wrapped->edek);
  ASSERT_EQ(edek.key_version, version);

  crypto::Edek renamed = edek;
  renamed.key_name = "myvault.vault.azure.net/kek-twin";
  renamed.key_version = twin_version;
  EXPECT_THAT(Unwrap(renamed, Context("a")), HasReason(ErrorReason::kEdekInvalid));

  crypto::Edek reversioned = edek;
  reversioned.key_version = second_version;
  EXPECT_THAT(Unwrap(reversioned, Context("a")), HasReason(ErrorReason::kEdekInvalid));
  EXPECT_EQ(vault_.count("unwrapkey"), 2);

  absl::StatusOr<crypto::SecretBytes> unwrapped = Unwrap(edek, Context("a"));
  ASSERT_OK(unwrapped);
  EXPECT_TRUE(SameBytes(*unwrapped, dek));
}

TEST_F(AzureKmsTest, TamperedRsaCiphertextIsEdekInvalid) {
  AddRsaKey();
  absl::StatusOr<WrappedKey> wrapped = Wrap(kKeyUrl, Dek(), Context("a"));
  ASSERT_OK(wrapped);
  crypto::Edek edek = *crypto::DecodeEdek(wrapped->edek);
  edek.wrapped[100] ^= 0x01;
  EXPECT_THAT(Unwrap(edek, Context("a")), HasReason(ErrorReason::kEdekInvalid));
  EXPECT_EQ(vault_.count("unwrapkey"), 1);
}

TEST_F(AzureKmsTest, RsaHsmKeyOnAManagedHsmWrapsLocally) {
  InMemoryKeyVault::Version version = InMemoryKeyVault::Rsa(1);
  version.kty = "RSA-HSM";
  vault_.AddVersion(kHsmHost, "kek-rsa", version);
  std::string url = absl::StrCat("https://", kHsmHost, "/keys/kek-rsa");
  ASSERT_OK(kms_->AddKey(HsmKeyOptions(url)));
  crypto::SecretBytes dek = Dek();
  absl::StatusOr<WrappedKey> wrapped = Wrap(url, dek, Context("a"));
  ASSERT_OK(wrapped);
  EXPECT_EQ(vault_.count("encrypt"), 0);
  absl::StatusOr<crypto::SecretBytes> unwrapped = Unwrap(*wrapped, Context("a"));
  ASSERT_OK(unwrapped);
  EXPECT_TRUE(SameBytes(*unwrapped, dek));
}

// --- local_only calls (kms.h): what the broker tries on gRPC's threads ----

CallOptions LocalOnly() {
  CallOptions options;
  options.local_only = true;
  return options;
}

TEST_F(AzureKmsTest, LocalOnlyRsaWrapWaitsForNothingItDoesNotHave) {
  AddRsaKey();
  // Nothing cached yet: refused at once, without a request.
  absl::Status refused = kms_->Wrap(kKeyUrl, Dek(), Context("a"), LocalOnly()).status();
  EXPECT_TRUE(IsWouldBlock(refused)) << refused;
  EXPECT_EQ(requests(), 0u);
  // The same call without local_only fetches the metadata; then local_only
  // wraps with the cached public key, still without a request, and the EDEK
  // unwraps.
  ASSERT_OK(Wrap(kKeyUrl, Dek(), Context("a")));
  const size_t fetched = requests();
  crypto::SecretBytes dek = Dek();
  absl::StatusOr<WrappedKey> wrapped = kms_->Wrap(kKeyUrl, dek, Context("a"), LocalOnly());
  ASSERT_OK(wrapped);
  EXPECT_EQ(requests(), fetched);
  absl::StatusOr<crypto::SecretBytes> unwrapped = Unwrap(*wrapped, Context("a"));
  ASSERT_OK(unwrapped);
  EXPECT_TRUE(SameBytes(*unwrapped, dek));
}

TEST_F(AzureKmsTest, LocalOnlyRsaWrapIsRefusedOnceTheMetadataExpired) {
  const absl::Duration ttl = absl::Milliseconds(100);
  UseTtl(ttl);
  AddRsaKey();
  ASSERT_OK(Wrap(kKeyUrl, Dek(), Context("a")));
  absl::SleepFor(ttl + absl::Milliseconds(20));
  const size_t before = requests();
  EXPECT_TRUE(IsWouldBlock(kms_->Wrap(kKeyUrl, Dek(), Context("a"), LocalOnly()).status()));
  EXPECT_EQ(requests(), before) << "the refresh is left to the call made without local_only";
}

TEST_F(AzureKmsTest, LocalOnlyRefusesEveryCallThatAsksTheVault) {
  AddRsaKey();
  ASSERT_OK(Wrap(kKeyUrl, Dek(), Context("a")));
  absl::StatusOr<WrappedKey> wrapped = Wrap(kKeyUrl, Dek(), Context("a"));
  ASSERT_OK(wrapped);
  vault_.AddVersion(kHsmHost, "kek-aes", InMemoryKeyVault::Aes());
  AzureKeyOptions hsm = HsmKeyOptions(kHsmKeyUrl);
  hsm.hsm_random = true;
  ASSERT_OK(kms_->AddKey(hsm));
  ASSERT_OK(Wrap(kHsmKeyUrl, Dek(), Context("a")));  // its metadata cached
  const size_t before = requests();

  absl::StatusOr<crypto::Edek> edek = crypto::DecodeEdek(wrapped->edek);
  ASSERT_OK(edek);
  EXPECT_TRUE(IsWouldBlock(kms_->Unwrap(*edek, Context("a"), LocalOnly()).status()));
  EXPECT_TRUE(IsWouldBlock(kms_->Wrap(kHsmKeyUrl, Dek(), Context("a"), LocalOnly()).status()))
      << "an AES wrap is an HSM call";
  EXPECT_TRUE(IsWouldBlock(kms_->GenerateDekMaterial(kHsmKeyUrl, 32, LocalOnly()).status()))
      << "hsm_random draws from the HSM";
  EXPECT_TRUE(IsWouldBlock(kms_->Describe(kKeyUrl, LocalOnly()).status()));
  EXPECT_TRUE(IsWouldBlock(kms_->Rotate(kKeyUrl, LocalOnly()).status()));
  EXPECT_EQ(requests(), before);
  // Errors that are not WouldBlock are never taken for one.
  EXPECT_FALSE(IsWouldBlock(kms_->Wrap("https://myvault.vault.azure.net/keys/unknown", Dek(),
                                       Context("a"), LocalOnly())
                                .status()));
  EXPECT_FALSE(IsWouldBlock(absl::UnavailableError("needs a remote call (local_only)")));
  EXPECT_FALSE(IsWouldBlock(absl::OkStatus()));
}

// --- AES keys on a Managed HSM --------------------------------------------

TEST_F(AzureKmsTest, HsmAesWrapsRemotelyAndRoundTrips) {
  std::string version = vault_.AddVersion(kHsmHost, "kek-aes", InMemoryKeyVault::Aes());
  ASSERT_OK(kms_->AddKey(HsmKeyOptions(kHsmKeyUrl)));
  crypto::SecretBytes dek = Dek();

  absl::StatusOr<WrappedKey> wrapped = Wrap(kHsmKeyUrl, dek, Context("a"));
  ASSERT_OK(wrapped);
  EXPECT_EQ(wrapped->key_version, version);
  EXPECT_EQ(vault_.count("get"), 1);
  EXPECT_EQ(vault_.count("encrypt"), 1);
  crypto::Edek edek = *crypto::DecodeEdek(wrapped->edek);
  EXPECT_EQ(edek.algorithm, crypto::EdekAlgorithm::kAes256Gcm);
  EXPECT_EQ(edek.key_name, "myhsm.managedhsm.azure.net/kek-aes");
  EXPECT_EQ(edek.iv.size(), 12u);
  EXPECT_EQ(edek.tag.size(), 16u);
  EXPECT_EQ(edek.wrapped.size(), 32u);

  // The AAD is the EDEK's authenticated header and the canonical context.
  std::string aad = *crypto::EdekAuthenticatedHeader(edek) + Context("a").canonical();
  EXPECT_EQ(vault_.last_aad(), aad);

  absl::StatusOr<crypto::SecretBytes> unwrapped = Unwrap(edek, Context("a"));
  ASSERT_OK(unwrapped);
  EXPECT_TRUE(SameBytes(*unwrapped, dek));
  EXPECT_EQ(vault_.count("decrypt"), 1);
  EXPECT_EQ(vault_.paths().back(), absl::StrCat("/keys/kek-aes/", version, "/decrypt"));

  ASSERT_OK(Wrap(kHsmKeyUrl, Dek(), Context("a")));
  EXPECT_EQ(vault_.count("get"), 1) << "metadata cached";
  EXPECT_EQ(vault_.count("encrypt"), 2) << "every AES wrap is an HSM call";
}

TEST_F(AzureKmsTest, HsmAesBindsContextAndHeader) {
  InMemoryKeyVault::Version material = InMemoryKeyVault::Aes();
  std::string same_material = vault_.AddVersion(kHsmHost, "kek-aes", material);
  std::string latest = vault_.AddVersion(kHsmHost, "kek-aes", material);
  ASSERT_OK(kms_->AddKey(HsmKeyOptions(kHsmKeyUrl)));
  absl::StatusOr<WrappedKey> wrapped = Wrap(kHsmKeyUrl, Dek(), Context("a"));
  ASSERT_OK(wrapped);
  crypto::Edek edek = *crypto::DecodeEdek(wrapped->edek);

  EXPECT_THAT(Unwrap(edek, Context("b")), HasReason(ErrorReason::kEdekInvalid));
  EXPECT_THAT(Unwrap(edek, crypto::EncryptionContext()), HasReason(ErrorReason::kEdekInvalid));
  crypto::Edek reversioned = edek;
  ASSERT_EQ(reversioned.key_version, latest);
  reversioned.key_version = same_material;
  EXPECT_THAT(Unwrap(reversioned, Context("a")), HasReason(ErrorReason::kEdekInvalid));
  crypto::Edek bad_tag = edek;
  bad_tag.tag[0] ^= 0x80;
  EXPECT_THAT(Unwrap(bad_tag, Context("a")), HasReason(ErrorReason::kEdekInvalid));
  EXPECT_EQ(vault_.count("decrypt"), 4);
  EXPECT_OK(Unwrap(edek, Context("a")));
}

TEST_F(AzureKmsTest, HsmRandomDrawsFromTheHsm) {
  vault_.AddVersion(kHsmHost, "kek-aes", InMemoryKeyVault::Aes());
  AzureKeyOptions options = HsmKeyOptions(kHsmKeyUrl);
  options.hsm_random = true;
  ASSERT_OK(kms_->AddKey(options));
  absl::StatusOr<crypto::SecretBytes> material =
      kms_->GenerateDekMaterial(kHsmKeyUrl, 32, CallOptions());
  ASSERT_OK(material);
  EXPECT_EQ(material->size(), 32u);
  EXPECT_EQ(vault_.count("rng"), 1);
  ASSERT_EQ(vault_.paths().size(), 1u);
  EXPECT_EQ(vault_.paths()[0], "/rng");
  EXPECT_EQ(Json::parse(http_.requests()[0].body), Json({{"count", 32}}));
}

TEST_F(AzureKmsTest, WithoutHsmRandomDekMaterialIsLocal) {
  vault_.AddVersion(kHsmHost, "kek-aes", InMemoryKeyVault::Aes());
  ASSERT_OK(kms_->AddKey(HsmKeyOptions(kHsmKeyUrl)));
  AzureKeyOptions vault_options = VaultKeyOptions(kKeyUrl);
  vault_options.hsm_random = true;  // a vault has no RNG to draw from
  ASSERT_OK(kms_->AddKey(vault_options));
  absl::StatusOr<crypto::SecretBytes> a = kms_->GenerateDekMaterial(kHsmKeyUrl, 32, CallOptions());
  absl::StatusOr<crypto::SecretBytes> b = kms_->GenerateDekMaterial(kKeyUrl, 32, CallOptions());
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_EQ(a->size(), 32u);
  EXPECT_FALSE(SameBytes(*a, *b));
  EXPECT_EQ(requests(), 0u);
}

TEST_F(AzureKmsTest, DescribeReportsKindAndAlgorithm) {
  std::string rsa_version = AddRsaKey();
  std::string aes_version = vault_.AddVersion(kHsmHost, "kek-aes", InMemoryKeyVault::Aes());
  ASSERT_OK(kms_->AddKey(HsmKeyOptions(kHsmKeyUrl)));
  absl::StatusOr<KeyDescription> rsa = kms_->Describe(kKeyUrl, CallOptions());
  ASSERT_OK(rsa);
  EXPECT_EQ(rsa->key_version, rsa_version);
  EXPECT_EQ(rsa->algorithm, "RSA-OAEP-256");
  EXPECT_EQ(rsa->kms, "azure_key_vault");
  EXPECT_FALSE(rsa->quantum_resistant);
  EXPECT_TRUE(rsa->customer_managed);
  absl::StatusOr<KeyDescription> aes = kms_->Describe(kHsmKeyUrl, CallOptions());
  ASSERT_OK(aes);
  EXPECT_EQ(aes->key_version, aes_version);
  EXPECT_EQ(aes->algorithm, "AES-256-GCM");
  EXPECT_EQ(aes->kms, "azure_managed_hsm");
  EXPECT_TRUE(aes->quantum_resistant);
}

// --- Keys that may not wrap -----------------------------------------------

TEST_F(AzureKmsTest, RsaKeyUnder2048BitsIsDisabled) {
  OpensslCli openssl;
  ASSERT_TRUE(openssl.Run("genrsa -out short.pem 1024")) << openssl.last_log();
  ASSERT_TRUE(openssl.Run("rsa -in short.pem -noout -modulus")) << openssl.last_log();
  std::string output = openssl.Read("openssl.log");
  absl::string_view hex = absl::StripAsciiWhitespace(output);
  ASSERT_TRUE(absl::ConsumePrefix(&hex, "Modulus=")) << output;
  InMemoryKeyVault::Version version = InMemoryKeyVault::Rsa();
  version.n = absl::HexStringToBytes(hex);
  ASSERT_EQ(version.n.size(), 128u);
  AddRsaKey("kek-orders", version);

  absl::StatusOr<WrappedKey> wrapped = Wrap(kKeyUrl, Dek(), Context("a"));
  EXPECT_THAT(wrapped, HasReason(ErrorReason::kKeyDisabled));
  EXPECT_THAT(std::string(wrapped.status().message()), HasSubstr("2048"));
  EXPECT_THAT(kms_->Describe(kKeyUrl, CallOptions()), HasReason(ErrorReason::kKeyDisabled));
}

TEST_F(AzureKmsTest, KeyOpsWithoutWrapKeyOrEncryptAreDisabled) {
  InMemoryKeyVault::Version rsa = InMemoryKeyVault::Rsa();
  rsa.key_ops = {"encrypt", "decrypt", "unwrapKey"};
  AddRsaKey("kek-orders", rsa);
  EXPECT_THAT(Wrap(kKeyUrl, Dek(), Context("a")), HasReason(ErrorReason::kKeyDisabled));

  InMemoryKeyVault::Version aes = InMemoryKeyVault::Aes();
  aes.key_ops = {"wrapKey", "unwrapKey", "decrypt"};
  vault_.AddVersion(kHsmHost, "kek-aes", aes);
  ASSERT_OK(kms_->AddKey(HsmKeyOptions(kHsmKeyUrl)));
  EXPECT_THAT(Wrap(kHsmKeyUrl, Dek(), Context("a")), HasReason(ErrorReason::kKeyDisabled));
  EXPECT_EQ(vault_.count("encrypt"), 0);
}

TEST_F(AzureKmsTest, DisabledExpiredAndNotYetValidKeysAreDisabled) {
  int64_t now = absl::ToUnixSeconds(absl::Now());
  InMemoryKeyVault::Version disabled = InMemoryKeyVault::Rsa();
  disabled.enabled = false;
  InMemoryKeyVault::Version expired = InMemoryKeyVault::Rsa();
  expired.exp = now - 60;
  InMemoryKeyVault::Version early = InMemoryKeyVault::Rsa();
  early.nbf = now + 3600;
  InMemoryKeyVault::Version current = InMemoryKeyVault::Rsa();
  current.nbf = now - 3600;
  current.exp = now + 3600;
  AddRsaKey("kek-disabled", disabled);
  AddRsaKey("kek-expired", expired);
  AddRsaKey("kek-early", early);
  AddRsaKey("kek-current", current);
  for (const char* name : {"kek-disabled", "kek-expired", "kek-early"}) {
    SCOPED_TRACE(name);
    std::string url = absl::StrCat("https://", kVaultHost, "/keys/", name);
    EXPECT_THAT(Wrap(url, Dek(), Context("a")), HasReason(ErrorReason::kKeyDisabled));
    EXPECT_THAT(kms_->Describe(url, CallOptions()), HasReason(ErrorReason::kKeyDisabled));
  }
  EXPECT_OK(Wrap(absl::StrCat("https://", kVaultHost, "/keys/kek-current"), Dek(), Context("a")));
}

TEST_F(AzureKmsTest, AesKeyOnAVaultIsNotSupported) {
  vault_.AddVersion(kVaultHost, "kek-orders", InMemoryKeyVault::Aes());
  ASSERT_OK(kms_->AddKey(VaultKeyOptions(kKeyUrl)));
  EXPECT_THAT(Wrap(kKeyUrl, Dek(), Context("a")), HasReason(ErrorReason::kKeyDisabled));
  EXPECT_EQ(vault_.count("encrypt"), 0);
}

// --- Metadata TTL and revocation -------------------------------------------

TEST_F(AzureKmsTest, NewVersionIsPickedUpAfterTheTtl) {
  const absl::Duration ttl = absl::Milliseconds(200);
  UseTtl(ttl);
  std::string first = AddRsaKey();
  absl::Time start = absl::Now();
  absl::StatusOr<WrappedKey> before = Wrap(kKeyUrl, Dek(), Context("a"));
  ASSERT_OK(before);
  EXPECT_EQ(before->key_version, first);

  std::string second = vault_.AddVersion(kVaultHost, "kek-orders", InMemoryKeyVault::Rsa(1));
  absl::StatusOr<WrappedKey> cached = Wrap(kKeyUrl, Dek(), Context("a"));
  ASSERT_OK(cached);
  if (absl::Now() - start < ttl) {  // a very slow machine may already be past it
    EXPECT_EQ(cached->key_version, first);
    EXPECT_EQ(vault_.count("get"), 1);
  }

  absl::SleepFor(ttl + absl::Milliseconds(50));
  absl::StatusOr<WrappedKey> after = Wrap(kKeyUrl, Dek(), Context("a"));
  ASSERT_OK(after);
  EXPECT_EQ(after->key_version, second);
  // EDEKs of both versions still unwrap.
  EXPECT_OK(Unwrap(*before, Context("a")));
  EXPECT_OK(Unwrap(*after, Context("a")));
}

TEST_F(AzureKmsTest, RefusedRefreshAfterTheTtlStopsWrapsWithoutStaleRevival) {
  const absl::Duration ttl = absl::Milliseconds(200);
  UseTtl(ttl);
  AddRsaKey();
  ASSERT_OK(Wrap(kKeyUrl, Dek(), Context("a")));
  absl::SleepFor(ttl + absl::Milliseconds(50));

  vault_.Fail("get", 403, "Forbidden", "ForbiddenByRbac");
  EXPECT_THAT(Wrap(kKeyUrl, Dek(), Context("a")), HasReason(ErrorReason::kKeyNotAccessible));
  // The vault now fails differently: the dropped copy must not come back.
  vault_.Fail("get", 503, "ServiceUnavailable");
  EXPECT_THAT(Wrap(kKeyUrl, Dek(), Context("a")), HasReason(ErrorReason::kKmsUnavailable));
  vault_.Fail("get", 429, "Throttled");
  EXPECT_THAT(Wrap(kKeyUrl, Dek(), Context("a")), HasReason(ErrorReason::kKmsThrottled));
  EXPECT_EQ(vault_.count("get"), 4);
  // Access restored: wraps work again.
  EXPECT_OK(Wrap(kKeyUrl, Dek(), Context("a")));
}

TEST_F(AzureKmsTest, UnreachableVaultAfterTheTtlFailsWraps) {
  const absl::Duration ttl = absl::Milliseconds(200);
  UseTtl(ttl);
  AddRsaKey();
  ASSERT_OK(Wrap(kKeyUrl, Dek(), Context("a")));
  absl::SleepFor(ttl + absl::Milliseconds(50));
  vault_.Fail("get", 503, "ServiceUnavailable", "", /*count=*/2);
  EXPECT_THAT(Wrap(kKeyUrl, Dek(), Context("a")), HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_THAT(Wrap(kKeyUrl, Dek(), Context("a")), HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_EQ(vault_.count("get"), 3) << "each wrap past the TTL asks again";
  EXPECT_OK(Wrap(kKeyUrl, Dek(), Context("a")));
}

TEST_F(AzureKmsTest, RefusedRefreshWithinTheTtlDropsTheCachedCopy) {
  AddRsaKey();  // TTL 10 minutes
  ASSERT_OK(Wrap(kKeyUrl, Dek(), Context("a")));
  vault_.Fail("get", 403, "Forbidden", "ForbiddenByRbac", /*count=*/2);
  EXPECT_THAT(kms_->Describe(kKeyUrl, CallOptions()), HasReason(ErrorReason::kKeyNotAccessible));
  EXPECT_THAT(Wrap(kKeyUrl, Dek(), Context("a")), HasReason(ErrorReason::kKeyNotAccessible))
      << "the refusal dropped the copy long before its TTL";
  EXPECT_EQ(vault_.count("get"), 3);
}

TEST_F(AzureKmsTest, FailedRefreshWithinTheTtlOfAnUnreachableVaultAlsoDropsTheCopy) {
  // Any failed fetch drops the cached copy, an unreachable vault's too (the
  // failure may hide a revocation): after a failed Describe, the next wrap
  // asks the vault again instead of using the copy.
  AddRsaKey();
  ASSERT_OK(Wrap(kKeyUrl, Dek(), Context("a")));
  vault_.Fail("get", 503, "ServiceUnavailable");
  EXPECT_THAT(kms_->Describe(kKeyUrl, CallOptions()), HasReason(ErrorReason::kKmsUnavailable));
  EXPECT_OK(Wrap(kKeyUrl, Dek(), Context("a")));
  EXPECT_EQ(vault_.count("get"), 3);
}

TEST_F(AzureKmsTest, ADisabledKeyStopsWrapsAtTheNextRefresh) {
  AddRsaKey();
  ASSERT_OK(Wrap(kKeyUrl, Dek(), Context("a")));
  InMemoryKeyVault::Version disabled = InMemoryKeyVault::Rsa();
  disabled.enabled = false;
  vault_.AddVersion(kVaultHost, "kek-orders", disabled);
  EXPECT_THAT(kms_->Describe(kKeyUrl, CallOptions()), HasReason(ErrorReason::kKeyDisabled));
  EXPECT_THAT(Wrap(kKeyUrl, Dek(), Context("a")), HasReason(ErrorReason::kKeyDisabled));
}

// --- Rotate -----------------------------------------------------------------

TEST_F(AzureKmsTest, RotateUsesTheRotateAnswerWithoutAGet) {
  std::string first = AddRsaKey();
  ASSERT_OK(Wrap(kKeyUrl, Dek(), Context("a")));
  ASSERT_EQ(vault_.count("get"), 1);

  absl::StatusOr<std::string> rotated = kms_->Rotate(kKeyUrl, CallOptions());
  ASSERT_OK(rotated);
  EXPECT_NE(*rotated, first);
  EXPECT_EQ(vault_.count("rotate"), 1);
  EXPECT_EQ(vault_.count("get"), 1) << "no GET after rotate";
  EXPECT_FALSE(http_.requests().back().retry_safe);

  absl::StatusOr<WrappedKey> wrapped = Wrap(kKeyUrl, Dek(), Context("a"));
  ASSERT_OK(wrapped);
  EXPECT_EQ(wrapped->key_version, *rotated) << "wraps use the new version at once";
  EXPECT_EQ(vault_.count("get"), 1);
  EXPECT_OK(Unwrap(*wrapped, Context("a")));
}

TEST_F(AzureKmsTest, RotateWithoutPermissionPicksUpTheLatestVersion) {
  AddRsaKey();
  ASSERT_OK(Wrap(kKeyUrl, Dek(), Context("a")));
  // The customer rotates in Key Vault; the broker may not.
  std::string customer = vault_.AddVersion(kVaultHost, "kek-orders", InMemoryKeyVault::Rsa(1));
  vault_.Fail("rotate", 403, "Forbidden", "ForbiddenByRbac");

  absl::StatusOr<std::string> rotated = kms_->Rotate(kKeyUrl, CallOptions());
  ASSERT_OK(rotated);
  EXPECT_EQ(*rotated, customer);
  EXPECT_EQ(vault_.count("rotate"), 1);
  EXPECT_EQ(vault_.count("get"), 2);
  absl::StatusOr<WrappedKey> wrapped = Wrap(kKeyUrl, Dek(), Context("a"));
  ASSERT_OK(wrapped);
  EXPECT_EQ(wrapped->key_version, customer);
  EXPECT_EQ(vault_.count("get"), 2);
}

TEST_F(AzureKmsTest, RotateFailuresOtherThanLostAccessAreReturned) {
  AddRsaKey();
  vault_.Fail("rotate", 503, "ServiceUnavailable");
  EXPECT_THAT(kms_->Rotate(kKeyUrl, CallOptions()), HasReason(ErrorReason::kKmsUnavailable));
  vault_.Fail("rotate", 403, "Forbidden", "KeyDisabled");
  EXPECT_THAT(kms_->Rotate(kKeyUrl, CallOptions()), HasReason(ErrorReason::kKeyDisabled));
  EXPECT_EQ(vault_.count("get"), 0);
}

TEST_F(AzureKmsTest, PinnedVersionWrapsWithItAndRefusesRotate) {
  std::string pinned = vault_.AddVersion(kVaultHost, "kek-orders", InMemoryKeyVault::Rsa(0));
  std::string latest = vault_.AddVersion(kVaultHost, "kek-orders", InMemoryKeyVault::Rsa(1));
  std::string url = absl::StrCat(kKeyUrl, "/", pinned);
  ASSERT_OK(kms_->AddKey(VaultKeyOptions(url)));

  absl::StatusOr<WrappedKey> wrapped = Wrap(url, Dek(), Context("a"));
  ASSERT_OK(wrapped);
  EXPECT_EQ(wrapped->key_version, pinned);
  EXPECT_NE(wrapped->key_version, latest);
  ASSERT_EQ(vault_.paths().size(), 1u);
  EXPECT_EQ(vault_.paths()[0], absl::StrCat("/keys/kek-orders/", pinned));
  EXPECT_OK(Unwrap(*wrapped, Context("a")));

  size_t before = requests();
  absl::StatusOr<std::string> rotated = kms_->Rotate(url, CallOptions());
  EXPECT_THAT(rotated, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(pinned)));
  EXPECT_THAT(rotated, HasReason(ErrorReason::kKeyVersionPinned));
  EXPECT_EQ(requests(), before);
}

// --- EDEKs naming what is not configured -----------------------------------

TEST_F(AzureKmsTest, EdekForAnUnconfiguredKeyOrBadVersionSendsNothing) {
  std::string version = AddRsaKey();
  crypto::Edek good;
  good.kms = crypto::EdekKms::kAzure;
  good.algorithm = crypto::EdekAlgorithm::kRsaOaep256;
  good.key_name = "myvault.vault.azure.net/kek-orders";
  good.key_version = version;
  good.wrapped = std::string(256, 'x');
  absl::StatusOr<std::string> key_id = kms_->KeyIdOf(good);
  ASSERT_OK(key_id);
  EXPECT_EQ(*key_id, kKeyUrl);

  std::vector<crypto::Edek> bad;
  for (const char* name : {"myvault.vault.azure.net/other", "evil.example.com/kek-orders",
                           "myvault.vault.azure.net/kek-orders/", "kek-orders",
                           "https://myvault.vault.azure.net/keys/kek-orders"}) {
    crypto::Edek edek = good;
    edek.key_name = name;
    bad.push_back(edek);
  }
  for (std::string bad_version :
       {std::string(""), std::string("v1"), version.substr(1), version + "0",
        std::string("974EB8A01DE843D6AD746295F85F11F3"), std::string(31, 'a') + "g",
        std::string("../../../rng?x=0123456789abcdef0"), version.substr(0, 31) + "/"}) {
    crypto::Edek edek = good;
    edek.key_version = bad_version;
    bad.push_back(edek);
  }
  crypto::Edek local = good;
  local.kms = crypto::EdekKms::kLocal;
  bad.push_back(local);

  for (const crypto::Edek& edek : bad) {
    SCOPED_TRACE(absl::StrCat(edek.key_name, " ", edek.key_version));
    EXPECT_THAT(kms_->KeyIdOf(edek), HasReason(ErrorReason::kEdekInvalid));
    EXPECT_THAT(Unwrap(edek, Context("a")), HasReason(ErrorReason::kEdekInvalid));
  }
  EXPECT_EQ(requests(), 0u) << "a crafted EDEK never makes the broker send anything";
}

TEST_F(AzureKmsTest, EveryEdekWrapReturnsCanBeUnwrapped) {
  // Key Vault documents versions as "a system-generated, 32 character string"
  // (§1.1; every one seen is lowercase hex). Unwrap accepts only 32 lowercase
  // hex, so a wrap must never hand out an EDEK under any other form of
  // version: better to refuse the wrap than to make an EDEK nothing can
  // unwrap.
  vault_.AddVersion(kVaultHost, "kek-orders", InMemoryKeyVault::Rsa(),
                    "0123456789abcdefghijklmnopqrstuv");
  ASSERT_OK(kms_->AddKey(VaultKeyOptions(kKeyUrl)));
  crypto::SecretBytes dek = Dek();
  absl::StatusOr<WrappedKey> wrapped = Wrap(kKeyUrl, dek, Context("a"));
  if (wrapped.ok()) {
    absl::StatusOr<crypto::SecretBytes> unwrapped = Unwrap(*wrapped, Context("a"));
    EXPECT_OK(unwrapped) << "wrapped under version " << wrapped->key_version;
  }
}

TEST_F(AzureKmsTest, UnknownKeyIdIsKeyNotFoundWithoutARequest) {
  AddRsaKey();
  EXPECT_THAT(Wrap("https://myvault.vault.azure.net/keys/other", Dek(), Context("a")),
              HasReason(ErrorReason::kKeyNotFound));
  EXPECT_THAT(kms_->Rotate("kek-orders", CallOptions()), HasReason(ErrorReason::kKeyNotFound));
  EXPECT_EQ(requests(), 0u);
}

// --- Versions the vault does not know ---------------------------------------

// An EDEK of the configured key, changed to name a version the vault never
// made: what a caller crafting EDEKs sends.
crypto::Edek WithVersion(const WrappedKey& wrapped, absl::string_view version) {
  crypto::Edek edek = *crypto::DecodeEdek(wrapped.edek);
  edek.key_version = std::string(version);
  return edek;
}

constexpr char kMadeUp1[] = "00000000000000000000000000000001";
constexpr char kMadeUp2[] = "00000000000000000000000000000002";
constexpr char kMadeUp3[] = "00000000000000000000000000000003";

TEST_F(AzureKmsTest, AnUnknownVersionIsAskedAboutOnceWithinTheTtl) {
  AddRsaKey();
  absl::StatusOr<WrappedKey> wrapped = Wrap(kKeyUrl, Dek(), Context("a"));
  ASSERT_OK(wrapped);
  absl::StatusOr<crypto::SecretBytes> first = Unwrap(WithVersion(*wrapped, kMadeUp1), Context("a"));
  EXPECT_THAT(first, HasReason(ErrorReason::kKeyNotFound));
  EXPECT_EQ(vault_.count("unwrapkey"), 1);
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<crypto::SecretBytes> again =
        Unwrap(WithVersion(*wrapped, kMadeUp1), Context("b"));
    EXPECT_EQ(again.status(), first.status()) << "the same error, request id and all";
    EXPECT_EQ(KmsRequestIdOf(again.status()), "tiny-request");
  }
  EXPECT_EQ(vault_.count("unwrapkey"), 1) << "answered without Key Vault";

  EXPECT_THAT(Unwrap(WithVersion(*wrapped, kMadeUp2), Context("a")),
              HasReason(ErrorReason::kKeyNotFound));
  EXPECT_EQ(vault_.count("unwrapkey"), 2) << "another version is asked about";
  EXPECT_OK(Unwrap(*wrapped, Context("a"))) << "the real version is untouched";
}

TEST_F(AzureKmsTest, AnUnknownVersionIsAskedAboutAgainAfterTheTtl) {
  const absl::Duration ttl = absl::Milliseconds(200);
  AzureKmsOptions options;
  options.unknown_version_ttl = ttl;
  UseOptions(options);
  AddRsaKey();
  absl::StatusOr<WrappedKey> wrapped = Wrap(kKeyUrl, Dek(), Context("a"));
  ASSERT_OK(wrapped);
  absl::Time start = absl::Now();
  EXPECT_THAT(Unwrap(WithVersion(*wrapped, kMadeUp1), Context("a")),
              HasReason(ErrorReason::kKeyNotFound));
  EXPECT_THAT(Unwrap(WithVersion(*wrapped, kMadeUp1), Context("a")),
              HasReason(ErrorReason::kKeyNotFound));
  if (absl::Now() - start < ttl) {
    EXPECT_EQ(vault_.count("unwrapkey"), 1);
  }
  absl::SleepFor(ttl + absl::Milliseconds(50));
  EXPECT_THAT(Unwrap(WithVersion(*wrapped, kMadeUp1), Context("a")),
              HasReason(ErrorReason::kKeyNotFound));
  EXPECT_EQ(vault_.count("unwrapkey"), 2);
}

TEST_F(AzureKmsTest, UnknownVersionsAreBoundedAndOnlyNotFoundIsRemembered) {
  AzureKmsOptions options;
  options.unknown_version_max_entries = 2;
  UseOptions(options);
  AddRsaKey();
  absl::StatusOr<WrappedKey> wrapped = Wrap(kKeyUrl, Dek(), Context("a"));
  ASSERT_OK(wrapped);
  for (const char* version : {kMadeUp1, kMadeUp2, kMadeUp3}) {
    EXPECT_THAT(Unwrap(WithVersion(*wrapped, version), Context("a")),
                HasReason(ErrorReason::kKeyNotFound));
  }
  EXPECT_EQ(vault_.count("unwrapkey"), 3);
  ASSERT_THAT(Unwrap(WithVersion(*wrapped, kMadeUp3), Context("a")),
              HasReason(ErrorReason::kKeyNotFound));
  EXPECT_EQ(vault_.count("unwrapkey"), 3) << "the newest is kept";
  ASSERT_THAT(Unwrap(WithVersion(*wrapped, kMadeUp1), Context("a")),
              HasReason(ErrorReason::kKeyNotFound));
  EXPECT_EQ(vault_.count("unwrapkey"), 4) << "the oldest made room";

  // Lost access or an outage says nothing about the version: asked again.
  vault_.Fail("unwrapkey", 403, "Forbidden", "ForbiddenByRbac");
  EXPECT_THAT(Unwrap(*wrapped, Context("a")), HasReason(ErrorReason::kKeyNotAccessible));
  vault_.Fail("unwrapkey", 503, "ServiceUnavailable", "", /*count=*/-1);
  EXPECT_THAT(Unwrap(*wrapped, Context("a")), HasReason(ErrorReason::kKmsUnavailable));
  vault_.ClearFaults();
  EXPECT_OK(Unwrap(*wrapped, Context("a")));
}

TEST_F(AzureKmsTest, AZeroUnknownVersionTtlRemembersNothing) {
  AzureKmsOptions options;
  options.unknown_version_ttl = absl::ZeroDuration();
  UseOptions(options);
  vault_.AddVersion(kHsmHost, "kek-aes", InMemoryKeyVault::Aes());
  ASSERT_OK(kms_->AddKey(HsmKeyOptions(kHsmKeyUrl)));
  absl::StatusOr<WrappedKey> wrapped = Wrap(kHsmKeyUrl, Dek(), Context("a"));
  ASSERT_OK(wrapped);
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(Unwrap(WithVersion(*wrapped, kMadeUp1), Context("a")),
                HasReason(ErrorReason::kKeyNotFound));
  }
  EXPECT_EQ(vault_.count("decrypt"), 3);
}

// --- Configuration ----------------------------------------------------------

TEST_F(AzureKmsTest, TheSameUrlTwiceIsTwoAliasesOfOneKey) {
  std::string version = vault_.AddVersion(kVaultHost, "kek-orders", InMemoryKeyVault::Rsa());
  ASSERT_OK(kms_->AddKey(VaultKeyOptions(kKeyUrl)));
  ASSERT_OK(kms_->AddKey(VaultKeyOptions(kKeyUrl)));
  crypto::SecretBytes dek = Dek();
  absl::StatusOr<WrappedKey> wrapped = Wrap(kKeyUrl, dek, Context("a"));
  ASSERT_OK(wrapped);
  EXPECT_EQ(wrapped->key_version, version);
  crypto::Edek edek = *crypto::DecodeEdek(wrapped->edek);
  EXPECT_EQ(*kms_->KeyIdOf(edek), kKeyUrl);
  absl::StatusOr<crypto::SecretBytes> unwrapped = Unwrap(edek, Context("a"));
  ASSERT_OK(unwrapped);
  EXPECT_TRUE(SameBytes(*unwrapped, dek));
}

TEST_F(AzureKmsTest, TwoDifferentUrlsForOneKeyOrABadUrlAreRefused) {
  ASSERT_OK(kms_->AddKey(VaultKeyOptions(kKeyUrl)));
  EXPECT_THAT(kms_->AddKey(VaultKeyOptions("https://MyVault.vault.azure.net/keys/KEK-orders")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      kms_->AddKey(VaultKeyOptions(absl::StrCat(kKeyUrl, "/974eb8a01de843d6ad746295f85f11f3"))),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(kms_->AddKey(VaultKeyOptions("http://myvault.vault.azure.net/keys/k")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(kms_->AddKey(VaultKeyOptions("https://myvault.vault.azure.net/secrets/k")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// --- Concurrency --------------------------------------------------------------

TEST_F(AzureKmsTest, FetchesOfOtherKeysWhileOneIsInFlightDoNotConfuseIt) {
  // Current() keeps a reference to the key's fetch state across the unlocked
  // fetch; first use of many other keys meanwhile must not move it.
  AddRsaKey("kek-slow", InMemoryKeyVault::Rsa(0));
  std::vector<std::string> others;
  for (int i = 0; i < 40; ++i) {
    others.push_back(absl::StrCat("kek-", i));
    AddRsaKey(others.back(), InMemoryKeyVault::Rsa(0));
  }
  std::string slow_url = absl::StrCat("https://", kVaultHost, "/keys/kek-slow");
  vault_.BlockGets("kek-slow");
  absl::StatusOr<WrappedKey> slow_result;
  std::thread slow([&] { slow_result = Wrap(slow_url, Dek(), Context("a")); });
  ASSERT_TRUE(vault_.WaitForBlockedGet(absl::Seconds(30)));
  for (const std::string& name : others) {
    ASSERT_OK(Wrap(absl::StrCat("https://", kVaultHost, "/keys/", name), Dek(), Context("a")));
  }
  vault_.Release();
  slow.join();
  ASSERT_OK(slow_result);

  CallOptions soon;
  soon.deadline = absl::Now() + absl::Seconds(2);
  EXPECT_OK(kms_->Wrap(slow_url, Dek(), Context("a"), soon))
      << "a fetch that finished must not look in flight forever";
  EXPECT_EQ(vault_.count("get"), 41);
}

TEST_F(AzureKmsTest, ConcurrentFirstWrapsShareOneFetch) {
  AddRsaKey();
  vault_.BlockGets("kek-orders");
  std::vector<std::thread> threads;
  std::vector<absl::StatusOr<WrappedKey>> results(6);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = Wrap(kKeyUrl, Dek(), Context("a")); });
  }
  ASSERT_TRUE(vault_.WaitForBlockedGet(absl::Seconds(30)));
  absl::SleepFor(absl::Milliseconds(100));  // let the others queue up behind it
  vault_.Release();
  for (std::thread& thread : threads) thread.join();
  for (const absl::StatusOr<WrappedKey>& result : results) EXPECT_OK(result);
  EXPECT_EQ(vault_.count("get"), 1);
}

// --- Cancellation -------------------------------------------------------------

// A vault whose first GET hangs until Release() and then fails with
// `first_answer`: as a RetryingHttpClient does when its caller cancels, or
// as the transport does when the caller's deadline passes; later requests
// reach `vault`.
class FirstGetCutShortHttpClient : public HttpClient {
 public:
  explicit FirstGetCutShortHttpClient(InMemoryKeyVault* vault,
                                      absl::Status first_answer = CallerCancelled())
      : vault_(vault->Handler()), first_answer_(std::move(first_answer)) {}

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request, absl::Time) override {
    {
      absl::MutexLock lock(&mu_);
      if (!first_sent_) {
        first_sent_ = true;
        mu_.Await(absl::Condition(&released_));
        return first_answer_;
      }
    }
    return vault_(request);
  }
  bool WaitForFirst() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&first_sent_), absl::Seconds(30));
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }

 private:
  FakeHttpClient::Handler vault_;
  const absl::Status first_answer_;
  absl::Mutex mu_;
  bool first_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

TEST_F(AzureKmsTest, ACancelledFetchFailsOnlyItsOwnCaller) {
  vault_.AddVersion(kVaultHost, "kek-orders", InMemoryKeyVault::Rsa());
  FirstGetCutShortHttpClient http(&vault_);
  KeyVaultClient client(&http);
  AzureKms kms(&client, absl::Minutes(10));
  ASSERT_OK(kms.AddKey(VaultKeyOptions(kKeyUrl)));

  absl::StatusOr<WrappedKey> cancelled_result;
  std::thread fetcher([&] { cancelled_result = kms.Wrap(kKeyUrl, Dek(), Context("a"), {}); });
  ASSERT_TRUE(http.WaitForFirst());
  std::vector<absl::StatusOr<WrappedKey>> results(3);
  std::vector<std::thread> waiters;
  for (size_t i = 0; i < results.size(); ++i) {
    waiters.emplace_back([&, i] { results[i] = kms.Wrap(kKeyUrl, Dek(), Context("a"), {}); });
  }
  absl::SleepFor(absl::Milliseconds(100));  // let them queue up behind the fetch
  http.Release();
  fetcher.join();
  for (std::thread& waiter : waiters) waiter.join();

  EXPECT_THAT(cancelled_result, StatusIs(absl::StatusCode::kCancelled));
  for (const absl::StatusOr<WrappedKey>& result : results) EXPECT_OK(result);
  EXPECT_EQ(vault_.count("get"), 1) << "one of the waiters fetched, for all of them";
}

// The caller's deadline says nothing about the key either: the calls that
// waited for that fetch are not failed with another caller's deadline.
TEST_F(AzureKmsTest, AFetchCutShortByItsCallersDeadlineFailsOnlyThatCaller) {
  vault_.AddVersion(kVaultHost, "kek-orders", InMemoryKeyVault::Rsa());
  FirstGetCutShortHttpClient http(&vault_,
                                  absl::DeadlineExceededError("deadline exceeded waiting for v"));
  KeyVaultClient client(&http);
  AzureKms kms(&client, absl::Minutes(10));
  ASSERT_OK(kms.AddKey(VaultKeyOptions(kKeyUrl)));

  absl::StatusOr<WrappedKey> late;
  std::thread fetcher([&] { late = kms.Wrap(kKeyUrl, Dek(), Context("a"), {}); });
  ASSERT_TRUE(http.WaitForFirst());
  std::vector<absl::StatusOr<WrappedKey>> results(3);
  std::vector<std::thread> waiters;
  for (size_t i = 0; i < results.size(); ++i) {
    waiters.emplace_back([&, i] { results[i] = kms.Wrap(kKeyUrl, Dek(), Context("a"), {}); });
  }
  absl::SleepFor(absl::Milliseconds(100));  // let them queue up behind the fetch
  http.Release();
  fetcher.join();
  for (std::thread& waiter : waiters) waiter.join();

  EXPECT_THAT(late, HasReason(ErrorReason::kDeadlineExceeded));
  for (const absl::StatusOr<WrappedKey>& result : results) EXPECT_OK(result);
  EXPECT_EQ(vault_.count("get"), 1) << "one of the waiters fetched, for all of them";
}

TEST_F(AzureKmsTest, ACancelledCallStopsWaitingForAnotherCallsFetch) {
  AddRsaKey();
  vault_.BlockGets("kek-orders");
  absl::StatusOr<WrappedKey> first;
  std::thread fetcher([&] { first = Wrap(kKeyUrl, Dek(), Context("a")); });
  ASSERT_TRUE(vault_.WaitForBlockedGet(absl::Seconds(30)));
  const absl::Time start = absl::Now();
  CallOptions options;
  options.cancelled = [start] { return absl::Now() - start >= absl::Milliseconds(200); };

  EXPECT_THAT(kms_->Wrap(kKeyUrl, Dek(), Context("a"), options),
              StatusIs(absl::StatusCode::kCancelled, "the caller cancelled the call"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));

  vault_.Release();
  fetcher.join();
  EXPECT_OK(first);
}

}  // namespace
}  // namespace keybroker::kms::azure
