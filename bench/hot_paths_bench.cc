// Hot paths against their baselines, on this machine:
//   - GenerateDek and Unwrap over gRPC on loopback vs. a bare unary call to
//     the same server (the standard health Check: gRPC's own cost);
//   - the SDK's warm Encrypt/Decrypt vs. raw OpenSSL AES-256-GCM of the same
//     bytes (EVP, a context per call as a plain caller would).
// The broker runs in this process on the embedded local keyring.
// Run: scripts/bench.sh (results in docs/benchmarks.md).
#include <openssl/evp.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "keybroker/sdk/client.h"
#include "keybroker/sdk/encryptor.h"
#include "keybroker/v1/key_broker.grpc.pb.h"
#include "server/broker_server.h"
#include "server/config.h"
#include "server/key_version_inventory.h"
#include "server/registry_factory.h"

namespace {

// A broker on its own keyring, living until exit. Metrics are always
// counted; `audit` adds the per-RPC audit line (the default in deployments;
// scripts/bench.sh sends the lines to a file, as a container runtime would
// take them from a pipe).
std::string StartBroker(bool audit) {
  char dir[] = "/tmp/keybroker-bench-XXXXXX";
  std::string data_dir = ::mkdtemp(dir);
  keybroker::server::Config config =
      keybroker::server::EmbeddedDefaultConfig("127.0.0.1:0", data_dir);
  config.audit_log = audit;
  auto server = keybroker::server::BrokerServer::Start(config);
  if (!server.ok()) std::abort();
  std::string bound = (*server)->address();
  server->release();
  return bound;
}

const std::string& BrokerAddress() {
  static const std::string address = StartBroker(/*audit=*/true);
  return address;
}

std::shared_ptr<grpc::Channel> Channel() {
  static auto channel = grpc::CreateChannel(BrokerAddress(), grpc::InsecureChannelCredentials());
  return channel;
}

std::shared_ptr<grpc::Channel> ChannelWithoutAudit() {
  static auto channel =
      grpc::CreateChannel(StartBroker(/*audit=*/false), grpc::InsecureChannelCredentials());
  return channel;
}

void BM_BareGrpcUnary_HealthCheck(benchmark::State& state) {
  auto stub = grpc::health::v1::Health::NewStub(Channel());
  grpc::health::v1::HealthCheckRequest request;
  for (auto _ : state) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckResponse response;
    if (!stub->Check(&context, request, &response).ok()) state.SkipWithError("check failed");
  }
}
BENCHMARK(BM_BareGrpcUnary_HealthCheck);

void GenerateDekLoop(benchmark::State& state, std::shared_ptr<grpc::Channel> channel) {
  auto stub = keybroker::v1::KeyBroker::NewStub(channel);
  keybroker::v1::GenerateDekRequest request;
  request.set_key("default");
  (*request.mutable_context())["tenant"] = "bench";
  for (auto _ : state) {
    grpc::ClientContext context;
    keybroker::v1::GenerateDekResponse response;
    if (!stub->GenerateDek(&context, request, &response).ok()) state.SkipWithError("failed");
  }
}

void BM_GenerateDek(benchmark::State& state) { GenerateDekLoop(state, Channel()); }
BENCHMARK(BM_GenerateDek);

void BM_GenerateDek_NoAuditLine(benchmark::State& state) {
  GenerateDekLoop(state, ChannelWithoutAudit());
}
BENCHMARK(BM_GenerateDek_NoAuditLine);

void BM_Unwrap(benchmark::State& state) {
  auto stub = keybroker::v1::KeyBroker::NewStub(Channel());
  keybroker::v1::GenerateDekRequest generate;
  generate.set_key("default");
  (*generate.mutable_context())["tenant"] = "bench";
  keybroker::v1::GenerateDekResponse dek;
  {
    grpc::ClientContext context;
    if (!stub->GenerateDek(&context, generate, &dek).ok()) std::abort();
  }
  keybroker::v1::UnwrapRequest request;
  request.set_edek(dek.edek());
  (*request.mutable_context())["tenant"] = "bench";
  for (auto _ : state) {
    grpc::ClientContext context;
    keybroker::v1::UnwrapResponse response;
    if (!stub->Unwrap(&context, request, &response).ok()) state.SkipWithError("failed");
  }
}
BENCHMARK(BM_Unwrap);

// One audit line as the service writes it (the fields of an OK GenerateDek),
// into the buffered standard error: its cost on the request thread.
void BM_AuditLogLine(benchmark::State& state) {
  for (auto _ : state) {
    keybroker::log::Info("audit", {{"caller", "ipv4:127.0.0.1:50312"},
                                   {"method", "GenerateDek"},
                                   {"alias", "default"},
                                   {"version", "1"},
                                   {"outcome", "OK"},
                                   {"reason", ""},
                                   {"cause", "none"},
                                   {"latency_ms", 0.123}});
  }
}
BENCHMARK(BM_AuditLogLine);

// What every successful GenerateDek, Wrap, Unwrap and Rewrap adds: recording
// its key version in the inventory, as BrokerCore does (the wall clock read
// included), with `range(0)` versions already held (the last one recorded:
// the longest scan), from one or two threads (no shared lock to contend on).
void BM_KeyVersionInventoryRecord(benchmark::State& state) {
  static keybroker::server::KeyVersionInventory* const inventory = [] {
    char dir[] = "/tmp/keybroker-bench-XXXXXX";
    keybroker::server::Config config =
        keybroker::server::EmbeddedDefaultConfig("127.0.0.1:0", ::mkdtemp(dir));
    auto registry = keybroker::server::BuildKeyRegistry(config);
    if (!registry.ok()) std::abort();
    return new keybroker::server::KeyVersionInventory(*registry->release());
  }();
  const std::string version = std::to_string(state.range(0));
  for (int v = 1; v <= state.range(0); ++v) {
    inventory->RecordForAlias("default", std::to_string(v), 1);
  }
  const keybroker::server::BoundKey key{.alias = "default"};
  for (auto _ : state) {
    inventory->RecordForKey(key, version, absl::ToUnixSeconds(absl::Now()));
  }
}
BENCHMARK(BM_KeyVersionInventoryRecord)->Arg(1)->Arg(32)->ThreadRange(1, 2);

// The same for a key named at run time, among 1,000 held, its version held:
// `range(0)` 0 records by the EDEK's key name (Unwrap, Rewrap), 1 by the key
// a URI resolved to (GenerateDek, Wrap).
void BM_KeyVersionInventoryRecordRuntime(benchmark::State& state) {
  static keybroker::server::KeyVersionInventory* const inventory = [] {
    auto* inventory = new keybroker::server::KeyVersionInventory(/*max_runtime_keys=*/1000);
    for (int k = 0; k < 1000; ++k) {
      inventory->RecordForEdek(keybroker::crypto::EdekKms::kAzure,
                               "kv.vault.azure.net/tenant-" + std::to_string(k), "v", 1);
    }
    return inventory;
  }();
  const std::string version = "0123456789abcdef0123456789abcdef";
  const keybroker::server::BoundKey key{.alias = "https://kv.vault.azure.net/keys/tenant-500",
                                        .edek_key_name = "kv.vault.azure.net/tenant-500"};
  inventory->RecordForKey(key, version, 1);
  for (auto _ : state) {
    if (state.range(0) == 0) {
      inventory->RecordForEdek(keybroker::crypto::EdekKms::kAzure, key.edek_key_name, version,
                               absl::ToUnixSeconds(absl::Now()));
    } else {
      inventory->RecordForKey(key, version, absl::ToUnixSeconds(absl::Now()));
    }
  }
}
BENCHMARK(BM_KeyVersionInventoryRecordRuntime)->Arg(0)->Arg(1)->ThreadRange(1, 2);

// Raw OpenSSL: what a caller writing AES-256-GCM by hand would pay.
void BM_RawOpenSslAesGcmSeal(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  std::string plaintext(size, 'p'), out(size + 16, '\0');
  unsigned char key[32] = {1}, nonce[12] = {2};
  for (auto _ : state) {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    int len = 0;
    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, nonce);
    EVP_EncryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>("aad"), 3);
    EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                      reinterpret_cast<const unsigned char*>(plaintext.data()),
                      static_cast<int>(size));
    EVP_EncryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()) + len, &len);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out.data() + size);
    EVP_CIPHER_CTX_free(ctx);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}
BENCHMARK(BM_RawOpenSslAesGcmSeal)->Arg(64)->Arg(1024)->Arg(16384);

keybroker::sdk::Encryptor& Encryptor() {
  static keybroker::sdk::Client* client = [] {
    keybroker::sdk::ClientOptions options;
    options.target = BrokerAddress();
    return keybroker::sdk::Client::Create(options)->release();
  }();
  static keybroker::sdk::Encryptor* encryptor =
      keybroker::sdk::Encryptor::Create(client, {})->release();
  return *encryptor;
}

void BM_SdkEncryptWarm(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  std::string plaintext(size, 'p');
  if (!Encryptor().Encrypt("default", plaintext, "aad").ok()) std::abort();  // warm
  for (auto _ : state) {
    auto sealed = Encryptor().Encrypt("default", plaintext, "aad");
    if (!sealed.ok()) state.SkipWithError("encrypt failed");
    benchmark::DoNotOptimize(sealed);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}
BENCHMARK(BM_SdkEncryptWarm)->Arg(64)->Arg(1024)->Arg(16384);

void BM_SdkDecryptWarm(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  std::string sealed = *Encryptor().Encrypt("default", std::string(size, 'p'), "aad");
  if (!Encryptor().Decrypt(sealed, "aad").ok()) std::abort();  // warm the cache
  for (auto _ : state) {
    auto opened = Encryptor().Decrypt(sealed, "aad");
    if (!opened.ok()) state.SkipWithError("decrypt failed");
    benchmark::DoNotOptimize(opened);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}
BENCHMARK(BM_SdkDecryptWarm)->Arg(64)->Arg(1024)->Arg(16384);

}  // namespace

// As the keybroker binary does (server/main.cc): no Mutex deadlock detection.
int main(int argc, char** argv) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
