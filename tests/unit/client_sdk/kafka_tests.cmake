# Kafka wrapper unit tests (client_sdk/kafka); the end-to-end test against a
# mock Kafka cluster and the real broker is tests/integration/kafka_test.cc.
if(TARGET keybroker_sdk_kafka)
  keybroker_test(kafka_key_template_test SOURCES kafka/key_template_test.cc
    LIBS keybroker_sdk_kafka)
  keybroker_test(kafka_record_format_test SOURCES kafka/record_format_test.cc
    LIBS keybroker_sdk_kafka)
  keybroker_test(kafka_decrypting_consumer_test SOURCES kafka/decrypting_consumer_test.cc
    LIBS keybroker_sdk_kafka)
endif()
