// The broker's memory, read from /proc/PID/status of the real keybroker
// binary (bench/process_memory.h):
//
//   idle: started as scripts/run.sh starts it (`--listen --data-dir
//     --metrics-listen`: the embedded default configuration on a local
//     keyring), read once /readyz answers and start-up has settled.
//   under load, local keyring: `--calls` GenerateDek + Unwrap pairs from
//     `--concurrency` threads, every pair with a context of its own (so
//     every EDEK is new), twice; RSS after each load once it settled. If
//     anything kept what the calls left behind, the second load would add
//     as much again.
//   the unwrap cache (the one cache that grows with distinct EDEKs; it only
//     serves keys of a remote KMS): a broker with an RSA key in the Key
//     Vault emulator and cache.unwrap_max_entries = `--cache-entries`
//     (TTL long enough that nothing expires meanwhile); that many distinct
//     EDEKs unwrapped, then as many again. Once the cache is full, new
//     entries evict old ones, so the second fill must not grow RSS much.
//     The growth from half full to full, per entry, tells what the default
//     limit (100,000) costs.
//
//   broker_rss [--summary] [--calls N] [--concurrency C] [--settle S]
//              [--cache-entries N] [--no-key-vault]
//
// --summary prints only the markdown rows of bench/summary.h on stdout.
// Run through scripts/bench.sh; not part of the test suite.
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/broker_fixture.h"
#include "bench/process_memory.h"
#include "bench/summary.h"
#include "keybroker/sdk/client.h"

namespace keybroker::bench {
namespace {

constexpr double kIdleLimitBytes = 30.0 * 1024 * 1024;
// A second equal load may add this much at most: allocator slack, not a
// cache or a leak (those would add as much as the first load did).
constexpr double kBoundedGrowth = 1.10;
constexpr int64_t kDefaultUnwrapCacheEntries = 100000;

struct Flags {
  bool summary = false;
  int64_t calls = 50000;
  int concurrency = 16;
  double settle_seconds = 5;
  int64_t cache_entries = 4000;
  bool no_key_vault = false;
};

void Progress(const std::string& line) {
  std::fprintf(stderr, "broker_rss: %s\n", line.c_str());
}

// `pairs` GenerateDek (+ Unwrap, when `unwrap`) calls on `alias` from
// `concurrency` threads sharing one channel; each pair's context is
// {"load": tag, "n": its number}. Fails on the first failed call.
absl::Status CallLoad(const std::string& address, const std::string& alias, int concurrency,
                      int64_t pairs, const std::string& tag, bool unwrap) {
  sdk::ClientOptions options;
  options.target = address;
  options.timeout = absl::Seconds(30);
  auto client = sdk::Client::Create(options);
  if (!client.ok()) return client.status();
  std::atomic<int64_t> next{0};
  absl::Mutex mu;
  absl::Status first_error;
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      for (int64_t n = next++; n < pairs; n = next++) {
        const sdk::Context context = {{"load", tag}, {"n", absl::StrCat(n)}};
        absl::Status status;
        auto dek = (*client)->GenerateDek(alias, context);
        if (!dek.ok()) {
          status = dek.status();
        } else if (unwrap) {
          status = (*client)->Unwrap(dek->edek, context).status();
        }
        if (!status.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) first_error = status;
          next = pairs;  // stop every thread
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return first_error;
}

// Reads the broker's memory after `settle_seconds`, logging it as `what`.
absl::StatusOr<ProcessMemory> SettledMemory(BenchBroker& broker, double settle_seconds,
                                            const std::string& what) {
  absl::SleepFor(absl::Seconds(settle_seconds));
  auto memory = ReadProcessMemory(broker.pid());
  if (memory.ok()) Progress(absl::StrCat(what, ": ", Describe(*memory)));
  return memory;
}

absl::Status IdleAndLocalLoad(const Flags& flags) {
  auto broker = BenchBroker::StartEmbeddedDefault();
  if (!broker.ok()) return broker.status();
  auto idle = SettledMemory(**broker, 2, "idle");
  if (!idle.ok()) return idle.status();
  PrintRow({"broker idle RSS (embedded default config, local keyring, /metrics on)",
            Mebibytes(idle->rss_bytes), "limit", "-", "<= 30 MiB",
            idle->rss_bytes <= kIdleLimitBytes});

  std::vector<ProcessMemory> after;
  for (int load = 1; load <= 2; ++load) {
    const absl::Time start = absl::Now();
    absl::Status loaded = CallLoad((*broker)->address(), "default", flags.concurrency,
                                   flags.calls, absl::StrCat("local-", load), /*unwrap=*/true);
    if (!loaded.ok()) return loaded;
    auto right_after = ReadProcessMemory((*broker)->pid());
    if (!right_after.ok()) return right_after.status();
    Progress(absl::StrFormat("load %d: %s GenerateDek+Unwrap pairs in %.1f s; right after: %s",
                             load, WithSeparators(flags.calls),
                             absl::ToDoubleSeconds(absl::Now() - start), Describe(*right_after)));
    auto settled = SettledMemory(**broker, flags.settle_seconds,
                                 absl::StrCat("load ", load, ", settled"));
    if (!settled.ok()) return settled.status();
    after.push_back(*settled);
  }
  const double ratio = after[1].rss_bytes / after[0].rss_bytes;
  PrintRow({absl::StrFormat("broker RSS after 2 x %s GenerateDek+Unwrap (distinct contexts, %d "
                            "concurrent, local keyring), settled",
                            WithSeparators(flags.calls), flags.concurrency),
            Mebibytes(after[1].rss_bytes),
            absl::StrCat("after the first load: ", Mebibytes(after[0].rss_bytes), " (idle ",
                         Mebibytes(idle->rss_bytes), ", peak ", Mebibytes(after[1].hwm_bytes),
                         ")"),
            Percent(ratio), "<= 110% (bounded)", ratio <= kBoundedGrowth});
  return absl::OkStatus();
}

absl::Status UnwrapCacheFill(const Flags& flags) {
  const std::string alias = "kek-rsa";
  const int64_t limit = flags.cache_entries;
  // A TTL longer than the run: entries leave the cache only by eviction.
  // (Keys whose unwraps are cached go on being probed: the probe's idle
  // limit may not be shorter than the TTL.)
  auto broker = BenchBroker::StartAzureRsa(
      alias, /*cache_ttl_seconds=*/3600,
      absl::StrCat(", unwrap_max_entries: ", limit, ", access_probe_idle_seconds: 3600"));
  if (!broker.ok()) return broker.status();
  auto before = SettledMemory(**broker, 2, "RSA broker before unwraps");
  if (!before.ok()) return before.status();
  // Distinct EDEKs unwrapped so far, and RSS after each step: half the
  // limit (connections, threads and arenas are warm by then), the limit
  // (the cache is full), twice the limit (every new entry evicted one).
  int64_t unwrapped = 0;
  std::vector<ProcessMemory> after;
  for (int64_t step : {limit / 2, limit - limit / 2, limit}) {
    const absl::Time start = absl::Now();
    absl::Status loaded = CallLoad((*broker)->address(), alias, flags.concurrency, step,
                                   absl::StrCat("from-", unwrapped), /*unwrap=*/true);
    if (!loaded.ok()) return loaded;
    unwrapped += step;
    Progress(absl::StrFormat("%s distinct EDEKs unwrapped in %.1f s", WithSeparators(step),
                             absl::ToDoubleSeconds(absl::Now() - start)));
    auto settled = SettledMemory(**broker, flags.settle_seconds,
                                 absl::StrCat(WithSeparators(unwrapped), " unwrapped, settled"));
    if (!settled.ok()) return settled.status();
    after.push_back(*settled);
  }
  const double per_entry = (after[1].rss_bytes - after[0].rss_bytes) / (limit - limit / 2);
  Progress(absl::StrFormat(
      "unwrap cache: about %.0f bytes of RSS per entry (from half full to full); at the "
      "default limit of %s entries that is about %s",
      per_entry, WithSeparators(kDefaultUnwrapCacheEntries),
      Mebibytes(per_entry * kDefaultUnwrapCacheEntries)));
  const double ratio = after[2].rss_bytes / after[1].rss_bytes;
  PrintRow({absl::StrFormat("broker RSS after unwrapping 2 x %s distinct RSA EDEKs "
                            "(unwrap_max_entries %s), settled",
                            WithSeparators(limit), WithSeparators(limit)),
            Mebibytes(after[2].rss_bytes),
            absl::StrCat("cache just full: ", Mebibytes(after[1].rss_bytes), " (before any: ",
                         Mebibytes(before->rss_bytes), ", half full: ",
                         Mebibytes(after[0].rss_bytes), ")"),
            Percent(ratio), "<= 110% (bounded)", ratio <= kBoundedGrowth});
  return absl::OkStatus();
}

}  // namespace
}  // namespace keybroker::bench

int main(int argc, char** argv) {
  using namespace keybroker::bench;  // NOLINT: one file's main
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  Flags flags;
  CLI::App app{"the keybroker binary's memory: idle, under load, with its caches full"};
  app.add_flag("--summary", flags.summary, "print only the summary table rows on stdout");
  app.add_option("--calls", flags.calls, "GenerateDek+Unwrap pairs per local-keyring load");
  app.add_option("--concurrency", flags.concurrency, "calling threads");
  app.add_option("--settle", flags.settle_seconds, "seconds to wait before reading RSS");
  app.add_option("--cache-entries", flags.cache_entries,
                 "unwrap_max_entries of the RSA broker, and EDEKs per fill");
  app.add_flag("--no-key-vault", flags.no_key_vault, "skip the unwrap cache run (emulator)");
  CLI11_PARSE(app, argc, argv);
  if (!flags.summary) {
    std::printf("| comparison | measured | baseline | ratio | target | met |\n"
                "| --- | --- | --- | --- | --- | --- |\n");
  }
  absl::Status done = IdleAndLocalLoad(flags);
  if (done.ok() && !flags.no_key_vault) done = UnwrapCacheFill(flags);
  if (!done.ok()) {
    Progress(absl::StrCat("failed: ", done.ToString()));
    return 1;
  }
  return 0;
}
