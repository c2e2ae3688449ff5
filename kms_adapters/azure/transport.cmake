# HTTP transport: the cpprestsdk client, its retry and per-vault concurrency
# decorators, URL helpers.
list(APPEND azure_sources
  ${CMAKE_CURRENT_SOURCE_DIR}/http_response.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/url.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/cpprest_http_client.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/retrying_http_client.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/concurrency_limited_http_client.cc
)

