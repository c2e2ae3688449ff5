// fhir_check: builds against the installed keybroker_sdk_fhir (component
// fhir / pkg-config keybroker-sdk-fhir) and checks that it runs. Needs no
// keybroker: a ResourceProtector over a DEK source whose broker is down reads
// the resource's identity and AAD, and its failure renders as a FHIR 503.
// Prints "OK".
#include <cstdio>
#include <memory>
#include <string>

#include "keybroker/sdk/fhir/fhir_error.h"
#include "keybroker/sdk/fhir/resource_identity.h"
#include "keybroker/sdk/fhir/resource_protector.h"
#include "no_broker.h"

int main() {
  namespace fhir = keybroker::sdk::fhir;
  const std::string patient =
      R"({"resourceType":"Patient","id":"p1","meta":{"versionId":"1"}})";
  absl::StatusOr<fhir::ResourceIdentity> identity = fhir::IdentityOf(patient);
  if (!identity.ok() || identity->resource_type != "Patient" || identity->id != "p1" ||
      identity->version_id != "1") {
    return Fail("IdentityOf did not read Patient/p1/_history/1");
  }
  if (fhir::ResourceAad("acme", *identity).rfind("keybroker-fhir-aad-v1", 0) != 0) {
    return Fail("ResourceAad lacks its domain label");
  }

  NoBroker source;
  absl::StatusOr<std::unique_ptr<keybroker::sdk::Encryptor>> encryptor =
      keybroker::sdk::Encryptor::Create(&source, {});
  if (!encryptor.ok()) return Fail("Encryptor::Create failed");
  absl::StatusOr<std::unique_ptr<fhir::ResourceProtector>> protector =
      fhir::ResourceProtector::Create(
          encryptor->get(),
          [](absl::string_view) -> absl::StatusOr<std::string> { return "kek-acme"; });
  if (!protector.ok()) return Fail("ResourceProtector::Create failed");
  absl::StatusOr<fhir::ProtectedResource> blob = (*protector)->Protect("acme", patient);
  if (blob.ok() || fhir::FhirError::FromStatus(blob.status()).http_status != 503) {
    return Fail("Protect without a broker did not fail as a FHIR 503");
  }
  std::printf("OK\n");
  return 0;
}
