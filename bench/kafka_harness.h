// What kafka_producer_bench needs around librdkafka: a mock cluster in this
// process (librdkafka's built-in one, reached over loopback TCP like a real
// broker), producers that all get the same settings, and a produce loop that
// times records until every one of them was reported delivered.
//
// Both the plain producer and the one under the EncryptingProducer go
// through TimedRun with the same pacing (a bound on records in flight, the
// same poll cadence) and the same delivery accounting (a record counts only
// when its delivery report says it was written), so that the only
// difference between them is what the EncryptingProducer adds.
//
// Not safe for concurrent use: one thread produces and polls.
#ifndef KEYBROKER_BENCH_KAFKA_HARNESS_H_
#define KEYBROKER_BENCH_KAFKA_HARNESS_H_

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace keybroker::bench {

// A one-broker mock Kafka cluster living as long as this object.
class MockKafkaCluster {
 public:
  // Starts the cluster.
  static absl::StatusOr<std::unique_ptr<MockKafkaCluster>> Start();
  ~MockKafkaCluster();

  // Creates `topic` with `partitions` partitions (replication factor 1).
  absl::Status CreateTopic(const std::string& topic, int partitions);

  const std::string& bootstraps() const { return bootstraps_; }

 private:
  MockKafkaCluster() = default;
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstraps_;
};

// Counts delivery reports (served by the producer's poll()).
class DeliveryCounter : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override;
  int64_t delivered() const { return delivered_; }
  int64_t failed() const { return failed_; }
  const std::string& first_error() const { return first_error_; }

 private:
  int64_t delivered_ = 0;
  int64_t failed_ = 0;
  std::string first_error_;
};

// The settings every producer of the benchmark gets, written out rather
// than left to defaults so that both sides visibly share them.
struct ProducerSettings {
  std::string linger_ms = "5";
  std::string batch_size = "1000000";      // bytes per batch
  std::string batch_num_messages = "10000";
  std::string acks = "all";
  std::string compression = "none";
};

// Creates a producer on `bootstraps` with `settings`, reporting deliveries
// to `counter` (which must outlive it).
absl::StatusOr<std::unique_ptr<RdKafka::Producer>> NewProducer(const std::string& bootstraps,
                                                               const ProducerSettings& settings,
                                                               DeliveryCounter* counter);

struct RunResult {
  int64_t records = 0;
  double seconds = 0;  // from the first produce to the last delivery report
  double records_per_second() const { return seconds > 0 ? records / seconds : 0; }
};

// Produces `records` records by calling `produce_one` (which enqueues one
// record on `producer` and returns its status), keeping at most
// `max_in_flight` undelivered, then waits for every delivery report.
// Fails if a produce call or a delivery fails, or reports are missing after
// 60 s.
absl::StatusOr<RunResult> TimedRun(RdKafka::Producer& producer, DeliveryCounter& counter,
                                   int64_t records, int max_in_flight,
                                   const std::function<absl::Status()>& produce_one);

// CPU seconds (user + system) this process's threads have used so far,
// summed by thread name ("rdk:broker1", "rdk:mock", the main thread's...),
// from /proc/self/task: where a run's time went.
std::map<std::string, double> ThreadCpuSeconds();

// "app 2.10, rdk:broker1 0.95, ..." in microseconds per record: the CPU
// each thread name used between `before` and `after`, over `records`.
std::string CpuPerRecord(const std::map<std::string, double>& before,
                         const std::map<std::string, double>& after, int64_t records);

}  // namespace keybroker::bench

#endif  // KEYBROKER_BENCH_KAFKA_HARNESS_H_
