list(APPEND azure_sources
  ${CMAKE_CURRENT_SOURCE_DIR}/key_id.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/error_text.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/key_vault_errors.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/key_vault_client.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/key_version_list.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/unknown_version_cache.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/azure_kms.cc
)
