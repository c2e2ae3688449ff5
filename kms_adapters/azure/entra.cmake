# Entra ID credentials and the token cache (kms_adapters/azure/entra/).
list(APPEND azure_sources
  ${CMAKE_CURRENT_SOURCE_DIR}/entra/clock.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/entra/token_response.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/entra/token_endpoint.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/entra/client_assertion.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/entra/credential_files.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/entra/client_secret_credential.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/entra/client_certificate_credential.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/entra/workload_identity_credential.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/entra/managed_identity_credential.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/entra/token_cache.cc
)
