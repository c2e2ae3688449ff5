// The SDK's warm hot paths against raw AES-GCM (bench/raw_aes_gcm.h), in one
// run: records of 64 B, 1 KiB and 16 KiB sealed (opened) on 1 and 2 threads,
// in seven pairs of rounds of `--seconds` each, the baseline and the SDK
// alternating. Figures are medians over the rounds; a ratio is the median of
// the seven pairs' ratios, so that the machine's drift (a VM's neighbours)
// falls on both sides of each pair.
//
//   Encrypt       Encryptor::Encrypt, returning a new string per record (also
//                 against raw AES-GCM returning a new string: the cost of the
//                 allocation is the API's, not the SDK's)
//   EncryptInto   Encryptor::EncryptInto, into the caller's reused buffer
//   Decrypt       Encryptor::Decrypt of one ciphertext, its DEK cached,
//                 returning a new string (also against raw AES-GCM returning
//                 a new string)
//   DecryptInto   Encryptor::DecryptInto, into the caller's reused buffer
//
// The DEKs come from an in-process source (random DEKs, 105-byte opaque EDEKs
// like the local keyring's): warm, the SDK makes no call to it, which is what
// is measured. Both sides authenticate the same 16-byte caller aad; the SDK
// also authenticates its header (format byte, EDEK, nonce), part of its
// format.
//
//   sdk_throughput [--summary] [--seconds S] [--only NAME] [--size BYTES]
//                  [--side both|sdk|raw]
//
// --only and --size measure one kind or size alone, --side one side alone
// (for a profiler; the ratios are then meaningless).
//
// --summary prints only the markdown rows of bench/summary.h on stdout.
// Run through scripts/bench.sh; not part of the test suite.
#include <openssl/rand.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/raw_aes_gcm.h"
#include "bench/summary.h"
#include "keybroker/sdk/encryptor.h"

namespace keybroker::bench {
namespace {

constexpr size_t kEdekSize = 105;  // the local keyring's (docs/ciphertext-format.md)
constexpr char kAad[] = "tenant-42/topic7";
constexpr char kAlias[] = "bench";
constexpr int kPairs = 7;

std::string RandomBytes(size_t size) {
  std::string out(size, '\0');
  if (RAND_bytes(reinterpret_cast<uint8_t*>(out.data()), static_cast<int>(size)) != 1) {
    std::abort();
  }
  return out;
}

// Hands out random DEKs under opaque EDEKs and gives them back on Unwrap.
class InProcessDekSource : public sdk::DekSource {
 public:
  absl::StatusOr<sdk::DataKey> GenerateDek(absl::string_view, const sdk::Context&) override {
    sdk::DataKey key;
    key.plaintext = crypto::SecretBytes::CopyFrom(RandomBytes(32));
    key.edek = RandomBytes(kEdekSize);
    absl::MutexLock lock(&mu_);
    deks_[key.edek] = key.plaintext.Clone();
    return key;
  }
  absl::StatusOr<crypto::SecretBytes> Unwrap(absl::string_view edek, const sdk::Context&) override {
    absl::MutexLock lock(&mu_);
    auto it = deks_.find(std::string(edek));
    if (it == deks_.end()) return absl::NotFoundError("unknown EDEK");
    return it->second.Clone();
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, crypto::SecretBytes> deks_ ABSL_GUARDED_BY(mu_);
};

// Runs `work` (one record per call, returning false on failure) on `threads`
// threads for `seconds`; returns records per second, or -1 on a failure.
// `make_work` builds each thread's work (its own contexts and buffers).
double Run(int threads, double seconds, const std::function<std::function<bool()>()>& make_work) {
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::atomic<int> ready{0};
  std::vector<uint64_t> counts(threads, 0);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::function<bool()> work = make_work();
      ready.fetch_add(1);
      while (ready.load() < threads) {
      }
      uint64_t n = 0;
      // Checking the flag every 64 records keeps it off the measured path.
      while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 64; ++i) {
          if (!work()) {
            failed = true;
            stop = true;
            break;
          }
        }
        n += 64;
      }
      counts[t] = n;
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  const absl::Time start = absl::Now();
  absl::SleepFor(absl::Seconds(seconds));
  stop = true;
  for (std::thread& w : workers) w.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  if (failed) return -1;
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  return static_cast<double>(total) / elapsed;
}

struct Case {
  std::string name;  // "Encrypt", "EncryptInto", "Decrypt", "DecryptInto"
  size_t size;
  int threads;
  double sdk = 0;  // records/s, medians
  double raw = 0;
  // Encrypt and Decrypt only: raw AES-GCM into a new std::string per
  // record, as they must return one (allocation and clearing included).
  double raw_new = 0;
  double ratio = 0;  // median of the pairs' SDK / raw
  double ratio_new = 0;
};

bool IsDecrypt(const Case& c) { return c.name == "Decrypt" || c.name == "DecryptInto"; }
bool ReturnsNewString(const Case& c) { return c.name == "Encrypt" || c.name == "Decrypt"; }

class Bench {
 public:
  Bench(double seconds, std::string side) : seconds_(seconds), side_(std::move(side)) {
    auto encryptor = sdk::Encryptor::Create(&source_, sdk::EncryptorOptions{});
    if (!encryptor.ok()) std::abort();
    encryptor_ = *std::move(encryptor);
    key_ = RandomBytes(32);
  }

  // Measures `c`, alternating the SDK and the baseline.
  void Measure(Case& c) {
    const std::string record = RandomBytes(c.size);
    absl::StatusOr<std::string> ciphertext = encryptor_->Encrypt(kAlias, record, kAad);
    if (!ciphertext.ok()) std::abort();  // also warms the alias
    std::string sealed;
    RawAesGcm(key_).Seal(record, kAad, sealed);
    std::vector<double> sdk, raw, raw_new, ratios, ratios_new;
    for (int pair = 0; pair < kPairs; ++pair) {
      raw.push_back(side_ == "sdk" ? 1 : Run(c.threads, seconds_, [&]() -> std::function<bool()> {
        auto aead = std::make_shared<RawAesGcm>(key_);
        auto out = std::make_shared<std::string>();
        if (IsDecrypt(c)) {
          return [aead, out, &sealed] { return aead->Open(sealed, kAad, *out); };
        }
        return [aead, out, &record] { return aead->Seal(record, kAad, *out); };
      }));
      sdk.push_back(side_ == "raw" ? 1 : Run(c.threads, seconds_, [&]() -> std::function<bool()> {
        sdk::Encryptor* e = encryptor_.get();
        if (c.name == "Decrypt") {
          return [e, &ciphertext] { return e->Decrypt(*ciphertext, kAad).ok(); };
        }
        if (c.name == "DecryptInto") {
          auto out = std::make_shared<std::string>();
          return [e, out, &ciphertext] { return e->DecryptInto(*ciphertext, kAad, *out).ok(); };
        }
        if (c.name == "EncryptInto") {
          auto out = std::make_shared<std::string>();
          return [e, out, &record] { return e->EncryptInto(kAlias, record, kAad, *out).ok(); };
        }
        return [e, &record] { return e->Encrypt(kAlias, record, kAad).ok(); };
      }));
      ratios.push_back(sdk.back() / raw.back());
      if (ReturnsNewString(c) && side_ == "both") {
        raw_new.push_back(Run(c.threads, seconds_, [&]() -> std::function<bool()> {
          auto aead = std::make_shared<RawAesGcm>(key_);
          if (IsDecrypt(c)) {
            return [aead, &sealed] {
              std::string out;
              return aead->Open(sealed, kAad, out);
            };
          }
          return [aead, &record] {
            std::string out;
            return aead->Seal(record, kAad, out);
          };
        }));
        ratios_new.push_back(sdk.back() / raw_new.back());
      }
      std::fprintf(stderr, "%-11s %6zu B %d thread(s), pair %d: SDK %s/s, raw %s/s (%.0f%%)\n",
                   c.name.c_str(), c.size, c.threads, pair + 1, WithSeparators(sdk.back()).c_str(),
                   WithSeparators(raw.back()).c_str(), 100 * ratios.back());
    }
    c.sdk = Median(sdk);
    c.raw = Median(raw);
    c.raw_new = Median(raw_new);
    c.ratio = Median(ratios);
    c.ratio_new = Median(ratios_new);
  }

 private:
  const double seconds_;
  const std::string side_;  // "both", or only "sdk" or "raw" (for a profiler)
  InProcessDekSource source_;
  std::unique_ptr<sdk::Encryptor> encryptor_;
  std::string key_;
};

std::string SizeName(size_t size) {
  return size >= 1024 ? absl::StrCat(size / 1024, " KiB") : absl::StrCat(size, " B");
}

// One row: the SDK against raw AES-GCM at the same size and thread count.
SummaryRow AgainstRaw(const Case& c, double target) {
  SummaryRow row;
  row.comparison = absl::StrCat("SDK ", c.name, " ", SizeName(c.size), ", ", c.threads,
                                c.threads == 1 ? " thread" : " threads");
  row.measured = absl::StrCat(WithSeparators(c.sdk), " records/s");
  row.baseline = absl::StrCat("raw EVP AES-256-GCM: ", WithSeparators(c.raw), " records/s");
  const double ratio = c.ratio;
  row.ratio = Percent(ratio);
  row.target = target > 0 ? absl::StrCat(">= ", Percent(target)) : "reported";
  row.met = c.sdk > 0 && ratio >= target;
  return row;
}

// One row: Encrypt or Decrypt against raw AES-GCM that also returns a new string.
SummaryRow AgainstRawNew(const Case& c) {
  SummaryRow row = AgainstRaw(c, 0);
  row.comparison += " (baseline returns a new string too)";
  row.baseline = absl::StrCat(
      "raw EVP AES-256-GCM into a new std::string: ", WithSeparators(c.raw_new), " records/s");
  row.ratio = Percent(c.ratio_new);
  return row;
}

// One row: the SDK on two threads against itself on one.
SummaryRow Scaling(const Case& one, const Case& two) {
  SummaryRow row;
  row.comparison = absl::StrCat("SDK ", two.name, " ", SizeName(two.size), ", 2 threads vs 1");
  row.measured = absl::StrCat(WithSeparators(two.sdk), " records/s");
  row.baseline =
      absl::StrCat("the SDK on 1 thread: ", WithSeparators(one.sdk), " records/s (raw AES-GCM: ",
                   absl::StrFormat("%.2fx", one.raw > 0 ? two.raw / one.raw : 0), ")");
  const double ratio = one.sdk > 0 ? two.sdk / one.sdk : 0;
  row.ratio = absl::StrFormat("%.2fx", ratio);
  row.target = ">= 1.90x";
  row.met = ratio >= 1.9;
  return row;
}

int Main(int argc, char** argv) {
  CLI::App app{"The SDK's Encrypt and Decrypt against raw AES-256-GCM"};
  bool summary = false;
  double seconds = 0.5;
  app.add_flag("--summary", summary, "print only the markdown table rows on stdout");
  app.add_option("--seconds", seconds, "length of each measured round (0.5)")
      ->check(CLI::PositiveNumber);
  std::string only;
  size_t only_size = 0;
  app.add_option("--only", only, "measure only this kind: Encrypt, EncryptInto, Decrypt or DecryptInto");
  app.add_option("--size", only_size, "measure only this record size");
  std::string side = "both";
  app.add_option("--side", side, "run both sides, or only the sdk or the raw baseline (profiling)")
      ->check(CLI::IsMember({"both", "sdk", "raw"}));
  CLI11_PARSE(app, argc, argv);

  Bench bench(seconds, side);
  std::vector<Case> cases;
  for (const char* name : {"Encrypt", "EncryptInto", "Decrypt", "DecryptInto"}) {
    for (size_t size : {size_t{64}, size_t{1024}, size_t{16384}}) {
      if ((!only.empty() && only != name) || (only_size != 0 && only_size != size)) continue;
      for (int threads : {1, 2}) cases.push_back({name, size, threads});
    }
  }
  for (Case& c : cases) bench.Measure(c);

  std::vector<SummaryRow> rows;
  for (size_t i = 0; i < cases.size(); i += 2) {
    const Case& one = cases[i];
    const Case& two = cases[i + 1];
    const bool headline = one.size == 1024;
    rows.push_back(AgainstRaw(one, headline ? 0.85 : 0));
    if (ReturnsNewString(one) && one.size == 1024) rows.push_back(AgainstRawNew(one));
    rows.push_back(AgainstRaw(two, 0));
    if (headline) rows.push_back(Scaling(one, two));
  }
  // The rows go to stdout either way; --summary is what scripts/bench.sh
  // passes to every benchmark, and here the details are on stderr anyway.
  (void)summary;
  for (const SummaryRow& row : rows) PrintRow(row);
  return 0;
}

}  // namespace
}  // namespace keybroker::bench

int main(int argc, char** argv) { return keybroker::bench::Main(argc, argv); }
