# (transport sources are listed here)
list(APPEND azure_sources ${CMAKE_CURRENT_SOURCE_DIR}/http_response.cc)
