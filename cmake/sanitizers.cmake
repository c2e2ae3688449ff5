# KEYBROKER_SANITIZE builds the project's own targets (never the Debian
# libraries they link) with clang's sanitizers:
#   -DKEYBROKER_SANITIZE=address,undefined   AddressSanitizer + LeakSanitizer + UBSan
#   -DKEYBROKER_SANITIZE=thread              ThreadSanitizer
# Every finding stops the process: UBSan does not recover
# (-fno-sanitize-recover=all) and each executable of the project carries its
# runtime options (sanitizer_defaults.cc), so a child process started by a test
# (the broker, keybrokerctl, an example) fails the same way as the test itself.
# README.md, "Sanitizers", says what each build covers.
set(KEYBROKER_SANITIZE "" CACHE STRING
  "Sanitizers for the project's own targets: address,undefined or thread (clang only)")

if(NOT KEYBROKER_SANITIZE)
  return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "KEYBROKER_SANITIZE needs clang (-DCMAKE_CXX_COMPILER=clang++)")
endif()
string(REPLACE "," ";" keybroker_sanitizers "${KEYBROKER_SANITIZE}")
foreach(sanitizer ${keybroker_sanitizers})
  if(NOT sanitizer MATCHES "^(address|undefined|thread)$")
    message(FATAL_ERROR "KEYBROKER_SANITIZE: unknown sanitizer '${sanitizer}'")
  endif()
endforeach()
if("thread" IN_LIST keybroker_sanitizers AND "address" IN_LIST keybroker_sanitizers)
  message(FATAL_ERROR "KEYBROKER_SANITIZE: thread and address cannot be combined")
endif()

add_compile_options(-fsanitize=${KEYBROKER_SANITIZE} -fno-sanitize-recover=all
  -fno-omit-frame-pointer)
add_link_options(-fsanitize=${KEYBROKER_SANITIZE})

# The suppression files (third-party findings only) are named by absolute path.
set(KEYBROKER_SANITIZER_SUPPRESSIONS_DIR ${PROJECT_SOURCE_DIR}/tests/sanitizers)
configure_file(${CMAKE_CURRENT_LIST_DIR}/sanitizer_defaults.cc.in
  ${PROJECT_BINARY_DIR}/sanitizer_defaults.cc @ONLY)

# What every executable of a sanitizer build links: the runtime options of
# sanitizer_defaults.cc and, under ThreadSanitizer, the annotations that make
# Debian's (uninstrumented) absl::Mutex visible to it
# (tests/sanitizers/tsan_absl_annotations.cc; -rdynamic so that calls from the
# shared libraries reach them too). Compiled once, linked as objects.
add_library(keybroker_sanitizer_runtime OBJECT ${PROJECT_BINARY_DIR}/sanitizer_defaults.cc)
target_link_libraries(keybroker_sanitizer_runtime PUBLIC OpenSSL::Crypto)
if("thread" IN_LIST keybroker_sanitizers)
  target_sources(keybroker_sanitizer_runtime PRIVATE
    ${PROJECT_SOURCE_DIR}/tests/sanitizers/tsan_absl_annotations.cc)
  target_link_libraries(keybroker_sanitizer_runtime PUBLIC absl::synchronization ${CMAKE_DL_LIBS})
  target_link_options(keybroker_sanitizer_runtime INTERFACE -rdynamic)
endif()

# Links keybroker_sanitizer_runtime into every executable defined under `dir`.
# Called once the whole tree is defined, so that executables added later (new
# tests, examples) are covered without a list.
function(keybroker_add_sanitizer_defaults dir)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target ${targets})
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "EXECUTABLE")
      target_link_libraries(${target} PRIVATE keybroker_sanitizer_runtime)
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(subdir ${subdirs})
    keybroker_add_sanitizer_defaults(${subdir})
  endforeach()
endfunction()
