# encryptor tests
keybroker_test(ciphertext_format_test SOURCES ciphertext_format_test.cc LIBS keybroker_sdk)
keybroker_test(decrypt_cache_test SOURCES decrypt_cache_test.cc LIBS keybroker_sdk TSAN)
keybroker_test(encryption_keys_test SOURCES encryption_keys_test.cc LIBS keybroker_sdk TSAN)
keybroker_test(encryption_leases_test SOURCES encryption_leases_test.cc LIBS keybroker_sdk TSAN)
keybroker_test(encryptor_test SOURCES encryptor_test.cc LIBS keybroker_sdk TSAN)
# Key events: from a fake source (TSAN), and over the real Client from a
# scripted broker in the test process (gRPC: not TSAN).
keybroker_test(encryptor_key_events_test SOURCES encryptor_key_events_test.cc
  LIBS keybroker_sdk TSAN)
keybroker_test(encryptor_watch_test SOURCES encryptor_watch_test.cc
  LIBS keybroker_sdk keybroker_server_lib)

# The independent decoder: ciphertext_decoder.py (Python, Debian's
# python3-cryptography), written from docs/ciphertext-format.md alone, reads
# SDK ciphertexts and writes ones the SDK reads.
find_program(SYSTEM_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH REQUIRED)
keybroker_test(ciphertext_interop_test SOURCES ciphertext_interop_test.cc LIBS keybroker_sdk)
target_compile_definitions(ciphertext_interop_test PRIVATE
  KEYBROKER_SYSTEM_PYTHON3="${SYSTEM_PYTHON3}"
  KEYBROKER_CIPHERTEXT_DECODER="${CMAKE_CURRENT_SOURCE_DIR}/ciphertext_decoder.py")
