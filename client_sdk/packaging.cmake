# Installs the client SDK so that other projects can build against it:
#
#   <prefix>/include/keybroker/sdk/*.h              the public headers
#   <prefix>/include/keybroker/crypto/secret_bytes.h   repo headers they include,
#   <prefix>/include/keybroker/common/error_reason.h   moved under keybroker/
#   <prefix>/<libdir>/libkeybroker_{sdk,proto,crypto,common}.a
#   <prefix>/<libdir>/cmake/keybroker_sdk/          find_package(keybroker_sdk CONFIG)
#                                                   -> target keybroker::sdk
#   <prefix>/<libdir>/pkgconfig/keybroker-sdk.pc    pkg-config keybroker-sdk
#
# Inside this tree the repo headers are included as "crypto/..." and
# "common/..."; installed, everything lives under the one directory
# keybroker/, so the copies of the headers get their includes rewritten.
# Every quoted include of an installed header must be Abseil's or another
# installed header: a public header that starts including more of the repo
# fails the configure step until that header is added to
# sdk_installed_repo_headers (or kept out of the public API).
#
# Everything is in install component "sdk": cmake --install BUILD --component sdk.
# Included from the top-level CMakeLists.txt, after the targets exist.
include(CMakePackageConfigHelpers)

set(sdk_libraries keybroker_sdk keybroker_proto keybroker_crypto keybroker_common)  # link order
set(sdk_installed_repo_headers crypto/secret_bytes.h common/error_reason.h)
set(sdk_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/keybroker_sdk)
set(sdk_staging_dir ${PROJECT_BINARY_DIR}/client_sdk/installed_include)

# The public headers use C++17 (nested namespaces).
target_compile_features(keybroker_sdk INTERFACE cxx_std_17)
foreach(library IN LISTS sdk_libraries)
  string(REGEX REPLACE "^keybroker_" "" export_name ${library})
  set_target_properties(${library} PROPERTIES EXPORT_NAME ${export_name})  # keybroker::sdk...
endforeach()

# --- headers ---------------------------------------------------------------
file(GLOB sdk_public_headers CONFIGURE_DEPENDS
  RELATIVE ${PROJECT_SOURCE_DIR}/client_sdk/include
  ${PROJECT_SOURCE_DIR}/client_sdk/include/keybroker/sdk/*.h)
set(sdk_installed_headers ${sdk_public_headers})
foreach(header IN LISTS sdk_installed_repo_headers)
  list(APPEND sdk_installed_headers keybroker/${header})
endforeach()

# Copies `source` to `staged` with the repo's includes moved under keybroker/,
# checking that each quoted include is one the installed tree has.
function(keybroker_stage_sdk_header source staged)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${source})
  file(READ ${source} text)
  string(REGEX REPLACE "#include \"(crypto|common)/" "#include \"keybroker/\\1/" text "${text}")
  string(REGEX MATCHALL "#include \"[^\"]+\"" includes "${text}")
  foreach(include IN LISTS includes)
    string(REGEX REPLACE "^#include \"(.*)\"$" "\\1" included "${include}")
    if(NOT included MATCHES "^absl/" AND NOT included IN_LIST sdk_installed_headers)
      message(FATAL_ERROR "${source} includes \"${included}\", which the installed SDK "
        "does not have: add it to sdk_installed_repo_headers in "
        "${CMAKE_CURRENT_FUNCTION_LIST_FILE} or keep it out of the public headers")
    endif()
  endforeach()
  set(old_text "")
  if(EXISTS ${staged})
    file(READ ${staged} old_text)
  endif()
  if(NOT old_text STREQUAL text)  # keeps `cmake --install` quiet about unchanged files
    file(WRITE ${staged} "${text}")
  endif()
endfunction()

foreach(header IN LISTS sdk_public_headers)
  keybroker_stage_sdk_header(${PROJECT_SOURCE_DIR}/client_sdk/include/${header}
                             ${sdk_staging_dir}/${header})
endforeach()
foreach(header IN LISTS sdk_installed_repo_headers)
  keybroker_stage_sdk_header(${PROJECT_SOURCE_DIR}/${header}
                             ${sdk_staging_dir}/keybroker/${header})
endforeach()
install(DIRECTORY ${sdk_staging_dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT sdk)

# --- libraries and find_package ---------------------------------------------
install(TARGETS ${sdk_libraries} EXPORT keybroker_sdk_targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT keybroker_sdk_targets NAMESPACE keybroker::
  FILE keybroker_sdkTargets.cmake DESTINATION ${sdk_cmake_dir} COMPONENT sdk)
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/keybroker_sdkConfig.cmake.in
  ${PROJECT_BINARY_DIR}/client_sdk/keybroker_sdkConfig.cmake
  INSTALL_DESTINATION ${sdk_cmake_dir})
# 0.x: a minor version may break the API.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/client_sdk/keybroker_sdkConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/client_sdk/keybroker_sdkConfig.cmake
  ${PROJECT_BINARY_DIR}/client_sdk/keybroker_sdkConfigVersion.cmake
  DESTINATION ${sdk_cmake_dir} COMPONENT sdk)

# --- pkg-config ---------------------------------------------------------------
# Requires is derived from what the libraries link, so that a dependency added
# in CMake cannot be forgotten here. The libraries are static: their private
# dependencies are needed to link too.
function(keybroker_pc_name link out)
  if(link MATCHES "^absl::(.+)$")
    set(name absl_${CMAKE_MATCH_1})
  elseif(link STREQUAL "gRPC::grpc++")
    set(name grpc++)
  elseif(link STREQUAL "protobuf::libprotobuf")
    set(name protobuf)
  elseif(link STREQUAL "OpenSSL::Crypto")
    set(name libcrypto)
  else()
    message(FATAL_ERROR "the SDK links ${link}, which has no pkg-config name: "
      "add one in ${CMAKE_CURRENT_FUNCTION_LIST_FILE}")
  endif()
  set(${out} ${name} PARENT_SCOPE)
endfunction()

set(pc_requires)
set(pc_libs)
foreach(library IN LISTS sdk_libraries)
  list(APPEND pc_libs -l${library})
  get_target_property(links ${library} LINK_LIBRARIES)
  if(NOT links)
    set(links "")
  endif()
  foreach(link IN LISTS links)
    if(link MATCHES "^\\$<BUILD_INTERFACE:" OR link IN_LIST sdk_libraries)
      continue()
    elseif(link MATCHES "^keybroker_")
      message(FATAL_ERROR "${library} links ${link}, which the SDK does not install")
    endif()
    keybroker_pc_name(${link} name)
    list(APPEND pc_requires ${name})
  endforeach()
endforeach()
list(REMOVE_DUPLICATES pc_requires)
list(JOIN pc_requires " " KEYBROKER_PC_REQUIRES)
list(JOIN pc_libs " " KEYBROKER_PC_LIBS)

if(IS_ABSOLUTE ${CMAKE_INSTALL_LIBDIR} OR IS_ABSOLUTE ${CMAKE_INSTALL_INCLUDEDIR})
  message(FATAL_ERROR "keybroker-sdk.pc needs CMAKE_INSTALL_LIBDIR and "
    "CMAKE_INSTALL_INCLUDEDIR relative to the prefix")
endif()
# From <prefix>/<libdir>/pkgconfig back up to <prefix>, one ".." per level.
string(REGEX REPLACE "[^/]+" ".." KEYBROKER_PC_PREFIX_FROM_PCFILEDIR
  "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
set(KEYBROKER_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
set(KEYBROKER_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/keybroker-sdk.pc.in
  ${PROJECT_BINARY_DIR}/client_sdk/keybroker-sdk.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/client_sdk/keybroker-sdk.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT sdk)
