# Encryptor sources: the ciphertext format, DEK budgets with background
# refresh (waiting as reconnect_backoff says after a failure), the
# decrypt-side cache, and the Encryptor that ties them together.
list(APPEND sdk_sources
  ${CMAKE_CURRENT_LIST_DIR}/src/clock.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/ciphertext_format.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/ciphertext_info.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/encryption_keys.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/encryption_leases.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/reconnect_backoff.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/decrypt_cache.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/encryptor.cc
)
