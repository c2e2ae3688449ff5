# Client sources: the typed stub wrapper, its channel, its one translation
# of gRPC errors, and the WatchKeys stream with its reconnect backoff.
# Packaging (install, find_package, pkg-config) is in packaging.cmake,
# included from the top-level CMakeLists.txt once every target it installs
# exists.
list(APPEND sdk_sources
  ${CMAKE_CURRENT_SOURCE_DIR}/src/client.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/channel.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/grpc_status.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/grpc_key_watch.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/reconnect_backoff.cc
)
