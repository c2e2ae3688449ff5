// ResourceProtector, IdentityOf/ResourceAad and FhirError over an in-memory
// DEK source: round trips, the AAD encoding byte for byte, resources without
// their identity refused, blobs replayed elsewhere refused, and broker
// reasons rendered as the FHIR answers the header promises (a revoked key
// and a caller the broker's policy refuses as two different 403s).
#include "keybroker/sdk/fhir/resource_protector.h"

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keybroker/sdk/ciphertext_info.h"
#include "keybroker/sdk/fhir/fhir_error.h"
#include "tests/fakes/fake_dek_source.h"
#include "tests/testing/status_matchers.h"

namespace keybroker::sdk::fhir {
namespace {

using ::testing::HasSubstr;

constexpr char kPatient[] =
    R"({"resourceType":"Patient","id":"p1","meta":{"versionId":"1"},"name":[{"family":"Doe"}]})";

class ResourceProtectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto encryptor = Encryptor::Create(&source_, EncryptorOptions{});
    ASSERT_OK(encryptor);
    encryptor_ = *std::move(encryptor);
    auto protector = ResourceProtector::Create(
        encryptor_.get(), [](absl::string_view account) -> absl::StatusOr<std::string> {
          if (account == "nobody") return absl::NotFoundError("account nobody not found");
          return std::string("key-") + std::string(account);
        });
    ASSERT_OK(protector);
    protector_ = *std::move(protector);
  }

  // Seals kPatient for account acme, then makes the broker answer `failure`
  // and returns what a protector without cached DEKs gets from Protect and
  // from Unprotect of that blob.
  std::vector<absl::Status> ProtectAndUnprotectFailingWith(absl::Status failure) {
    auto sealed = protector_->Protect("acme", kPatient);
    EXPECT_OK(sealed);
    source_.FailWith(std::move(failure));
    auto fresh = Encryptor::Create(&source_, EncryptorOptions{});
    EXPECT_OK(fresh);
    if (!sealed.ok() || !fresh.ok()) return {};
    auto protector = ResourceProtector::Create(
        fresh->get(), [](absl::string_view) -> absl::StatusOr<std::string> { return "k"; });
    EXPECT_OK(protector);
    if (!protector.ok()) return {};
    return {(*protector)->Protect("acme", kPatient).status(),
            (*protector)->Unprotect("acme", "Patient", "p1", "1", sealed->blob).status()};
  }

  testing::FakeDekSource source_;
  std::unique_ptr<Encryptor> encryptor_;
  std::unique_ptr<ResourceProtector> protector_;
};

TEST_F(ResourceProtectorTest, RoundTripsUnderTheSameIdentityOnly) {
  auto sealed = protector_->Protect("acme", kPatient);
  ASSERT_OK(sealed);
  EXPECT_EQ(sealed->identity, (ResourceIdentity{"Patient", "p1", "1"}));
  EXPECT_EQ(sealed->blob.find("Doe"), std::string::npos);
  auto opened = protector_->Unprotect("acme", "Patient", "p1", "1", sealed->blob);
  ASSERT_OK(opened);
  EXPECT_EQ(*opened, kPatient);

  for (auto [account, type, id, version] :
       std::vector<std::array<const char*, 4>>{{"other", "Patient", "p1", "1"},
                                               {"acme", "Observation", "p1", "1"},
                                               {"acme", "Patient", "p2", "1"},
                                               {"acme", "Patient", "p1", "2"}}) {
    absl::Status replayed =
        protector_->Unprotect(account, type, id, version, sealed->blob).status();
    EXPECT_EQ(ReasonOf(replayed), ErrorReason::kEdekInvalid) << account << type << id << version;
    EXPECT_EQ(FhirError::FromStatus(replayed).http_status, 500);
  }
}

TEST_F(ResourceProtectorTest, ResealMovesABlobToTheDekInUseNowUnderTheSameIdentity) {
  auto sealed = protector_->Protect("acme", kPatient);
  ASSERT_OK(sealed);
  // A later process (after a rotation): a fresh Encryptor gets a new DEK,
  // which the fake source names with the next version.
  auto fresh = Encryptor::Create(&source_, EncryptorOptions{});
  ASSERT_OK(fresh);
  auto later = ResourceProtector::Create(
      fresh->get(), [](absl::string_view) -> absl::StatusOr<std::string> { return "key-acme"; });
  ASSERT_OK(later);
  auto resealed = (*later)->Reseal("acme", sealed->identity, sealed->blob);
  ASSERT_OK(resealed);
  auto sealing = (*later)->SealingKey("acme");
  ASSERT_OK(sealing);
  EXPECT_EQ(sealing->key_name, "key-acme");
  EXPECT_EQ(sealing->key_version, "2") << "the DEK the re-sealed blob is under";
  auto before = InspectCiphertext(sealed->blob);
  auto after = InspectCiphertext(*resealed);
  ASSERT_OK(before);
  ASSERT_OK(after);
  EXPECT_EQ(before->key_version, "1");
  EXPECT_EQ(after->key_version, "2");
  auto opened = (*later)->Unprotect("acme", "Patient", "p1", "1", *resealed);
  ASSERT_OK(opened);
  EXPECT_EQ(*opened, kPatient);
  EXPECT_EQ(ReasonOf((*later)->Unprotect("acme", "Patient", "p1", "2", *resealed).status()),
            ErrorReason::kEdekInvalid)
      << "the identity is still bound";

  // A blob presented under another identity is refused, not re-sealed there.
  absl::StatusOr<std::string> moved =
      (*later)->Reseal("acme", ResourceIdentity{"Patient", "p2", "1"}, sealed->blob);
  EXPECT_EQ(ReasonOf(moved.status()), ErrorReason::kEdekInvalid);
}

TEST_F(ResourceProtectorTest, AadIsLabelThenFourLengthPrefixedFields) {
  std::string aad = ResourceAad("ab", {"P", "", "xyz"});
  std::string expected = std::string("keybroker-fhir-aad-v1") + std::string("\0\0\0\2ab", 6) +
                         std::string("\0\0\0\1P", 5) + std::string("\0\0\0\0", 4) +
                         std::string("\0\0\0\3xyz", 7);
  EXPECT_EQ(aad, expected);
  EXPECT_NE(ResourceAad("a", {"bP", "1", "1"}), ResourceAad("ab", {"P", "1", "1"}));
}

TEST_F(ResourceProtectorTest, ResourcesWithoutTheirIdentityAreRefusedAs400) {
  for (const char* bad : {"not json", "[1]", R"({"id":"p1","meta":{"versionId":"1"}})",
                          R"({"resourceType":"Patient","meta":{"versionId":"1"}})",
                          R"({"resourceType":"Patient","id":"p1"})",
                          R"({"resourceType":"Patient","id":"p1","meta":{"versionId":1}})",
                          R"({"resourceType":"Patient","id":"","meta":{"versionId":"1"}})"}) {
    absl::Status status = protector_->Protect("acme", bad).status();
    EXPECT_EQ(ReasonOf(status), ErrorReason::kInvalidRequest) << bad;
    FhirError error = FhirError::FromStatus(status);
    EXPECT_EQ(error.http_status, 400);
    EXPECT_EQ(error.code, "invalid");
  }
  EXPECT_THAT(protector_->Protect("acme", R"({"resourceType":"Patient","id":"p1"})").status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("meta.versionId")));
  EXPECT_EQ(FhirError::FromStatus(protector_->Protect("nobody", kPatient).status()).http_status,
            404);
}

TEST_F(ResourceProtectorTest, KeyNotAccessibleIsThe403OperationOutcome) {
  for (const absl::Status& status :
       ProtectAndUnprotectFailingWith(MakeError(ErrorReason::kKeyNotAccessible, "vault said 403"))) {
    FhirError error = FhirError::FromStatus(status);
    EXPECT_EQ(error.http_status, 403);
    EXPECT_EQ(error.OperationOutcomeJson(),
              R"({"resourceType":"OperationOutcome","issue":[{"severity":"error",)"
              R"("code":"forbidden","diagnostics":"Customer-managed key is not accessible."}]})");
  }
}

TEST_F(ResourceProtectorTest, CallerNotAuthorizedIsA403ApartFromARevokedKey) {
  FhirError revoked = FhirError::FromStatus(MakeError(ErrorReason::kKeyNotAccessible, "x"));
  for (const absl::Status& status : ProtectAndUnprotectFailingWith(
           MakeError(ErrorReason::kCallerNotAuthorized, "caller may not use key-acme"))) {
    FhirError error = FhirError::FromStatus(status);
    EXPECT_EQ(error.http_status, 403);
    EXPECT_EQ(error.OperationOutcomeJson(),
              R"({"resourceType":"OperationOutcome","issue":[{"severity":"error",)"
              R"("code":"security","diagnostics":)"
              R"("This service is not authorized to use the account's key."}]})");
    EXPECT_NE(error.code, revoked.code);
    EXPECT_NE(error.diagnostics, revoked.diagnostics);
    EXPECT_THAT(error.diagnostics, ::testing::Not(HasSubstr("key-acme"))) << "no broker detail";
  }
}

TEST(FhirErrorTest, OtherFailuresMapToTheDocumentedAnswers) {
  EXPECT_EQ(FhirError::FromStatus(absl::UnavailableError("down")).http_status, 503);
  // A broker replica behind on a keyring rollout: retry, not a fault of ours.
  FhirError behind =
      FhirError::FromStatus(MakeError(ErrorReason::kKeyVersionNotYetLoaded, "version 3"));
  EXPECT_EQ(behind.http_status, 503);
  EXPECT_EQ(behind.code, "transient");
  EXPECT_EQ(FhirError::FromStatus(CallerDeadlineExceeded("slow vault")).http_status, 503);
  EXPECT_EQ(FhirError::FromStatus(MakeError(ErrorReason::kKmsThrottled, "x")).http_status, 429);
  EXPECT_EQ(FhirError::FromStatus(MakeError(ErrorReason::kKeyDisabled, "x")).http_status, 403);
  absl::Status unknown_alias = KeyNotFound("alias k");
  MarkAliasNotConfigured(unknown_alias);
  EXPECT_EQ(FhirError::FromStatus(unknown_alias).http_status, 500) << "our configuration";
  FhirError deleted_key = FhirError::FromStatus(KeyNotFound("key deleted in the vault"));
  EXPECT_EQ(deleted_key.http_status, 403) << "the customer's key is gone: lost access";
  EXPECT_EQ(deleted_key.diagnostics, "Customer-managed key is not accessible.");
  FhirError internal = FhirError::FromStatus(Internal("secret detail"));
  EXPECT_EQ(internal.http_status, 500);
  EXPECT_EQ(internal.code, "exception");
  EXPECT_THAT(internal.diagnostics, ::testing::Not(HasSubstr("secret")));
  EXPECT_EQ(FhirError::FromStatus(absl::AlreadyExistsError("v1 exists")).http_status, 409);
}

}  // namespace
}  // namespace keybroker::sdk::fhir
