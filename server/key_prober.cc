#include "server/key_prober.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"

namespace keybroker::server {
namespace {

struct ProbedKey {
  kms::Kms* kms;
  std::string key_id;
};

// The keys to probe this round: those of remote KMSs used within `idle`.
std::vector<ProbedKey> KeysInUse(const KeyRegistry& registry, absl::Duration idle) {
  absl::flat_hash_set<kms::Kms*> remote;
  for (const BoundKey& bound : registry.bindings()) {
    if (bound.kms->calls_remote_service()) remote.insert(bound.kms);
  }
  std::vector<ProbedKey> keys;
  for (kms::Kms* kms : remote) {
    for (std::string& key_id : kms->KeysUsedWithin(idle)) keys.push_back({kms, std::move(key_id)});
  }
  return keys;
}

}  // namespace

KeyProber::KeyProber(const KeyRegistry* registry, Options options)
    : registry_(registry), options_(options), thread_([this] { Run(); }) {}

KeyProber::~KeyProber() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

bool KeyProber::Sleep(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  auto stopping = [this] { return stopping_.load(); };
  mu_.AwaitWithTimeout(absl::Condition(&stopping), delay);
  return !stopping_;
}

void KeyProber::Run() {
  absl::BitGen random;
  kms::CallOptions options;
  options.cancelled = [this] { return stopping_.load(); };
  while (true) {
    const absl::Duration round = options_.interval * absl::Uniform(random, 0.8, 1.0);
    std::vector<ProbedKey> keys = KeysInUse(*registry_, options_.idle);
    if (keys.empty()) {
      if (!Sleep(round)) return;
      continue;
    }
    const absl::Duration gap = round / static_cast<int64_t>(keys.size());
    for (const ProbedKey& key : keys) {
      if (!Sleep(gap)) return;
      options.deadline = absl::Now() + options_.request_timeout;
      // The outcome goes to the key-health tracker through the KMS's
      // observer; there is nothing more to do with it here.
      (void)key.kms->Probe(key.key_id, options);
    }
  }
}

}  // namespace keybroker::server
