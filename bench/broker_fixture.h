// The real keybroker binary for benchmarks, started the way the integration
// tests start it (tests/integration/broker_process.h): on a loopback port,
// with /metrics on another, either on a local keyring or with an Azure RSA
// key in the Key Vault emulator (tests/fakes/keyvault_emulator, over HTTPS).
//
// A BenchBroker owns its temporary directory, its broker process and, for
// the Azure kind, the emulator; all stop when it is destroyed. Not safe for
// concurrent use (the scrapes are).
#ifndef KEYBROKER_BENCH_BROKER_FIXTURE_H_
#define KEYBROKER_BENCH_BROKER_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/integration/broker_process.h"
#include "tests/integration/keyvault_emulator_process.h"
#include "tests/integration/prometheus_text.h"
#include "tests/testing/temp_dir.h"

namespace keybroker::bench {

class BenchBroker {
 public:
  // A broker on a fresh local keyring with one local key per alias in
  // `aliases`; `more_settings` are top-level YAML lines (e.g. "cache: ...\n").
  // Returns once its start-up key checks are done.
  static absl::StatusOr<std::unique_ptr<BenchBroker>> StartLocal(
      const std::vector<std::string>& aliases, const std::string& more_settings = "");

  // A broker whose `alias` is an RSA-2048 key in the emulator's vault "kv1",
  // reached through an Entra client-secret identity; `cache_ttl_seconds`
  // sets cache.metadata_ttl_seconds and cache.unwrap_ttl_seconds (30: the
  // broker's defaults); `more_cache` adds entries to the cache mapping
  // (", unwrap_max_entries: 1000"). Returns once its start-up key checks are
  // done.
  static absl::StatusOr<std::unique_ptr<BenchBroker>> StartAzureRsa(
      const std::string& alias, int cache_ttl_seconds, const std::string& more_cache = "");

  // The embedded default: `keybroker --listen 127.0.0.1:0 --data-dir DIR
  // --metrics-listen 127.0.0.1:0`, as scripts/run.sh starts it. Returns once
  // /readyz answers 200.
  static absl::StatusOr<std::unique_ptr<BenchBroker>> StartEmbeddedDefault();

  const std::string& address() const { return process_->address(); }
  pid_t pid() const { return process_->pid(); }
  testing::BrokerProcess& process() { return *process_; }
  // Null unless started by StartAzureRsa.
  testing::KeyVaultEmulator* emulator() { return emulator_.get(); }

  // The sum of every series of `metric` on the broker's /metrics.
  absl::StatusOr<double> ScrapeSum(const std::string& metric,
                                   const testing::PrometheusLabels& subset = {}) const;

  // The requests the emulator served to `host` ("kv1", "entra"), all
  // operations together; fails unless started by StartAzureRsa.
  absl::StatusOr<int64_t> EmulatorRequests(const std::string& host);

 private:
  BenchBroker() = default;
  absl::Status WaitForKeyChecks();

  testing::TempDir dir_;
  std::unique_ptr<testing::KeyVaultEmulator> emulator_;
  std::unique_ptr<testing::BrokerProcess> process_;
};

}  // namespace keybroker::bench

#endif  // KEYBROKER_BENCH_BROKER_FIXTURE_H_
