// kafka_check: builds against the installed keybroker_sdk_kafka (component
// kafka / pkg-config keybroker-sdk-kafka) and checks that it runs. Needs no
// Kafka broker and no keybroker: makes a librdkafka producer without brokers,
// wraps it in an EncryptingProducer and expands its key template. Prints "OK".
#include <cstdio>
#include <memory>
#include <string>

#include <librdkafka/rdkafkacpp.h>

#include "keybroker/sdk/kafka/encrypting_producer.h"
#include "keybroker/sdk/kafka/key_template.h"
#include "no_broker.h"

int main() {
  absl::StatusOr<keybroker::sdk::kafka::KeyTemplate> key_template =
      keybroker::sdk::kafka::KeyTemplate::Parse("kek-${topic}");
  if (!key_template.ok() || key_template->Expand("orders") != "kek-orders") {
    return Fail("KeyTemplate did not expand kek-${topic}");
  }

  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  // No bootstrap.servers on purpose: keeps librdkafka's notice about it quiet.
  if (conf->set("log_level", "3", error) != RdKafka::Conf::CONF_OK) {
    return Fail(("RdKafka::Conf::set: " + error).c_str());
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (producer == nullptr) return Fail(("RdKafka::Producer::create: " + error).c_str());
  NoBroker source;
  absl::StatusOr<std::unique_ptr<keybroker::sdk::Encryptor>> encryptor =
      keybroker::sdk::Encryptor::Create(&source, {});
  if (!encryptor.ok()) return Fail("Encryptor::Create failed");
  keybroker::sdk::kafka::EncryptingProducerOptions options;
  options.key_template = "tenant-a-${topic}";
  absl::StatusOr<std::unique_ptr<keybroker::sdk::kafka::EncryptingProducer>> encrypting =
      keybroker::sdk::kafka::EncryptingProducer::Create(producer.get(), encryptor->get(), options);
  if (!encrypting.ok()) return Fail("EncryptingProducer::Create failed");
  if ((*encrypting)->KeyAliasFor("orders") != "tenant-a-orders") {
    return Fail("EncryptingProducer::KeyAliasFor did not expand the template");
  }
  std::printf("OK\n");
  return 0;
}
