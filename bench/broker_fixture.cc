#include "bench/broker_fixture.h"

#include <openssl/rand.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/azure_broker_config.h"
#include "tests/integration/http_get.h"
#include "tests/integration/prometheus_text.h"
#include "tests/testing/files.h"

namespace keybroker::bench {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(60);

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  return absl::BytesToHexString(raw);
}

}  // namespace

absl::StatusOr<std::unique_ptr<BenchBroker>> BenchBroker::StartLocal(
    const std::vector<std::string>& aliases, const std::string& more_settings) {
  std::unique_ptr<BenchBroker> broker(new BenchBroker());
  const testing::TempDir& dir = broker->dir_;
  testing::WriteAll(dir.File("master-key"), RandomHex(32) + "\n");
  std::string config = absl::StrCat("listen: 127.0.0.1:0\nmetrics_listen: 127.0.0.1:0\n",
                                    more_settings, "kms:\n  local:\n    keyring_file: ",
                                    dir.File("keyring"), "\n    master_key_file: ",
                                    dir.File("master-key"), "\nkeys:\n");
  for (const std::string& alias : aliases) {
    absl::StrAppend(&config, "  - alias: ", alias, "\n    local_key: ", alias, "\n");
  }
  testing::WriteAll(dir.File("keybroker.yaml"), config);
  auto process =
      testing::BrokerProcess::Start({"--config", dir.File("keybroker.yaml")}, {}, kStartTimeout);
  if (!process.ok()) return process.status();
  broker->process_ = *std::move(process);
  if (absl::Status checked = broker->WaitForKeyChecks(); !checked.ok()) return checked;
  return broker;
}

absl::StatusOr<std::unique_ptr<BenchBroker>> BenchBroker::StartAzureRsa(
    const std::string& alias, int cache_ttl_seconds, const std::string& more_cache) {
  std::unique_ptr<BenchBroker> broker(new BenchBroker());
  const testing::TempDir& dir = broker->dir_;
  auto emulator = testing::StartEmulatorWithSecretPrincipal(dir.path(), RandomHex(16));
  if (!emulator.ok()) return emulator.status();
  broker->emulator_ = *std::move(emulator);
  auto created = broker->emulator_->Control(
      "create-key", {{"host", "kv1"}, {"name", "bench-rsa"}, {"kty", "RSA"}, {"size", 2048}});
  if (!created.ok()) return created.status();
  testing::AzureBrokerConfigOptions options;
  options.kv_ca_file = broker->emulator_->ca_file();
  options.cache_ttl_seconds = cache_ttl_seconds;
  options.secrets_dir = dir.path();
  options.more_settings = "metrics_listen: 127.0.0.1:0\n";
  options.more_cache = more_cache;
  options.keys =
      testing::AzureKeyConfig(*broker->emulator_, alias, "kv1", "bench-rsa", "app", false);
  testing::WriteAll(dir.File("keybroker.yaml"),
                    testing::AzureBrokerConfig(*broker->emulator_, options));
  auto process =
      testing::BrokerProcess::Start({"--config", dir.File("keybroker.yaml")}, {}, kStartTimeout);
  if (!process.ok()) return process.status();
  broker->process_ = *std::move(process);
  if (absl::Status checked = broker->WaitForKeyChecks(); !checked.ok()) return checked;
  return broker;
}

absl::StatusOr<std::unique_ptr<BenchBroker>> BenchBroker::StartEmbeddedDefault() {
  std::unique_ptr<BenchBroker> broker(new BenchBroker());
  auto process = testing::BrokerProcess::Start(
      {"--listen", "127.0.0.1:0", "--data-dir", broker->dir_.path(), "--metrics-listen",
       "127.0.0.1:0"},
      {}, kStartTimeout);
  if (!process.ok()) return process.status();
  broker->process_ = *std::move(process);
  const absl::Time deadline = absl::Now() + kStartTimeout;
  while (absl::Now() < deadline) {
    auto ready = testing::HttpGet(broker->process_->MetricsAddress(), "/readyz");
    if (ready.ok() && ready->status == 200) return broker;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError("keybroker never became ready");
}

absl::Status BenchBroker::WaitForKeyChecks() {
  if (!process_->WaitForLogLine("key_checks_done", kStartTimeout)) {
    return absl::DeadlineExceededError("keybroker's start-up key checks did not finish");
  }
  return absl::OkStatus();
}

absl::StatusOr<double> BenchBroker::ScrapeSum(const std::string& metric,
                                               const testing::PrometheusLabels& subset) const {
  auto response = testing::HttpGet(process_->MetricsAddress(), "/metrics");
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return absl::UnavailableError(absl::StrCat("/metrics answered ", response->status));
  }
  auto scrape = testing::PrometheusScrape::Parse(response->body);
  if (!scrape.ok()) return scrape.status();
  return scrape->Sum(metric, subset);
}

absl::StatusOr<int64_t> BenchBroker::EmulatorRequests(const std::string& host) {
  if (emulator_ == nullptr) return absl::FailedPreconditionError("no emulator");
  auto counts = emulator_->Control("counts");
  if (!counts.ok()) return counts.status();
  int64_t total = 0;
  if (counts->contains(host)) {
    for (const auto& [operation, count] : (*counts)[host].items()) total += count.get<int64_t>();
  }
  return total;
}

}  // namespace keybroker::bench
