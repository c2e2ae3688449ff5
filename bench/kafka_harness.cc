#include "bench/kafka_harness.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace keybroker::bench {

absl::StatusOr<std::unique_ptr<MockKafkaCluster>> MockKafkaCluster::Start() {
  std::unique_ptr<MockKafkaCluster> mock(new MockKafkaCluster());
  char error[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", error, sizeof(error));
  // The cluster lives in a handle of its own; rd_kafka_new owns conf from here.
  mock->handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (mock->handle_ == nullptr) {
    return absl::InternalError(absl::StrCat("mock cluster handle: ", error));
  }
  mock->cluster_ = rd_kafka_mock_cluster_new(mock->handle_, 1);
  if (mock->cluster_ == nullptr) return absl::InternalError("cannot start the mock cluster");
  mock->bootstraps_ = rd_kafka_mock_cluster_bootstraps(mock->cluster_);
  return mock;
}

absl::Status MockKafkaCluster::CreateTopic(const std::string& topic, int partitions) {
  rd_kafka_resp_err_t created = rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
  if (created != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("mock topic ", topic, ": ", rd_kafka_err2str(created)));
  }
  return absl::OkStatus();
}

MockKafkaCluster::~MockKafkaCluster() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (handle_ != nullptr) rd_kafka_destroy(handle_);
}

void DeliveryCounter::dr_cb(RdKafka::Message& message) {
  if (message.err() == RdKafka::ERR_NO_ERROR) {
    ++delivered_;
    return;
  }
  if (failed_++ == 0) first_error_ = message.errstr();
}

absl::StatusOr<std::unique_ptr<RdKafka::Producer>> NewProducer(const std::string& bootstraps,
                                                               const ProducerSettings& settings,
                                                               DeliveryCounter* counter) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  const std::vector<std::pair<std::string, std::string>> values = {
      {"bootstrap.servers", bootstraps},
      {"linger.ms", settings.linger_ms},
      {"batch.size", settings.batch_size},
      {"batch.num.messages", settings.batch_num_messages},
      {"acks", settings.acks},
      {"compression.type", settings.compression},
      {"log_level", "3"}};
  for (const auto& [name, value] : values) {
    if (conf->set(name, value, error) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": ", error));
    }
  }
  if (conf->set("dr_cb", counter, error) != RdKafka::Conf::CONF_OK) {
    return absl::InvalidArgumentError(error);
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (producer == nullptr) return absl::InternalError(absl::StrCat("producer: ", error));
  return producer;
}

absl::StatusOr<RunResult> TimedRun(RdKafka::Producer& producer, DeliveryCounter& counter,
                                   int64_t records, int max_in_flight,
                                   const std::function<absl::Status()>& produce_one) {
  using Clock = std::chrono::steady_clock;
  // Poll every this many records, as a producing application would.
  constexpr int64_t kPollEvery = 64;
  const int64_t delivered_before = counter.delivered();
  const int64_t failed_before = counter.failed();
  const auto start = Clock::now();
  for (int64_t i = 0; i < records; ++i) {
    while (producer.outq_len() >= max_in_flight) producer.poll(1);
    absl::Status produced = produce_one();
    if (!produced.ok()) {
      return absl::Status(produced.code(), absl::StrCat("record ", i, ": ", produced.message()));
    }
    if (i % kPollEvery == 0) producer.poll(0);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (counter.delivered() + counter.failed() - delivered_before - failed_before < records) {
    if (Clock::now() > deadline) return absl::DeadlineExceededError("delivery reports missing");
    producer.poll(1);
  }
  RunResult result;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.records = counter.delivered() - delivered_before;
  if (counter.failed() != failed_before) {
    return absl::DataLossError(absl::StrCat(counter.failed() - failed_before,
                                            " records not delivered: ", counter.first_error()));
  }
  return result;
}

std::map<std::string, double> ThreadCpuSeconds() {
  std::map<std::string, double> seconds;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", error)) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // "tid (name) state ppid ...": the name may hold spaces, so split
    // after its closing parenthesis; utime and stime are fields 14 and 15.
    const size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ');
    if (fields.size() < 13) continue;
    const double used = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
    seconds[stat.substr(open + 1, close - open - 1)] += used;
  }
  return seconds;
}

std::string CpuPerRecord(const std::map<std::string, double>& before,
                         const std::map<std::string, double>& after, int64_t records) {
  std::vector<std::string> parts;
  for (const auto& [name, seconds] : after) {
    auto it = before.find(name);
    const double used = seconds - (it == before.end() ? 0 : it->second);
    if (used * 1e6 / records < 0.05) continue;
    parts.push_back(absl::StrFormat("%s %.2f", name, used * 1e6 / records));
  }
  return absl::StrCat("CPU us/record: ", absl::StrJoin(parts, ", "));
}

}  // namespace keybroker::bench
