// FakeKafkaMessage: a consumed Kafka record built in memory (topic,
// partition, offset, value, headers), for unit tests of DecryptMessage
// without a cluster. The headers are librdkafka's own Headers object.
// Not safe for concurrent use.
#ifndef KEYBROKER_TESTS_FAKES_FAKE_KAFKA_MESSAGE_H_
#define KEYBROKER_TESTS_FAKES_FAKE_KAFKA_MESSAGE_H_

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace keybroker::testing {

class FakeKafkaMessage : public RdKafka::Message {
 public:
  FakeKafkaMessage(std::string topic, int64_t offset, std::optional<std::string> value)
      : topic_(std::move(topic)), offset_(offset), value_(std::move(value)) {}

  void AddHeader(const std::string& name, const std::string& value) {
    headers_->add(name, value);
  }

  std::string errstr() const override { return ""; }
  RdKafka::ErrorCode err() const override { return RdKafka::ERR_NO_ERROR; }
  RdKafka::Topic* topic() const override { return nullptr; }
  std::string topic_name() const override { return topic_; }
  int32_t partition() const override { return 0; }
  void* payload() const override {
    return value_.has_value() ? const_cast<char*>(value_->data()) : nullptr;
  }
  size_t len() const override { return value_.has_value() ? value_->size() : 0; }
  const std::string* key() const override { return nullptr; }
  const void* key_pointer() const override { return nullptr; }
  size_t key_len() const override { return 0; }
  int64_t offset() const override { return offset_; }
  RdKafka::MessageTimestamp timestamp() const override {
    return {RdKafka::MessageTimestamp::MSG_TIMESTAMP_CREATE_TIME, 0};
  }
  void* msg_opaque() const override { return nullptr; }
  int64_t latency() const override { return -1; }
  struct rd_kafka_message_s* c_ptr() override { return nullptr; }
  Status status() const override { return MSG_STATUS_PERSISTED; }
  RdKafka::Headers* headers() override { return headers_.get(); }
  RdKafka::Headers* headers(RdKafka::ErrorCode* err) override {
    *err = RdKafka::ERR_NO_ERROR;
    return headers_.get();
  }
  int32_t broker_id() const override { return -1; }

 private:
  const std::string topic_;
  const int64_t offset_;
  const std::optional<std::string> value_;
  std::unique_ptr<RdKafka::Headers> headers_{RdKafka::Headers::create()};
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_FAKES_FAKE_KAFKA_MESSAGE_H_
