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
# and, when they are built, the optional libraries on top of it:
#
#   kafka  include/keybroker/sdk/kafka/*.h, libkeybroker_sdk_kafka.a,
#          find_package(keybroker_sdk CONFIG COMPONENTS kafka) -> keybroker::sdk_kafka,
#          pkg-config keybroker-sdk-kafka
#   fhir   include/keybroker/sdk/fhir/*.h, libkeybroker_sdk_fhir.a,
#          find_package(keybroker_sdk CONFIG COMPONENTS fhir) -> keybroker::sdk_fhir,
#          pkg-config keybroker-sdk-fhir
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
set(sdk_components)  # the optional libraries that are built: kafka, fhir
foreach(component kafka fhir)
  if(TARGET keybroker_sdk_${component})
    list(APPEND sdk_components ${component})
  endif()
endforeach()
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
foreach(component IN LISTS sdk_components)
  file(GLOB component_headers CONFIGURE_DEPENDS
    RELATIVE ${PROJECT_SOURCE_DIR}/client_sdk/${component}/include
    ${PROJECT_SOURCE_DIR}/client_sdk/${component}/include/keybroker/sdk/${component}/*.h)
  set(sdk_${component}_headers ${component_headers})
endforeach()
set(sdk_installed_headers ${sdk_public_headers})
foreach(component IN LISTS sdk_components)
  list(APPEND sdk_installed_headers ${sdk_${component}_headers})
endforeach()
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
foreach(component IN LISTS sdk_components)
  foreach(header IN LISTS sdk_${component}_headers)
    keybroker_stage_sdk_header(${PROJECT_SOURCE_DIR}/client_sdk/${component}/include/${header}
                               ${sdk_staging_dir}/${header})
  endforeach()
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
# Each optional library has its own export set; the package config loads it
# when the component is asked for (keybroker_sdkConfig.cmake.in).
foreach(component IN LISTS sdk_components)
  set_target_properties(keybroker_sdk_${component} PROPERTIES EXPORT_NAME sdk_${component})
  install(TARGETS keybroker_sdk_${component} EXPORT keybroker_sdk_${component}_targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT keybroker_sdk_${component}_targets NAMESPACE keybroker::
    FILE keybroker_sdk_${component}Targets.cmake DESTINATION ${sdk_cmake_dir} COMPONENT sdk)
endforeach()
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
  elseif(link STREQUAL "PkgConfig::RDKAFKA")
    set(name rdkafka++)
  elseif(link STREQUAL "nlohmann_json::nlohmann_json")
    set(name nlohmann_json)
  elseif(link IN_LIST sdk_libraries)
    set(name keybroker-sdk)  # from an optional library
  elseif(link MATCHES "^keybroker_")
    message(FATAL_ERROR "the SDK links ${link}, which the SDK does not install")
  else()
    message(FATAL_ERROR "the SDK links ${link}, which has no pkg-config name: "
      "add one in ${CMAKE_CURRENT_FUNCTION_LIST_FILE}")
  endif()
  set(${out} ${name} PARENT_SCOPE)
endfunction()

if(IS_ABSOLUTE ${CMAKE_INSTALL_LIBDIR} OR IS_ABSOLUTE ${CMAKE_INSTALL_INCLUDEDIR})
  message(FATAL_ERROR "keybroker-sdk.pc needs CMAKE_INSTALL_LIBDIR and "
    "CMAKE_INSTALL_INCLUDEDIR relative to the prefix")
endif()
# From <prefix>/<libdir>/pkgconfig back up to <prefix>, one ".." per level.
string(REGEX REPLACE "[^/]+" ".." KEYBROKER_PC_PREFIX_FROM_PCFILEDIR
  "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
set(KEYBROKER_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
set(KEYBROKER_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")

# Writes and installs NAME.pc for the static `libraries` (in link order).
function(keybroker_sdk_pc_file name description)
  set(libraries ${ARGN})
  set(pc_requires)
  set(pc_libs)
  foreach(library IN LISTS libraries)
    list(APPEND pc_libs -l${library})
    get_target_property(links ${library} LINK_LIBRARIES)
    if(NOT links)
      set(links "")
    endif()
    foreach(link IN LISTS links)
      if(link MATCHES "^\\$<BUILD_INTERFACE:" OR link IN_LIST libraries)
        continue()
      endif()
      keybroker_pc_name(${link} pc_name)
      list(APPEND pc_requires ${pc_name})
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES pc_requires)
  set(KEYBROKER_PC_NAME ${name})
  set(KEYBROKER_PC_DESCRIPTION ${description})
  list(JOIN pc_requires " " KEYBROKER_PC_REQUIRES)
  list(JOIN pc_libs " " KEYBROKER_PC_LIBS)
  configure_file(${PROJECT_SOURCE_DIR}/client_sdk/keybroker-sdk.pc.in
    ${PROJECT_BINARY_DIR}/client_sdk/${name}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/client_sdk/${name}.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT sdk)
endfunction()

keybroker_sdk_pc_file(keybroker-sdk
  "keybroker client SDK: envelope encryption with DEKs from a keybroker" ${sdk_libraries})
if(kafka IN_LIST sdk_components)
  keybroker_sdk_pc_file(keybroker-sdk-kafka
    "keybroker client SDK: encrypting Kafka producer and decrypting consumer (librdkafka)"
    keybroker_sdk_kafka)
endif()
if(fhir IN_LIST sdk_components)
  keybroker_sdk_pc_file(keybroker-sdk-fhir
    "keybroker client SDK: FHIR resource protection and account provisioning"
    keybroker_sdk_fhir)
endif()
