// A keyring rotation rolled out under Kafka load loses no record: two real
// brokers (two processes, `read_only`, one keyring) behind librdkafka's mock
// cluster. The keyring is rotated out of band with `keybrokerctl keyring
// rotate` while records are produced; producers use the replica that
// reloaded, consumers one that has not (or round_robin over both). Every
// record is consumed, in order, and none is skipped:
//   - a replica reading the same file takes the new version the moment an
//     EDEK names it (an on-demand reload), whatever its reload interval;
//   - a replica whose copy of the file lags (another node's Secret mount,
//     not synced yet) answers UNAVAILABLE / KEY_VERSION_NOT_YET_LOADED: a
//     client over both replicas retries on the other one and never sees the
//     error; a consumer on the lagging replica alone waits on the record
//     (never skips it) until the copy arrives.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keybroker/sdk/client.h"
#include "keybroker/sdk/encryptor.h"
#include "keybroker/sdk/kafka/decrypting_consumer.h"
#include "keybroker/sdk/kafka/encrypting_producer.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/ctl_runner.h"
#include "tests/testing/files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::sdk::kafka {
namespace {

using ::keybroker::testing::BrokerProcess;
using ::keybroker::testing::CtlResult;
using ::keybroker::testing::HasReason;
using ::keybroker::testing::ReadAll;
using ::keybroker::testing::RunCtl;
using ::keybroker::testing::TempDir;
using ::keybroker::testing::WriteAll;
using ::testing::HasSubstr;

constexpr int kRecords = 120;
constexpr int kRotateAfter = 40;  // records produced under version 1 first

// A one-broker mock Kafka cluster with a one-partition topic "orders".
class MockCluster {
 public:
  MockCluster() {
    char errstr[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    cluster_ = rd_kafka_mock_cluster_new(handle_, 1);
    bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster_);
    rd_kafka_mock_topic_create(cluster_, "orders", 1, 1);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(handle_);
  }
  const std::string& bootstraps() const { return bootstraps_; }

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

// A member of `group` reading partition 0 of "orders" from the start, with
// the settings DecryptingConsumer requires.
std::unique_ptr<RdKafka::KafkaConsumer> NewConsumer(const std::string& bootstraps,
                                                    const std::string& group) {
  std::unique_ptr<RdKafka::Conf> conf = KafkaConf(bootstraps);
  std::string error;
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"group.id", group},
           {"enable.auto.offset.store", "false"},
           {"enable.auto.commit", "false"},
           {"auto.offset.reset", "earliest"},
           {"enable.partition.eof", "false"}}) {
    EXPECT_EQ(conf->set(name, value, error), RdKafka::Conf::CONF_OK) << error;
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  EXPECT_NE(consumer, nullptr) << error;
  std::unique_ptr<RdKafka::TopicPartition> partition(
      RdKafka::TopicPartition::create("orders", 0, RdKafka::Topic::OFFSET_BEGINNING));
  EXPECT_EQ(consumer->assign({partition.get()}), RdKafka::ERR_NO_ERROR);
  return consumer;
}

std::string Secret(int i) { return absl::StrCat("card 4111-1111-1111-", 1000 + i); }

// What a consumer saw.
struct Consumed {
  std::vector<ConsumedRecord> records;
  std::vector<absl::Status> errors;  // each a record delivered again after it
};

class KafkaRolloutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Ctl("keyring new-master-key --out " + master_).exit_code, 0);
    CtlResult init = Ctl("keyring init --keyring-file " + published_ + " --master-key-file " +
                         master_ + " --key orders");
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }

  CtlResult Ctl(const std::string& args) { return RunCtl(args, dir_.path()); }

  // A read-only replica on `keyring` that polls it every `interval_seconds`.
  std::unique_ptr<BrokerProcess> Replica(const std::string& name, const std::string& keyring,
                                         int interval_seconds) {
    std::string config = dir_.File(name + ".yaml");
    WriteAll(config, absl::StrCat("listen: 127.0.0.1:0\n"
                                  "audit_log: true\n"
                                  "kms:\n"
                                  "  local:\n"
                                  "    keyring_file: ", keyring, "\n",
                                  "    master_key_file: ", master_, "\n",
                                  "    read_only: true\n"
                                  "    reload_interval_seconds: ", interval_seconds, "\n",
                                  "keys:\n"
                                  "  - alias: kek-orders\n"
                                  "    local_key: orders\n"));
    auto broker = BrokerProcess::Start({"--config", config});
    EXPECT_OK(broker);
    return broker.ok() ? *std::move(broker) : nullptr;
  }

  // An Encryptor over a client of `target`; `dek_budget` encryptions per DEK
  // (small: producers fetch new DEKs, under the new version once their
  // replica has it); no decrypt cache (consumers ask the broker each time).
  struct Sdk {
    std::unique_ptr<Client> client;
    std::unique_ptr<Encryptor> encryptor;
  };
  Sdk SdkFor(const std::string& target) {
    ClientOptions client_options;
    client_options.target = target;
    auto client = Client::Create(client_options);
    EXPECT_OK(client);
    Sdk sdk;
    if (!client.ok()) return sdk;
    sdk.client = *std::move(client);
    EncryptorOptions options;
    options.max_encryptions_per_dek = 4;
    options.decrypt_cache_ttl = absl::ZeroDuration();
    auto encryptor = Encryptor::Create(sdk.client.get(), options);
    EXPECT_OK(encryptor);
    if (encryptor.ok()) sdk.encryptor = *std::move(encryptor);
    return sdk;
  }

  // Produces kRecords records to "orders" through `replica`'s SDK; after
  // kRotateAfter, rotates the published keyring and waits until `replica`
  // has taken it, so the rest are made under version 2.
  void ProduceRotatingMidway(Encryptor& encryptor, BrokerProcess& replica) {
    std::string error;
    std::unique_ptr<RdKafka::Producer> producer(
        RdKafka::Producer::create(KafkaConf(cluster_.bootstraps()).get(), error));
    ASSERT_NE(producer, nullptr) << error;
    auto encrypting = EncryptingProducer::Create(producer.get(), &encryptor, {});
    ASSERT_OK(encrypting);
    for (int i = 0; i < kRecords; ++i) {
      if (i == kRotateAfter) {
        CtlResult rotated = Ctl("keyring rotate --keyring-file " + published_ +
                                " --master-key-file " + master_ + " --key orders");
        ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
        ASSERT_THAT(rotated.out, HasSubstr("\"key_version\":\"2\""));
        ASSERT_TRUE(replica.WaitForLogLine("\"event\":\"keyring_reloaded\"", absl::Seconds(30)));
      }
      ProducerRecord record;
      record.topic = "orders";
      record.partition = 0;
      record.value = Secret(i);
      ASSERT_OK((*encrypting)->Produce(record));
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_EQ(producer->flush(10000), RdKafka::ERR_NO_ERROR);
  }

  // Consumes up to `count` records through `encryptor`; each error must say
  // the record will be delivered again (nothing skipped). Stops at `count`,
  // after `max_errors` errors, or after 60 s.
  Consumed Consume(Encryptor& encryptor, const std::string& group, size_t count,
                   size_t max_errors = 1000) {
    Consumed consumed;
    std::unique_ptr<RdKafka::KafkaConsumer> consumer = NewConsumer(cluster_.bootstraps(), group);
    auto decrypting = DecryptingConsumer::Create(consumer.get(), &encryptor);
    EXPECT_OK(decrypting);
    if (!decrypting.ok()) return consumed;
    consumers_.push_back(std::move(consumer));
    decrypting_.push_back(*std::move(decrypting));
    return ConsumeMore(consumed, count, max_errors);
  }
  Consumed ConsumeMore(Consumed consumed, size_t count, size_t max_errors) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (consumed.records.size() < count && consumed.errors.size() < max_errors &&
           absl::Now() < deadline) {
      absl::StatusOr<std::optional<ConsumedRecord>> record = decrypting_.back()->Consume(100);
      if (record.ok()) {
        if (record->has_value()) consumed.records.push_back(**std::move(record));
        continue;
      }
      EXPECT_TRUE(IsRetryableDecryptError(record.status())) << "skipped: " << record.status();
      consumed.errors.push_back(record.status());
      absl::SleepFor(absl::Milliseconds(20));  // back off, as an application would
    }
    return consumed;
  }

  static void ExpectAllInOrder(const std::vector<ConsumedRecord>& records) {
    ASSERT_EQ(records.size(), static_cast<size_t>(kRecords));
    for (int i = 0; i < kRecords; ++i) {
      EXPECT_EQ(records[i].offset, i);
      EXPECT_EQ(records[i].value, Secret(i)) << "record " << i;
    }
  }

  static size_t CountLines(BrokerProcess& broker, const std::string& needle) {
    size_t count = 0;
    for (const std::string& line : broker.Lines()) count += line.find(needle) != std::string::npos;
    return count;
  }

  TempDir dir_;
  std::string master_ = dir_.File("master-key");
  std::string published_ = dir_.File("keyring");  // what `keybrokerctl keyring rotate` writes
  MockCluster cluster_;
  std::vector<std::unique_ptr<RdKafka::KafkaConsumer>> consumers_;
  std::vector<std::unique_ptr<DecryptingConsumer>> decrypting_;
};

TEST_F(KafkaRolloutTest, AReplicaThatHasNotReloadedTakesTheNewVersionWhenAnEdekNamesIt) {
  std::unique_ptr<BrokerProcess> reloaded = Replica("a", published_, 1);
  std::unique_ptr<BrokerProcess> behind = Replica("b", published_, 3600);  // never polls here
  ASSERT_NE(reloaded, nullptr);
  ASSERT_NE(behind, nullptr);
  Sdk producing = SdkFor(reloaded->address());
  Sdk consuming = SdkFor(behind->address());
  ASSERT_NE(consuming.encryptor, nullptr);

  // Producers and the consumer run at once: the load the rotation meets.
  std::thread producer([&] { ProduceRotatingMidway(*producing.encryptor, *reloaded); });
  Consumed consumed = Consume(*consuming.encryptor, "same-file", kRecords);
  producer.join();

  ExpectAllInOrder(consumed.records);
  EXPECT_TRUE(consumed.errors.empty()) << consumed.errors.front();
  // The lagging replica took version 2 because an EDEK named it.
  EXPECT_TRUE(behind->WaitForLogLine("\"trigger\":\"edek\"", absl::Seconds(5)));
  EXPECT_EQ(CountLines(*behind, "\"trigger\":\"edek\""), 1u);
  EXPECT_EQ(CountLines(*behind, "\"trigger\":\"poll\""), 0u);
  for (auto& consumer : consumers_) consumer->close();
}

TEST_F(KafkaRolloutTest, ALaggingCopyOfTheKeyringNeverMakesAConsumerSkipARecord) {
  // The lagging replica's node has not synced the Secret yet: its own copy.
  std::string lagging_copy = dir_.File("lagging-mount-keyring");
  WriteAll(lagging_copy, ReadAll(published_));
  std::unique_ptr<BrokerProcess> reloaded = Replica("a", published_, 1);
  std::unique_ptr<BrokerProcess> lagging = Replica("b", lagging_copy, 3600);
  ASSERT_NE(reloaded, nullptr);
  ASSERT_NE(lagging, nullptr);
  Sdk producing = SdkFor(reloaded->address());
  // round_robin over both replicas, as over a headless Service.
  Sdk balanced = SdkFor(absl::StrCat("ipv4:", reloaded->address(), ",", lagging->address()));
  Sdk pinned = SdkFor(lagging->address());
  ASSERT_NE(balanced.encryptor, nullptr);
  ASSERT_NE(pinned.encryptor, nullptr);

  std::thread producer([&] { ProduceRotatingMidway(*producing.encryptor, *reloaded); });
  Consumed over_both = Consume(*balanced.encryptor, "balanced", kRecords);
  producer.join();

  // The retry of UNAVAILABLE went to the other replica: no error at all,
  // though the lagging one refused version 2 EDEKs it was asked about.
  ExpectAllInOrder(over_both.records);
  EXPECT_TRUE(over_both.errors.empty()) << over_both.errors.front();
  EXPECT_TRUE(lagging->WaitForLogLine("\"reason\":\"KEY_VERSION_NOT_YET_LOADED\"",
                                      absl::Seconds(5)))
      << "round_robin sent no version 2 EDEK to the lagging replica: nothing was retried";

  // A consumer on the lagging replica alone waits on the first version 2
  // record, delivered again each time, never past it.
  Consumed alone = Consume(*pinned.encryptor, "lagging-only", kRecords, /*max_errors=*/3);
  ASSERT_EQ(alone.errors.size(), 3u);
  for (const absl::Status& error : alone.errors) {
    EXPECT_THAT(error, HasReason(ErrorReason::kKeyVersionNotYetLoaded));
    EXPECT_THAT(std::string(error.message()), HasSubstr("will be delivered again"));
  }
  const size_t before = alone.records.size();
  EXPECT_GE(before, static_cast<size_t>(kRotateAfter));
  EXPECT_LT(before, static_cast<size_t>(kRecords));

  WriteAll(lagging_copy + ".new", ReadAll(published_));  // the node syncs the Secret
  ASSERT_EQ(::rename((lagging_copy + ".new").c_str(), lagging_copy.c_str()), 0);
  alone = ConsumeMore(std::move(alone), kRecords, /*max_errors=*/1000);
  ExpectAllInOrder(alone.records);
  // (Info lines reach the log within about 50 ms.)
  EXPECT_TRUE(lagging->WaitForLogLine("\"trigger\":\"edek\"", absl::Seconds(5)));
  EXPECT_EQ(CountLines(*lagging, "\"trigger\":\"edek\""), 1u);
  for (auto& consumer : consumers_) consumer->close();
}

}  // namespace
}  // namespace keybroker::sdk::kafka
