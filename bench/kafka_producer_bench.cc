// End to end for Kafka: the EncryptingProducer (client_sdk/kafka) against a
// plain librdkafka producer, on one mock cluster (librdkafka's built-in one)
// in the same run, plus what the encrypting side costs in broker and Key
// Vault calls.
//
//   throughput: 1 KiB records, one producing thread. The plain producer and
//     the producer under the EncryptingProducer have the same settings
//     (kafka_harness.h: linger, batch size, acks=all, no compression) and
//     are driven by the same loop, which counts a record only once its
//     delivery report says it was written. They alternate, `--rounds` times
//     `--records` each, after an untimed warm-up; medians are compared. The
//     EncryptingProducer's DEKs come from the real keybroker binary (local
//     keyring) over loopback gRPC, with the SDK's default settings.
//   broker calls per million records: a fresh Encryptor (default settings)
//     encrypts `--count-records` records through the EncryptingProducer;
//     the broker's keybroker_rpc_requests_total before and after, but for
//     the Encryptor's one WatchKeys stream (open for its life).
//   Key Vault calls per million records: the same against a broker whose key
//     is an RSA-2048 key in the Key Vault emulator (tests/fakes), counting
//     the emulator's requests (GET /control/counts).
//
//   kafka_producer_bench [--summary] [--records N] [--rounds N]
//                        [--count-records N] [--no-key-vault]
//
// --summary prints only the markdown rows of bench/summary.h on stdout.
// Run through scripts/bench.sh; not part of the test suite.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "bench/broker_fixture.h"
#include "bench/kafka_harness.h"
#include "bench/summary.h"
#include "keybroker/sdk/client.h"
#include "keybroker/sdk/encryptor.h"
#include "keybroker/sdk/kafka/encrypting_producer.h"

namespace keybroker::bench {
namespace {

constexpr char kTopic[] = "bench";        // alias kek-bench: a local key
constexpr char kRsaTopic[] = "bench-rsa";  // alias kek-bench-rsa: an RSA key in Key Vault
constexpr int kRecordBytes = 1024;
// Records in flight (enqueued, not yet reported delivered) per producer.
constexpr int kMaxInFlight = 50000;
constexpr int64_t kWarmupRecords = 20000;
// The Encryptor's defaults (keybroker/sdk/encryptor.h): a DEK serves 2^24
// encryptions or 5 minutes, and the next is fetched at 75% of either.
constexpr double kDekEncryptions = 16777216;
constexpr double kDekSeconds = 300;
constexpr double kRefreshAt = 0.75;

struct Flags {
  bool summary = false;
  int64_t records = 200000;
  int rounds = 3;
  int64_t count_records = 1000000;
  bool no_key_vault = false;
};

void Progress(const std::string& line) {
  std::fprintf(stderr, "kafka_producer_bench: %s\n", line.c_str());
}

// One Kafka producer with its delivery counter (declared first: it must
// outlive the producer).
struct CountedProducer {
  DeliveryCounter counter;
  std::unique_ptr<RdKafka::Producer> producer;
};

absl::StatusOr<std::unique_ptr<CountedProducer>> NewCountedProducer(
    const std::string& bootstraps) {
  auto counted = std::make_unique<CountedProducer>();
  auto producer = NewProducer(bootstraps, ProducerSettings{}, &counted->counter);
  if (!producer.ok()) return producer.status();
  counted->producer = *std::move(producer);
  return counted;
}

// The value every record carries: 1 KiB of varied bytes.
std::string RecordValue() {
  std::string value(kRecordBytes, '\0');
  for (int i = 0; i < kRecordBytes; ++i) value[i] = static_cast<char>('a' + (i * 7) % 26);
  return value;
}

// An Encryptor with the SDK's defaults and an EncryptingProducer over `kafka`.
struct EncryptingSide {
  std::unique_ptr<sdk::Client> client;
  std::unique_ptr<sdk::Encryptor> encryptor;
  std::unique_ptr<sdk::kafka::EncryptingProducer> producer;
};

absl::StatusOr<EncryptingSide> NewEncryptingSide(const std::string& broker_address,
                                                 RdKafka::Producer* kafka) {
  EncryptingSide side;
  sdk::ClientOptions options;
  options.target = broker_address;
  auto client = sdk::Client::Create(options);
  if (!client.ok()) return client.status();
  side.client = *std::move(client);
  auto encryptor = sdk::Encryptor::Create(side.client.get(), {});
  if (!encryptor.ok()) return encryptor.status();
  side.encryptor = *std::move(encryptor);
  auto producer = sdk::kafka::EncryptingProducer::Create(kafka, side.encryptor.get(), {});
  if (!producer.ok()) return producer.status();
  side.producer = *std::move(producer);
  return side;
}

absl::StatusOr<RunResult> RunPlain(CountedProducer& plain, const std::string& value,
                                   int64_t records) {
  return TimedRun(*plain.producer, plain.counter, records, kMaxInFlight, [&]() {
    RdKafka::ErrorCode code = plain.producer->produce(
        kTopic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
        const_cast<char*>(value.data()), value.size(), nullptr, 0, 0, nullptr);
    if (code == RdKafka::ERR_NO_ERROR) return absl::OkStatus();
    return absl::UnavailableError(RdKafka::err2str(code));
  });
}

absl::StatusOr<RunResult> RunEncrypting(CountedProducer& kafka, EncryptingSide& side,
                                        const std::string& topic, const std::string& value,
                                        int64_t records) {
  sdk::kafka::ProducerRecord record;
  record.topic = topic;
  record.value = value;
  return TimedRun(*kafka.producer, kafka.counter, records, kMaxInFlight,
                  [&]() { return side.producer->Produce(record); });
}

// How many DEKs a run of `records` records over `seconds` may fetch with the
// default settings: the first, and one more each time 75% of a DEK's
// budget (encryptions or age) is used.
double DekFetchesAllowed(int64_t records, double seconds) {
  const double by_count = records / (kRefreshAt * kDekEncryptions);
  const double by_age = seconds / (kRefreshAt * kDekSeconds);
  return 1 + std::floor(std::max(by_count, by_age));
}

absl::Status Throughput(const Flags& flags, BenchBroker& broker, const std::string& bootstraps) {
  auto plain = NewCountedProducer(bootstraps);
  if (!plain.ok()) return plain.status();
  auto under_encryption = NewCountedProducer(bootstraps);
  if (!under_encryption.ok()) return under_encryption.status();
  auto side = NewEncryptingSide(broker.address(), (*under_encryption)->producer.get());
  if (!side.ok()) return side.status();
  const std::string value = RecordValue();
  // Warm-up, untimed: connections, metadata, the first DEK.
  if (auto warm = RunPlain(**plain, value, kWarmupRecords); !warm.ok()) return warm.status();
  if (auto warm = RunEncrypting(**under_encryption, *side, kTopic, value, kWarmupRecords);
      !warm.ok()) {
    return warm.status();
  }
  std::vector<double> plain_rates, encrypting_rates;
  for (int round = 0; round < flags.rounds; ++round) {
    const auto cpu_start = ThreadCpuSeconds();
    auto p = RunPlain(**plain, value, flags.records);
    if (!p.ok()) return p.status();
    const auto cpu_between = ThreadCpuSeconds();
    auto e = RunEncrypting(**under_encryption, *side, kTopic, value, flags.records);
    if (!e.ok()) return e.status();
    const auto cpu_end = ThreadCpuSeconds();
    plain_rates.push_back(p->records_per_second());
    encrypting_rates.push_back(e->records_per_second());
    Progress(absl::StrFormat("round %d: plain %s rec/s (%s); encrypting %s rec/s (%s)",
                             round + 1, WithSeparators(p->records_per_second()),
                             CpuPerRecord(cpu_start, cpu_between, p->records),
                             WithSeparators(e->records_per_second()),
                             CpuPerRecord(cpu_between, cpu_end, e->records)));
  }
  const double plain_median = Median(plain_rates), encrypting_median = Median(encrypting_rates);
  const double ratio = encrypting_median / plain_median;
  PrintRow({"EncryptingProducer 1 KiB records, 1 thread, mock cluster (acks=all)",
            absl::StrCat(WithSeparators(encrypting_median), " rec/s"),
            absl::StrCat("plain librdkafka producer, same settings: ",
                         WithSeparators(plain_median), " rec/s"),
            Percent(ratio), ">= 90%", ratio >= 0.9});
  return absl::OkStatus();
}

// Runs `records` records of `topic` through a fresh Encryptor (default
// settings) on the broker at `broker_address`.
absl::StatusOr<RunResult> CountedRun(const std::string& broker_address, const std::string& topic,
                                     int64_t records, const std::string& bootstraps) {
  auto kafka = NewCountedProducer(bootstraps);
  if (!kafka.ok()) return kafka.status();
  auto side = NewEncryptingSide(broker_address, (*kafka)->producer.get());
  if (!side.ok()) return side.status();
  return RunEncrypting(**kafka, *side, topic, RecordValue(), records);
}

// "0 per 1M records", or on fewer records "0.0 per 1M records (0 in
// 100,000 records, scaled)".
std::string PerMillion(double calls, int64_t records) {
  if (records == 1000000) return absl::StrFormat("%.0f per 1M records", calls);
  return absl::StrFormat("%.1f per 1M records (%s in %s records, scaled)", calls * 1e6 / records,
                         WithSeparators(calls), WithSeparators(static_cast<double>(records)));
}

// The broker's calls so far, but for WatchKeys streams: an Encryptor holds
// one open for its life (it is counted when it ends), whatever it encrypts.
absl::StatusOr<double> CallsButWatches(const BenchBroker& broker) {
  auto all = broker.ScrapeSum("keybroker_rpc_requests_total");
  if (!all.ok()) return all.status();
  auto watches = broker.ScrapeSum("keybroker_rpc_requests_total", {{"method", "WatchKeys"}});
  if (!watches.ok()) return watches.status();
  return *all - *watches;
}

absl::Status BrokerCalls(const Flags& flags, BenchBroker& broker, const std::string& bootstraps) {
  auto before = CallsButWatches(broker);
  if (!before.ok()) return before.status();
  auto run = CountedRun(broker.address(), kTopic, flags.count_records, bootstraps);
  if (!run.ok()) return run.status();
  auto after = CallsButWatches(broker);
  if (!after.ok()) return after.status();
  const double calls = *after - *before;
  const double allowed = DekFetchesAllowed(run->records, run->seconds);
  Progress(absl::StrFormat("%s records in %.1f s through a fresh Encryptor: %.0f broker calls "
                           "besides its key watch stream (%.0f DEK lifetimes begun)",
                           WithSeparators(run->records), run->seconds, calls, allowed));
  // Broker calls go by DEK lifetime, not by record: scaling a shorter run
  // up to a million records would count its one fetch many times.
  std::string measured = absl::StrFormat("%.0f for %s records", calls,
                                         WithSeparators(static_cast<double>(run->records)));
  if (run->records < 1000000) absl::StrAppend(&measured, " (fewer than 1M: not scaled)");
  PrintRow({"broker calls while encrypting 1M records, default SDK settings (local keyring; "
            "the Encryptor's one WatchKeys stream not counted)",
            measured,
            absl::StrFormat("DEK lifetimes begun (2^24 records or 5 min each): %.0f", allowed),
            "-", "<= 1 per DEK lifetime", calls <= allowed});
  return absl::OkStatus();
}

absl::Status KeyVaultCalls(const Flags& flags, const std::string& bootstraps) {
  const std::string topic = kRsaTopic;
  auto broker = BenchBroker::StartAzureRsa("kek-" + topic, /*cache_ttl_seconds=*/30);
  if (!broker.ok()) return broker.status();
  auto vault_before = (*broker)->EmulatorRequests("kv1");
  auto entra_before = (*broker)->EmulatorRequests("entra");
  auto rpcs_before = CallsButWatches(**broker);
  if (!vault_before.ok() || !entra_before.ok() || !rpcs_before.ok()) {
    return absl::UnavailableError("cannot read the emulator's or the broker's counts");
  }
  auto run = CountedRun((*broker)->address(), topic, flags.count_records, bootstraps);
  if (!run.ok()) return run.status();
  auto vault_after = (*broker)->EmulatorRequests("kv1");
  auto entra_after = (*broker)->EmulatorRequests("entra");
  auto rpcs_after = CallsButWatches(**broker);
  if (!vault_after.ok() || !entra_after.ok() || !rpcs_after.ok()) {
    return absl::UnavailableError("cannot read the emulator's or the broker's counts");
  }
  const double vault = static_cast<double>(*vault_after - *vault_before);
  Progress(absl::StrFormat(
      "RSA key: %s records in %.1f s: %.0f broker calls, %.0f Key Vault requests, %.0f Entra "
      "requests",
      WithSeparators(run->records), run->seconds, *rpcs_after - *rpcs_before, vault,
      static_cast<double>(*entra_after - *entra_before)));
  PrintRow({"Key Vault calls per 1M records encrypted, RSA-2048 key, default settings",
            PerMillion(vault, run->records), "limit", "-", "0", vault == 0});
  return absl::OkStatus();
}

int Fail(const absl::Status& status) {
  Progress(absl::StrCat("failed: ", status.ToString()));
  return 1;
}

}  // namespace
}  // namespace keybroker::bench

int main(int argc, char** argv) {
  using namespace keybroker::bench;  // NOLINT: one file's main
  // As the broker does, and as the README asks of SDK users: Debian's
  // Abseil checks every Mutex lock for deadlock cycles otherwise.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  Flags flags;
  CLI::App app{"EncryptingProducer vs. plain librdkafka on a mock cluster"};
  app.add_flag("--summary", flags.summary, "print only the summary table rows on stdout");
  app.add_option("--records", flags.records, "records per timed round");
  app.add_option("--rounds", flags.rounds, "rounds of each producer (the median is reported)");
  app.add_option("--count-records", flags.count_records,
                 "records encrypted while broker and Key Vault calls are counted");
  app.add_flag("--no-key-vault", flags.no_key_vault, "skip the Key Vault emulator run");
  CLI11_PARSE(app, argc, argv);
  if (!flags.summary) {
    std::printf("| comparison | measured | baseline | ratio | target | met |\n"
                "| --- | --- | --- | --- | --- | --- |\n");
  }

  auto cluster = MockKafkaCluster::Start();
  if (!cluster.ok()) return Fail(cluster.status());
  for (const char* topic : {kTopic, kRsaTopic}) {
    if (absl::Status created = (*cluster)->CreateTopic(topic, 1); !created.ok()) {
      return Fail(created);
    }
  }
  auto broker = BenchBroker::StartLocal({std::string("kek-") + kTopic});
  if (!broker.ok()) return Fail(broker.status());
  if (absl::Status done = Throughput(flags, **broker, (*cluster)->bootstraps()); !done.ok()) {
    return Fail(done);
  }
  if (absl::Status done = BrokerCalls(flags, **broker, (*cluster)->bootstraps()); !done.ok()) {
    return Fail(done);
  }
  broker->reset();
  if (!flags.no_key_vault) {
    if (absl::Status done = KeyVaultCalls(flags, (*cluster)->bootstraps()); !done.ok()) {
      return Fail(done);
    }
  }
  return 0;
}
