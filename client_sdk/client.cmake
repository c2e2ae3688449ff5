# Client sources: the typed stub wrapper, its channel and its one translation
# of gRPC errors. Packaging (install, find_package, pkg-config) is in
# packaging.cmake, included from the top-level CMakeLists.txt once every
# target it installs exists.
list(APPEND sdk_sources
  ${CMAKE_CURRENT_SOURCE_DIR}/src/client.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/channel.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/grpc_status.cc
)
