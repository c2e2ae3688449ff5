# FHIR data layer tests (client_sdk/fhir) over an in-memory DEK source.
keybroker_test(resource_protector_test SOURCES fhir/resource_protector_test.cc
  LIBS keybroker_sdk_fhir)
