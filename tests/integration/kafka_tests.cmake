# The Kafka wrappers (client_sdk/kafka) against librdkafka's mock cluster and
# the real broker binary; only when librdkafka++ was found. The mock cluster
# is in librdkafka's C API.
if(TARGET keybroker_sdk_kafka)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(RDKAFKA_C REQUIRED IMPORTED_TARGET rdkafka)
  keybroker_test(kafka_test SOURCES kafka_test.cc
    LIBS keybroker_integration_testing keybroker_sdk_kafka PkgConfig::RDKAFKA_C)
  add_dependencies(kafka_test keybroker)
  # A keyring rotation rolled out to two read-only replicas under Kafka load.
  keybroker_test(kafka_rollout_test SOURCES kafka_rollout_test.cc
    LIBS keybroker_integration_testing keybroker_sdk_kafka PkgConfig::RDKAFKA_C)
  add_dependencies(kafka_rollout_test keybroker keybrokerctl)
endif()
