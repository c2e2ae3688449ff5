# Client sources: the typed stub wrapper, its channel, its one translation
# of gRPC errors, and the WatchKeys stream (its reconnect backoff is with
# the Encryptor's sources: background DEK fetches use WaitAfter too).
# Packaging (install, find_package, pkg-config) is in packaging.cmake,
# included from the top-level CMakeLists.txt once every target it installs
# exists.
list(APPEND sdk_sources
  ${CMAKE_CURRENT_SOURCE_DIR}/src/client.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/channel.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/grpc_status.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/grpc_key_watch.cc
)
