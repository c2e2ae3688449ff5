# The FHIR BYOK scenarios: examples/fhir_store against the real broker and the
# Key Vault emulator (fhir_store_test.cc). The test reads the store's SQLite
# file itself to show what is at rest.
if(TARGET fhir_store)
  find_package(SQLite3 REQUIRED)
  keybroker_test(fhir_store_test SOURCES fhir_store_test.cc
    LIBS keybroker_integration_testing keybroker_sdk SQLite::SQLite3)
  add_dependencies(fhir_store_test keybroker fhir_store)
endif()
