# HTTP transport tests. cpprest_http_client_test runs the real transport over
# TLS against tiny_https_server.py (Debian's /usr/bin/python3, stdlib only).
keybroker_test(url_test SOURCES url_test.cc LIBS keybroker_kms_azure)
keybroker_test(cpprest_http_client_test
  SOURCES cpprest_http_client_test.cc tiny_https_server.cc LIBS keybroker_kms_azure)
target_compile_definitions(cpprest_http_client_test PRIVATE
  KEYBROKER_TINY_HTTPS_SERVER_PY="${CMAKE_CURRENT_SOURCE_DIR}/tiny_https_server.py")
keybroker_test(retrying_http_client_test
  SOURCES retrying_http_client_test.cc LIBS keybroker_kms_azure TSAN)
keybroker_test(concurrency_limited_http_client_test
  SOURCES concurrency_limited_http_client_test.cc LIBS keybroker_kms_azure TSAN)
