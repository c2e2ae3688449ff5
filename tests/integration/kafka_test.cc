// The Kafka wrappers end to end: librdkafka's built-in mock cluster as Kafka,
// the real keybroker binary (aliases kek-orders and kek-payments as local
// keys, listening on a unix socket so that a restart keeps its address) as
// the key source. Records go through EncryptingProducer; a plain consumer
// reads the raw log to show the cluster never saw plaintext; a
// DecryptingConsumer gets the original records back, in order, none skipped
// while the broker is down, and moves past a tampered one.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>

#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keybroker/sdk/client.h"
#include "keybroker/sdk/encryptor.h"
#include "keybroker/sdk/kafka/decrypting_consumer.h"
#include "keybroker/sdk/kafka/encrypting_producer.h"
#include "common/error_reason.h"
#include "tests/integration/broker_process.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::sdk::kafka {
namespace {

using ::keybroker::testing::BrokerProcess;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::StatusIs;
using ::keybroker::testing::TempDir;
using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

// A one-broker mock Kafka cluster; topics are created with one partition so
// that order is total.
class MockCluster {
 public:
  MockCluster() {
    char errstr[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    cluster_ = rd_kafka_mock_cluster_new(handle_, 1);
    bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(handle_);
  }
  const std::string& bootstraps() const { return bootstraps_; }
  void CreateTopic(const std::string& topic) {
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, topic.c_str(), 1, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }

 private:
  rd_kafka_t* handle_;
  rd_kafka_mock_cluster_t* cluster_;
  std::string bootstraps_;
};

std::unique_ptr<RdKafka::Conf> KafkaConf(const std::string& bootstraps) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  EXPECT_EQ(conf->set("bootstrap.servers", bootstraps, error), RdKafka::Conf::CONF_OK) << error;
  return conf;
}

std::unique_ptr<RdKafka::Producer> NewProducer(const std::string& bootstraps) {
  std::string error;
  std::unique_ptr<RdKafka::Producer> producer(
      RdKafka::Producer::create(KafkaConf(bootstraps).get(), error));
  EXPECT_NE(producer, nullptr) << error;
  return producer;
}

// A consumer of partition 0 of `topic` in `group`, starting at `offset`
// (OFFSET_STORED: the group's committed offset, else the beginning), with
// the settings DecryptingConsumer requires.
std::unique_ptr<RdKafka::KafkaConsumer> NewConsumer(const std::string& bootstraps,
                                                    const std::string& topic,
                                                    const std::string& group, int64_t offset,
                                                    bool auto_commit) {
  std::unique_ptr<RdKafka::Conf> conf = KafkaConf(bootstraps);
  std::string error;
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"group.id", group},
           {"enable.auto.offset.store", "false"},
           {"enable.auto.commit", auto_commit ? "true" : "false"},
           {"auto.commit.interval.ms", "100"},
           {"auto.offset.reset", "earliest"},
           {"enable.partition.eof", "false"}}) {
    EXPECT_EQ(conf->set(name, value, error), RdKafka::Conf::CONF_OK) << error;
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  EXPECT_NE(consumer, nullptr) << error;
  std::unique_ptr<RdKafka::TopicPartition> partition(
      RdKafka::TopicPartition::create(topic, 0, offset));
  EXPECT_EQ(consumer->assign({partition.get()}), RdKafka::ERR_NO_ERROR);
  return consumer;
}

// A consumer assigned to partition 0 of `topic` from the beginning; it
// commits nothing.
std::unique_ptr<RdKafka::KafkaConsumer> NewConsumer(const std::string& bootstraps,
                                                    const std::string& topic) {
  return NewConsumer(bootstraps, topic, "kafka-test", RdKafka::Topic::OFFSET_BEGINNING,
                     /*auto_commit=*/false);
}

// A member of `group` that auto-commits every 100 ms and starts at the
// group's committed offset of partition 0 of `topic`.
std::unique_ptr<RdKafka::KafkaConsumer> NewGroupConsumer(const std::string& bootstraps,
                                                         const std::string& topic,
                                                         const std::string& group) {
  return NewConsumer(bootstraps, topic, group, RdKafka::Topic::OFFSET_STORED,
                     /*auto_commit=*/true);
}

// Commits the stored offsets (what auto commit would write; it may have
// already) and returns the group's committed offset of partition 0 of
// `topic`, as the cluster has it.
int64_t CommitAndReadBack(RdKafka::KafkaConsumer& consumer, const std::string& topic) {
  EXPECT_THAT(consumer.commitSync(), AnyOf(RdKafka::ERR_NO_ERROR, RdKafka::ERR__NO_OFFSET));
  std::unique_ptr<RdKafka::TopicPartition> partition(
      RdKafka::TopicPartition::create(topic, 0));
  std::vector<RdKafka::TopicPartition*> partitions = {partition.get()};
  EXPECT_EQ(consumer.committed(partitions, 5000), RdKafka::ERR_NO_ERROR);
  return partition->offset();
}

// Consumes until a record or an error arrives (up to 10 s); nullopt if none did.
absl::StatusOr<std::optional<ConsumedRecord>> Next(DecryptingConsumer& decrypting) {
  absl::StatusOr<std::optional<ConsumedRecord>> result = std::nullopt;
  for (int attempt = 0; attempt < 100; ++attempt) {
    result = decrypting.Consume(100);
    if (!result.ok() || result->has_value()) break;
  }
  return result;
}

// Consumes `count` records, going on past errors that say the record will be
// delivered again (the broker coming back up); gives up after 15 s.
std::vector<ConsumedRecord> NextRecords(DecryptingConsumer& decrypting, size_t count) {
  std::vector<ConsumedRecord> records;
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (records.size() < count && absl::Now() < deadline) {
    absl::StatusOr<std::optional<ConsumedRecord>> record = decrypting.Consume(100);
    if (record.ok()) {
      if (record->has_value()) records.push_back(**std::move(record));
      continue;
    }
    EXPECT_TRUE(IsRetryableDecryptError(record.status())) << record.status();
    absl::SleepFor(absl::Milliseconds(50));  // back off, as an application would
  }
  return records;
}

// What a plain consumer sees.
struct RawRecord {
  std::optional<std::string> key, value;
  std::vector<std::string> header_names;
  std::string encryption_header;
};

std::vector<RawRecord> ReadRaw(const std::string& bootstraps, const std::string& topic,
                               size_t count) {
  auto consumer = NewConsumer(bootstraps, topic);
  std::vector<RawRecord> records;
  for (int attempt = 0; attempt < 100 && records.size() < count; ++attempt) {
    std::unique_ptr<RdKafka::Message> message(consumer->consume(100));
    if (message->err() == RdKafka::ERR__TIMED_OUT) continue;
    EXPECT_EQ(message->err(), RdKafka::ERR_NO_ERROR) << message->errstr();
    if (message->err() != RdKafka::ERR_NO_ERROR) continue;
    RawRecord raw;
    if (message->key_pointer() != nullptr) raw.key = *message->key();
    if (message->payload() != nullptr) {
      raw.value = std::string(static_cast<const char*>(message->payload()), message->len());
    }
    if (RdKafka::Headers* headers = message->headers(); headers != nullptr) {
      for (const auto& header : headers->get_all()) {
        raw.header_names.push_back(header.key());
        if (header.key() == "keybroker-encryption") {
          raw.encryption_header.assign(header.value_string(), header.value_size());
        }
      }
    }
    records.push_back(std::move(raw));
  }
  consumer->close();
  return records;
}

std::vector<ConsumedRecord> ReadDecrypted(const std::string& bootstraps, const std::string& topic,
                                          size_t count, Encryptor& encryptor,
                                          const DecryptOptions& options = {}) {
  auto consumer = NewConsumer(bootstraps, topic);
  auto decrypting = DecryptingConsumer::Create(consumer.get(), &encryptor, options);
  EXPECT_OK(decrypting);
  std::vector<ConsumedRecord> records;
  for (int attempt = 0; attempt < 100 && records.size() < count; ++attempt) {
    absl::StatusOr<std::optional<ConsumedRecord>> record = (*decrypting)->Consume(100);
    EXPECT_OK(record);
    if (record.ok() && record->has_value()) records.push_back(**std::move(record));
  }
  consumer->close();
  return records;
}

std::string Secret(int i) { return absl::StrCat("card 4111-1111-1111-", 1000 + i); }

ProducerRecord Record(std::string topic, std::optional<std::string> key,
                      std::optional<std::string> value, int32_t partition = 0) {
  ProducerRecord record;
  record.topic = std::move(topic);
  record.partition = partition;
  record.key = std::move(key);
  record.value = std::move(value);
  return record;
}

class KafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::keybroker::testing::WriteAll(dir_.File("master-key"), std::string(64, '7'));
    ::keybroker::testing::WriteAll(dir_.File("keybroker.yaml"),
                      "listen: unix:" + dir_.File("kb.sock") + "\n" +
                      "kms:\n"
                      "  local:\n"
                      "    keyring_file: " + dir_.File("keyring") + "\n" +
                      "    master_key_file: " + dir_.File("master-key") + "\n" +
                      "keys:\n"
                      "  - alias: kek-orders\n"
                      "    local_key: orders\n"
                      "  - alias: kek-payments\n"
                      "    local_key: payments\n");
    StartBroker();
    ASSERT_NE(broker_, nullptr);
    ClientOptions client_options;
    client_options.target = broker_->address();
    auto client = Client::Create(client_options);
    ASSERT_OK(client);
    client_ = *std::move(client);
    auto encryptor = Encryptor::Create(client_.get(), {});
    ASSERT_OK(encryptor);
    encryptor_ = *std::move(encryptor);
    producer_ = NewProducer(cluster_.bootstraps());
    ASSERT_NE(producer_, nullptr);
    for (const char* topic : {"orders", "payments", "audit"}) cluster_.CreateTopic(topic);
  }

  std::unique_ptr<EncryptingProducer> Encrypting(EncryptingProducerOptions options = {}) {
    auto encrypting = EncryptingProducer::Create(producer_.get(), encryptor_.get(), options);
    EXPECT_OK(encrypting);
    return encrypting.ok() ? *std::move(encrypting) : nullptr;
  }

  void Flush() { ASSERT_EQ(producer_->flush(10000), RdKafka::ERR_NO_ERROR); }

  // Produces Secret(0) to "orders" (offset 0); returns its ciphertext as the
  // cluster holds it ("" on failure).
  std::string ProduceOneToOrders() {
    auto encrypting = Encrypting();
    if (encrypting == nullptr) return "";
    EXPECT_OK(encrypting->Produce(Record("orders", std::nullopt, Secret(0))));
    Flush();
    std::vector<RawRecord> raw = ReadRaw(cluster_.bootstraps(), "orders", 1);
    EXPECT_EQ(raw.size(), 1);
    return raw.size() == 1 && raw[0].value.has_value() ? *raw[0].value : "";
  }

  // A DecryptingConsumer whose Encryptor asks the broker for every record.
  struct UncachedConsumer {
    std::unique_ptr<Encryptor> encryptor;
    std::unique_ptr<RdKafka::KafkaConsumer> consumer;
    std::unique_ptr<DecryptingConsumer> decrypting;
  };

  // Produces `count` records to "orders" (keys "order-<i>", values
  // Secret(i)); fills `out` with a member of `group` that has decrypted the
  // first one; then kills the broker.
  void ConsumeFirstThenKillBroker(int count, const std::string& group, UncachedConsumer& out) {
    auto encrypting = Encrypting();
    ASSERT_NE(encrypting, nullptr);
    for (int i = 0; i < count; ++i) {
      ASSERT_OK(encrypting->Produce(Record("orders", absl::StrCat("order-", i), Secret(i))));
    }
    Flush();
    out.encryptor = UncachedEncryptor();
    ASSERT_NE(out.encryptor, nullptr);
    out.consumer = NewGroupConsumer(cluster_.bootstraps(), "orders", group);
    auto decrypting = DecryptingConsumer::Create(out.consumer.get(), out.encryptor.get());
    ASSERT_OK(decrypting);
    out.decrypting = *std::move(decrypting);
    absl::StatusOr<std::optional<ConsumedRecord>> first = Next(*out.decrypting);
    ASSERT_OK(first);
    ASSERT_TRUE(first->has_value());
    EXPECT_EQ((*first)->offset, 0);
    StopBroker();
  }

  // Kills the broker (SIGKILL: a crash, and quicker than a graceful stop).
  void StopBroker() { ASSERT_EQ(broker_->Stop(SIGKILL), 128 + SIGKILL); }

  // (Re)starts the broker at the same address, with the keyring it had.
  void StartBroker() {
    auto broker = BrokerProcess::Start({"--config", dir_.File("keybroker.yaml")});
    ASSERT_OK(broker);
    broker_ = *std::move(broker);
  }

  // An Encryptor that asks the broker for every decryption (no DEK cache).
  std::unique_ptr<Encryptor> UncachedEncryptor() {
    EncryptorOptions options;
    options.decrypt_cache_ttl = absl::ZeroDuration();
    auto encryptor = Encryptor::Create(client_.get(), options);
    EXPECT_OK(encryptor);
    return encryptor.ok() ? *std::move(encryptor) : nullptr;
  }

  // Produces `value` to partition 0 of `topic` bypassing the SDK, with the
  // keybroker header.
  void ProduceRaw(const std::string& topic, const std::string& value) {
    std::unique_ptr<RdKafka::Headers> headers(RdKafka::Headers::create());
    headers->add("keybroker-encryption", "v1");
    ASSERT_EQ(producer_->produce(topic, 0, RdKafka::Producer::RK_MSG_COPY,
                                 const_cast<char*>(value.data()), value.size(), nullptr, 0, 0,
                                 headers.get(), nullptr),
              RdKafka::ERR_NO_ERROR);
    headers.release();  // the producer owns them now
  }

  TempDir dir_;
  MockCluster cluster_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<Encryptor> encryptor_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

EncryptingProducerOptions WithPolicy(UnresolvedKeyPolicy policy) {
  EncryptingProducerOptions options;
  options.unresolved_key_policy = policy;
  return options;
}

TEST_F(KafkaTest, ClusterSeesOnlyCiphertextAndConsumerGetsRecordsInOrder) {
  constexpr int kRecords = 50;
  auto encrypting = Encrypting();
  ASSERT_NE(encrypting, nullptr);
  for (int i = 0; i < kRecords; ++i) {
    ProducerRecord record = Record("orders", absl::StrCat("order-", i), Secret(i));
    record.headers = {{"trace-id", absl::StrCat("t", i)}};
    ASSERT_OK(encrypting->Produce(record));
  }
  Flush();

  std::vector<RawRecord> raw = ReadRaw(cluster_.bootstraps(), "orders", kRecords);
  ASSERT_EQ(raw.size(), kRecords);
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_TRUE(raw[i].value.has_value());
    EXPECT_THAT(*raw[i].value, Not(HasSubstr("4111"))) << i;
    EXPECT_EQ(raw[i].value->at(0), '\x01') << i;  // format byte of the ciphertext
    EXPECT_EQ(raw[i].encryption_header, "v1") << i;
    EXPECT_EQ(raw[i].key, absl::StrCat("order-", i));  // keys are not encrypted by default
  }

  std::vector<ConsumedRecord> records =
      ReadDecrypted(cluster_.bootstraps(), "orders", kRecords, *encryptor_);
  ASSERT_EQ(records.size(), kRecords);
  for (int i = 0; i < kRecords; ++i) {
    EXPECT_EQ(records[i].value, Secret(i));
    EXPECT_EQ(records[i].key, absl::StrCat("order-", i));
    EXPECT_EQ(records[i].offset, i);
    EXPECT_TRUE(records[i].value_was_encrypted);
    EXPECT_FALSE(records[i].key_was_encrypted);
    EXPECT_EQ(records[i].headers,
              (std::vector<Header>{{"trace-id", absl::StrCat("t", i)}}));  // ours removed
  }
}

// The ciphertext is handed to librdkafka to own (RK_MSG_FREE) when it takes
// the record, and stays the producer's when it refuses it: a refused record
// (over message.max.bytes, refused before it is queued) is freed once, by
// us (ASan's leak check and double-free check watch this), and the next
// record goes through.
TEST_F(KafkaTest, ARecordLibrdkafkaRefusesIsNeitherLostTrackOfNorFreedTwice) {
  auto encrypting = Encrypting();
  ASSERT_NE(encrypting, nullptr);
  for (int i = 0; i < 3; ++i) {
    absl::Status refused = encrypting->Produce(Record("orders", "big", std::string(2 << 20, 'b')));
    EXPECT_FALSE(refused.ok());
    EXPECT_THAT(refused.message(), HasSubstr("orders"));
  }
  ASSERT_OK(encrypting->Produce(Record("orders", "small", Secret(1))));
  Flush();
  std::vector<ConsumedRecord> records =
      ReadDecrypted(cluster_.bootstraps(), "orders", 1, *encryptor_);
  ASSERT_EQ(records.size(), 1);
  EXPECT_EQ(records[0].value, Secret(1));
}

TEST_F(KafkaTest, EncryptsKeysWhenConfigured) {
  EncryptingProducerOptions options;
  options.encrypt_keys = true;
  auto encrypting = Encrypting(options);
  ASSERT_NE(encrypting, nullptr);
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(encrypting->Produce(Record("payments", "customer-42", Secret(i))));
  }
  ASSERT_OK(encrypting->Produce(Record("payments", "customer-42", std::nullopt)));
  Flush();

  std::vector<RawRecord> raw = ReadRaw(cluster_.bootstraps(), "payments", 4);
  ASSERT_EQ(raw.size(), 4);
  for (const RawRecord& record : raw) {
    ASSERT_TRUE(record.key.has_value());
    EXPECT_THAT(*record.key, Not(HasSubstr("customer-42")));
    EXPECT_THAT(record.header_names,
                ::testing::ElementsAre("keybroker-encryption", "keybroker-encryption-key"));
  }
  EXPECT_NE(raw[0].key, raw[1].key);  // a fresh nonce per record
  EXPECT_FALSE(raw[3].value.has_value());  // a tombstone stays a tombstone

  std::vector<ConsumedRecord> records =
      ReadDecrypted(cluster_.bootstraps(), "payments", 4, *encryptor_);
  ASSERT_EQ(records.size(), 4);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(records[i].key, "customer-42");
    EXPECT_EQ(records[i].value, Secret(i));
    EXPECT_TRUE(records[i].key_was_encrypted);
  }
  EXPECT_EQ(records[3].key, "customer-42");
  EXPECT_FALSE(records[3].value.has_value());
}

// The producer builds a topic's alias and aad once per thread and topic:
// records of two topics produced in turn must each be bound to their own.
TEST_F(KafkaTest, RecordsOfTwoTopicsProducedInTurnDecryptUnderTheirOwnTopic) {
  constexpr int kRecords = 10;
  auto encrypting = Encrypting();
  ASSERT_NE(encrypting, nullptr);
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_OK(encrypting->Produce(Record("orders", absl::StrCat("o", i), Secret(i))));
    ASSERT_OK(encrypting->Produce(Record("payments", absl::StrCat("p", i), Secret(100 + i))));
  }
  Flush();
  for (const auto& [topic, offset] : {std::pair<std::string, int>{"orders", 0},
                                      std::pair<std::string, int>{"payments", 100}}) {
    std::vector<ConsumedRecord> records =
        ReadDecrypted(cluster_.bootstraps(), topic, kRecords, *encryptor_);
    ASSERT_EQ(records.size(), kRecords) << topic;
    for (int i = 0; i < kRecords; ++i) EXPECT_EQ(records[i].value, Secret(offset + i)) << topic;
  }
}

TEST_F(KafkaTest, UnresolvedKeyIsRejectedUnderReject) {
  auto encrypting = Encrypting(WithPolicy(UnresolvedKeyPolicy::kReject));
  ASSERT_NE(encrypting, nullptr);
  for (int i = 0; i < 2; ++i) {  // the second answer comes from the recheck cache
    absl::Status status = encrypting->Produce(Record("audit", std::nullopt, Secret(i)));
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound, HasSubstr("kek-audit")));
    EXPECT_THAT(status, HasReason(ErrorReason::kKeyNotFound));
    EXPECT_TRUE(IsAliasNotConfigured(status)) << "answer " << i;
  }
  Flush();
  int64_t low = -1, high = -1;
  ASSERT_EQ(producer_->query_watermark_offsets("audit", 0, &low, &high, 5000),
            RdKafka::ERR_NO_ERROR);
  EXPECT_EQ(high, 0);  // nothing was written
}

TEST_F(KafkaTest, UnresolvedKeyPassesThroughUnencryptedUnderPassThrough) {
  auto encrypting = Encrypting(WithPolicy(UnresolvedKeyPolicy::kPassThrough));
  ASSERT_NE(encrypting, nullptr);
  ASSERT_OK(encrypting->Produce(Record("audit", "k", "public 1")));
  ASSERT_OK(encrypting->Produce(Record("audit", "k", "public 2")));
  ASSERT_OK(encrypting->Produce(Record("orders", std::nullopt, Secret(0))));  // still encrypted
  Flush();

  std::vector<RawRecord> raw = ReadRaw(cluster_.bootstraps(), "audit", 2);
  ASSERT_EQ(raw.size(), 2);
  EXPECT_EQ(raw[0].value, "public 1");
  EXPECT_EQ(raw[1].value, "public 2");
  EXPECT_TRUE(raw[0].header_names.empty());
  std::vector<RawRecord> orders = ReadRaw(cluster_.bootstraps(), "orders", 1);
  ASSERT_EQ(orders.size(), 1);
  EXPECT_EQ(orders[0].encryption_header, "v1");

  // Consumers of a topic that may hold plaintext say so.
  DecryptOptions mixed;
  mixed.require_encryption = false;
  std::vector<ConsumedRecord> records =
      ReadDecrypted(cluster_.bootstraps(), "audit", 2, *encryptor_, mixed);
  ASSERT_EQ(records.size(), 2);
  EXPECT_EQ(records[0].value, "public 1");
  EXPECT_FALSE(records[0].value_was_encrypted);
}

TEST_F(KafkaTest, BrokerDownFailsProduceEvenUnderPassThrough) {
  auto encrypting = Encrypting(WithPolicy(UnresolvedKeyPolicy::kPassThrough));
  ASSERT_NE(encrypting, nullptr);
  ASSERT_EQ(broker_->Terminate(), 0);
  absl::Status status = encrypting->Produce(Record("payments", std::nullopt, Secret(0)));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("kek-payments")));
  Flush();
  int64_t low = -1, high = -1;
  ASSERT_EQ(producer_->query_watermark_offsets("payments", 0, &low, &high, 5000),
            RdKafka::ERR_NO_ERROR);
  EXPECT_EQ(high, 0);
}

TEST_F(KafkaTest, RecordCopiedToAnotherTopicDoesNotDecrypt) {
  std::string ciphertext = ProduceOneToOrders();
  ASSERT_FALSE(ciphertext.empty());
  // Replay the ciphertext with its header into "payments", bypassing the SDK.
  ProduceRaw("payments", ciphertext);
  Flush();

  auto consumer = NewConsumer(cluster_.bootstraps(), "payments");
  std::unique_ptr<RdKafka::Message> message;
  for (int attempt = 0; attempt < 100; ++attempt) {
    message.reset(consumer->consume(100));
    if (message->err() != RdKafka::ERR__TIMED_OUT) break;
  }
  ASSERT_EQ(message->err(), RdKafka::ERR_NO_ERROR);
  EXPECT_THAT(DecryptMessage(*message, *encryptor_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("payments/0@0")));
  consumer->close();
}

TEST_F(KafkaTest, RejectsReservedHeadersAndRefusesPlaintextRecordsByDefault) {
  auto encrypting = Encrypting(WithPolicy(UnresolvedKeyPolicy::kPassThrough));
  ASSERT_NE(encrypting, nullptr);
  ProducerRecord spoofed = Record("audit", std::nullopt, "x");
  spoofed.headers = {{"keybroker-encryption", "v1"}};
  EXPECT_THAT(encrypting->Produce(spoofed), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK(encrypting->Produce(Record("audit", std::nullopt, "injected")));
  ASSERT_OK(encrypting->Produce(Record("audit", std::nullopt, "plain")));
  Flush();

  // Default options: the plaintext records are refused, and skipped.
  auto consumer = NewGroupConsumer(cluster_.bootstraps(), "audit", "strict");
  auto decrypting = DecryptingConsumer::Create(consumer.get(), encryptor_.get());
  ASSERT_OK(decrypting);
  for (int offset = 0; offset < 2; ++offset) {
    absl::StatusOr<std::optional<ConsumedRecord>> record = Next(**decrypting);
    EXPECT_THAT(record, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 AllOf(HasSubstr(absl::StrCat("audit/0@", offset)),
                                       HasSubstr("not encrypted"), HasSubstr("skipped"))));
    EXPECT_FALSE(IsRetryableDecryptError(record.status()));
  }
  EXPECT_EQ(CommitAndReadBack(*consumer, "audit"), 2) << "skipped, not blocking the partition";
  consumer->close();
}

TEST_F(KafkaTest, CreateRejectsAConsumerThatStoresOffsetsAutomatically) {
  std::unique_ptr<RdKafka::Conf> conf = KafkaConf(cluster_.bootstraps());
  std::string error;
  ASSERT_EQ(conf->set("group.id", "defaults", error), RdKafka::Conf::CONF_OK);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  ASSERT_NE(consumer, nullptr) << error;
  EXPECT_THAT(DecryptingConsumer::Create(consumer.get(), encryptor_.get()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("enable.auto.offset.store=false")));
  consumer->close();
}

TEST_F(KafkaTest, RecordsThatFailedWhileTheBrokerWasDownAreDeliveredAgainInOrder) {
  constexpr int kRecords = 4;
  UncachedConsumer reader;
  ConsumeFirstThenKillBroker(kRecords, "redelivery", reader);
  ASSERT_NE(reader.decrypting, nullptr);
  for (int i = 0; i < 3; ++i) {  // the same record every time, never the next one
    absl::StatusOr<std::optional<ConsumedRecord>> failed = Next(*reader.decrypting);
    EXPECT_THAT(failed, StatusIs(absl::StatusCode::kUnavailable,
                                 AllOf(HasSubstr("orders/0@1"),
                                       HasSubstr("will be delivered again"))));
    EXPECT_TRUE(IsRetryableDecryptError(failed.status()));
  }

  StartBroker();
  std::vector<ConsumedRecord> records = NextRecords(*reader.decrypting, kRecords - 1);
  ASSERT_EQ(records.size(), kRecords - 1);
  for (int i = 1; i < kRecords; ++i) {
    EXPECT_EQ(records[i - 1].offset, i);
    EXPECT_EQ(records[i - 1].value, Secret(i));
    EXPECT_EQ(records[i - 1].key, absl::StrCat("order-", i));
  }
  EXPECT_EQ(CommitAndReadBack(*reader.consumer, "orders"), kRecords);
  reader.consumer->close();
}

TEST_F(KafkaTest, ConsumerThatCrashedOnAFailedRecordCommittedNothingPastIt) {
  UncachedConsumer crashed;
  ConsumeFirstThenKillBroker(3, "crash", crashed);
  ASSERT_NE(crashed.decrypting, nullptr);
  absl::StatusOr<std::optional<ConsumedRecord>> failed = Next(*crashed.decrypting);
  EXPECT_THAT(failed, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("orders/0@1")));
  EXPECT_EQ(CommitAndReadBack(*crashed.consumer, "orders"), 1);
  crashed.decrypting.reset();
  crashed.consumer.reset();  // a crash: destroyed without close()

  StartBroker();
  auto successor = NewGroupConsumer(cluster_.bootstraps(), "orders", "crash");
  auto resumed = DecryptingConsumer::Create(successor.get(), crashed.encryptor.get());
  ASSERT_OK(resumed);
  std::vector<ConsumedRecord> records = NextRecords(**resumed, 2);
  ASSERT_EQ(records.size(), 2);
  EXPECT_EQ(records[0].offset, 1);  // the record that had failed, not one after it
  EXPECT_EQ(records[0].value, Secret(1));
  EXPECT_EQ(records[1].offset, 2);
  EXPECT_EQ(records[1].value, Secret(2));
  successor->close();
}

TEST_F(KafkaTest, TamperedRecordFailsOnceAndTheConsumerMovesOn) {
  std::string tampered = ProduceOneToOrders();
  ASSERT_FALSE(tampered.empty());
  tampered.back() ^= 0x01;  // the GCM tag
  ProduceRaw("orders", tampered);
  Flush();
  auto encrypting = Encrypting();
  ASSERT_NE(encrypting, nullptr);
  ASSERT_OK(encrypting->Produce(Record("orders", std::nullopt, Secret(2))));
  Flush();

  auto consumer = NewGroupConsumer(cluster_.bootstraps(), "orders", "tampered");
  auto decrypting = DecryptingConsumer::Create(consumer.get(), encryptor_.get());
  ASSERT_OK(decrypting);
  absl::StatusOr<std::optional<ConsumedRecord>> record = Next(**decrypting);
  ASSERT_OK(record);
  ASSERT_TRUE(record->has_value());
  EXPECT_EQ((*record)->value, Secret(0));

  record = Next(**decrypting);
  EXPECT_THAT(record, StatusIs(absl::StatusCode::kInvalidArgument,
                               AllOf(HasSubstr("orders/0@1"), HasSubstr("skipped"))));
  EXPECT_THAT(record.status(), HasReason(ErrorReason::kEdekInvalid));
  EXPECT_FALSE(IsRetryableDecryptError(record.status()));

  record = Next(**decrypting);
  ASSERT_OK(record);
  ASSERT_TRUE(record->has_value());
  EXPECT_EQ((*record)->offset, 2);
  EXPECT_EQ((*record)->value, Secret(2));
  record = (*decrypting)->Consume(500);  // the tampered record does not come back
  ASSERT_OK(record);
  EXPECT_FALSE(record->has_value());
  EXPECT_EQ(CommitAndReadBack(*consumer, "orders"), 3);
  consumer->close();
}

}  // namespace
}  // namespace keybroker::sdk::kafka
