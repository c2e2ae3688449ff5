// The broker against a bare gRPC server, driven by one load generator in one
// run (issue 12, part 2):
//
//   GenerateDek and warm Unwrap on the local keyring, against an echo server
//     that answers the same RPCs with canned messages of the same sizes;
//   GenerateDek on an RSA-2048 key in the Key Vault emulator (the public key
//     cached: a local RSA-OAEP-256 wrap, no Key Vault call), against an echo
//     server that spends, per call, the raw RSA-OAEP-256 wrap time measured
//     here with OpenSSL (one EVP_PKEY_CTX per thread, set up once).
//
// Both servers are separate processes on loopback: the real keybroker binary
// (bench/broker_fixture.h) and this binary run with --serve-echo, built the
// way server/broker_server.cc builds the broker's server (ServerBuilder,
// callback API, the handler's work inline on gRPC's callback thread, Abseil's
// Mutex deadlock detection off as server/main.cc turns it off). The
// load generator is closed-loop: `c` calls in flight on one channel (as the
// SDK's client keeps one), each finished call starting the next from gRPC's
// callback thread. Each comparison runs rounds alternating echo and broker;
// the figures are the medians of 3 rounds: calls/s, p50 and p99 latency.
//
//   broker_load [--summary] [--seconds S] [--rounds N] [--no-key-vault]
//
// --summary prints only the markdown rows of bench/summary.h on stdout;
// details go to stderr. Run through scripts/bench.sh; not part of the tests.
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "bench/broker_fixture.h"
#include "bench/summary.h"
#include "grpcpp/grpcpp.h"
#include "keybroker/v1/key_broker.grpc.pb.h"

extern char** environ;

namespace keybroker::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kThroughputTarget = 0.70;
constexpr double kP99Limit = 2.0;
constexpr size_t kDekBytes = 32;
// What the broker's RSA wrap encrypts: the DEK and a SHA-256 binding it to
// its header and context (kms_adapters/azure/azure_kms.cc, WrapRsa).
constexpr size_t kRsaWrappedBytes = 64;

void Progress(const std::string& line) {
  std::fprintf(stderr, "broker_load: %s\n", line.c_str());
}

// ---------------------------------------------------------------------------
// The echo server.

// Spins (on the calling thread's CPU) for `ns` nanoseconds: the stand-in for
// work the broker does on its callback thread, such as an RSA wrap.
void Spin(int64_t ns) {
  if (ns <= 0) return;
  const Clock::time_point until = Clock::now() + std::chrono::nanoseconds(ns);
  while (Clock::now() < until) {
  }
}

// Answers GenerateDek and Unwrap with canned messages of the broker's sizes,
// inline on gRPC's callback thread, as the broker answers calls that cannot
// block.
class EchoService final : public keybroker::v1::KeyBroker::CallbackService {
 public:
  EchoService(int64_t spin_ns, size_t edek_bytes, std::string key_version)
      : spin_ns_(spin_ns), plaintext_(kDekBytes, 'p'), edek_(edek_bytes, 'e'),
        key_version_(std::move(key_version)) {}

  grpc::ServerUnaryReactor* GenerateDek(grpc::CallbackServerContext* context,
                                        const v1::GenerateDekRequest*,
                                        v1::GenerateDekResponse* response) override {
    Spin(spin_ns_);
    response->set_plaintext(plaintext_);
    response->set_edek(edek_);
    response->set_key_version(key_version_);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* Unwrap(grpc::CallbackServerContext* context,
                                   const v1::UnwrapRequest*,
                                   v1::UnwrapResponse* response) override {
    Spin(spin_ns_);
    response->set_plaintext(plaintext_);
    response->set_key_version(key_version_);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const int64_t spin_ns_;
  const std::string plaintext_;
  const std::string edek_;
  const std::string key_version_;
};

// --serve-echo: serves on 127.0.0.1 (a port the kernel picks), prints
// "port N" on stdout, and serves until killed.
int ServeEcho(int64_t spin_ns, size_t edek_bytes, const std::string& key_version) {
  EchoService service(spin_ns, edek_bytes, key_version);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(64 * 1024);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "echo: cannot listen\n");
    return 1;
  }
  std::printf("port %d\n", port);
  std::fflush(stdout);
  server->Wait();
  return 0;
}

// An echo server process (this binary with --serve-echo); killed when
// destroyed.
class EchoProcess {
 public:
  static absl::StatusOr<std::unique_ptr<EchoProcess>> Start(int64_t spin_ns, size_t edek_bytes,
                                                            const std::string& key_version) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<std::string> args = {"/proc/self/exe",
                                     "--serve-echo",
                                     "--spin-ns",
                                     absl::StrCat(spin_ns),
                                     "--edek-bytes",
                                     absl::StrCat(edek_bytes),
                                     "--key-version",
                                     key_version};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::unique_ptr<EchoProcess> process(new EchoProcess());
    int spawned = posix_spawn(&process->pid_, "/proc/self/exe", &actions, nullptr, argv.data(),
                              environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (spawned != 0) {
      ::close(fds[0]);
      process->pid_ = -1;
      return absl::InternalError("cannot start the echo server");
    }
    std::string out;
    char c;
    while (out.find('\n') == std::string::npos && ::read(fds[0], &c, 1) == 1) out.push_back(c);
    ::close(fds[0]);
    int port = 0;
    if (out.rfind("port ", 0) != 0 || !absl::SimpleAtoi(out.substr(5, out.size() - 6), &port)) {
      return absl::UnavailableError("the echo server did not start");
    }
    process->address_ = absl::StrCat("127.0.0.1:", port);
    return process;
  }

  ~EchoProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }

  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }

 private:
  EchoProcess() = default;
  pid_t pid_ = -1;
  std::string address_;
};

// ---------------------------------------------------------------------------
// The raw RSA-OAEP-256 wrap time.

// Nanoseconds per RSA-OAEP-256 (SHA-256, MGF1-SHA-256) encryption of
// kRsaWrappedBytes under a fresh RSA-2048 public key, on one thread with one
// EVP_PKEY_CTX set up once: the fastest correct use of OpenSSL for the wrap.
absl::StatusOr<double> MeasureRsaWrapNs() {
  EVP_PKEY* pair = EVP_RSA_gen(2048);
  if (pair == nullptr) return absl::InternalError("RSA key generation failed");
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, pair, nullptr);
  bool ok = ctx != nullptr && EVP_PKEY_encrypt_init(ctx) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
            EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) == 1 &&
            EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1;
  const std::vector<unsigned char> plaintext(kRsaWrappedBytes, 0x5a);
  std::vector<unsigned char> out(static_cast<size_t>(EVP_PKEY_get_size(pair)));
  auto wrap = [&] {
    size_t out_len = out.size();
    return EVP_PKEY_encrypt(ctx, out.data(), &out_len, plaintext.data(), plaintext.size()) == 1;
  };
  for (int i = 0; ok && i < 200; ++i) ok = wrap();  // warm up
  std::vector<double> rounds;
  for (int round = 0; ok && round < 3; ++round) {
    constexpr int kWraps = 3000;
    const Clock::time_point start = Clock::now();
    for (int i = 0; ok && i < kWraps; ++i) ok = wrap();
    rounds.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count() /
                     kWraps);
  }
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(pair);
  if (!ok) return absl::InternalError("RSA-OAEP-256 encryption failed in OpenSSL");
  return Median(rounds);
}

// ---------------------------------------------------------------------------
// The load generator.

// CPU seconds (user + system, all threads) process `pid` has used so far;
// -1 if it cannot be read.
double ProcessCpuSeconds(pid_t pid) {
  FILE* file = std::fopen(absl::StrCat("/proc/", pid, "/stat").c_str(), "r");
  if (file == nullptr) return -1;
  char buffer[1024];
  size_t n = std::fread(buffer, 1, sizeof(buffer) - 1, file);
  std::fclose(file);
  buffer[n] = '\0';
  // Fields after the command name (which may hold spaces) start after ')'.
  const char* rest = std::strrchr(buffer, ')');
  unsigned long utime = 0, stime = 0;
  if (rest == nullptr ||
      std::sscanf(rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                  &stime) != 2) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct RoundResult {
  double calls_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
  int64_t errors = 0;
  double server_cpu_us_per_call = 0;  // the server's CPU over the round / its calls
  double client_cpu_us_per_call = 0;  // this process's (the load generator's) likewise
};

// What a load sends: one unary call, `done` run with its outcome on gRPC's
// callback thread.
using IssueCall = std::function<void(grpc::ClientContext*, std::function<void(grpc::Status)>)>;

// One closed-loop slot: a call in flight at a time, the next one started when
// the previous one finishes. Its fields are touched by one call at a time.
struct Slot {
  std::unique_ptr<grpc::ClientContext> context;
  // The previous call's context: kept until the next call starts, so that a
  // context is never destroyed inside its own call's callback.
  std::unique_ptr<grpc::ClientContext> previous;
  Clock::time_point started;
  std::vector<double> latencies_us;  // calls that started and ended in the window
  int64_t errors = 0;
};

class ClosedLoop {
 public:
  ClosedLoop(IssueCall issue, int concurrency) : issue_(std::move(issue)), slots_(concurrency) {}

  // Runs `warmup`, then measures for `window`; returns once every call is
  // done, with the number of calls made in all (warm-up included) in `calls`.
  RoundResult Run(absl::Duration warmup, absl::Duration window, int64_t* calls) {
    outstanding_ = static_cast<int>(slots_.size());
    for (Slot& slot : slots_) slot.latencies_us.reserve(1 << 16);
    const Clock::time_point now = Clock::now();
    window_start_ = now + absl::ToChronoNanoseconds(warmup);
    window_end_ = window_start_ + absl::ToChronoNanoseconds(window);
    for (Slot& slot : slots_) Next(slot);
    all_done_.WaitForNotification();
    *calls = calls_.load();
    RoundResult result;
    std::vector<double> latencies;
    for (const Slot& slot : slots_) {
      latencies.insert(latencies.end(), slot.latencies_us.begin(), slot.latencies_us.end());
      result.errors += slot.errors;
    }
    std::sort(latencies.begin(), latencies.end());
    if (!latencies.empty()) {
      result.calls_per_second = latencies.size() / absl::ToDoubleSeconds(window);
      result.p50_us = latencies[latencies.size() / 2];
      result.p99_us = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
    }
    return result;
  }

 private:
  void Next(Slot& slot) {
    slot.started = Clock::now();
    if (slot.started >= window_end_) {
      if (--outstanding_ == 0) all_done_.Notify();
      return;
    }
    slot.previous = std::move(slot.context);
    slot.context = std::make_unique<grpc::ClientContext>();
    slot.context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    issue_(slot.context.get(), [this, &slot](grpc::Status status) {
      const Clock::time_point ended = Clock::now();
      calls_.fetch_add(1, std::memory_order_relaxed);
      if (!status.ok()) {
        ++slot.errors;
      } else if (slot.started >= window_start_ && ended <= window_end_) {
        slot.latencies_us.push_back(
            std::chrono::duration<double, std::micro>(ended - slot.started).count());
      }
      Next(slot);
    });
  }

  const IssueCall issue_;
  std::vector<Slot> slots_;
  Clock::time_point window_start_;
  Clock::time_point window_end_;
  std::atomic<int> outstanding_{0};
  std::atomic<int64_t> calls_{0};
  absl::Notification all_done_;
};

// A GenerateDek or Unwrap call on `stub`, its messages shared by every call
// (each call's response its own).
IssueCall GenerateDekCalls(v1::KeyBroker::Stub* stub, v1::GenerateDekRequest request) {
  auto shared = std::make_shared<const v1::GenerateDekRequest>(std::move(request));
  return [stub, shared](grpc::ClientContext* context, std::function<void(grpc::Status)> done) {
    auto response = std::make_shared<v1::GenerateDekResponse>();
    stub->async()->GenerateDek(context, shared.get(), response.get(),
                               [response, done = std::move(done)](grpc::Status status) {
                                 if (status.ok() && response->plaintext().size() != kDekBytes) {
                                   status = grpc::Status(grpc::StatusCode::INTERNAL, "bad DEK");
                                 }
                                 done(status);
                               });
  };
}

IssueCall UnwrapCalls(v1::KeyBroker::Stub* stub, v1::UnwrapRequest request) {
  auto shared = std::make_shared<const v1::UnwrapRequest>(std::move(request));
  return [stub, shared](grpc::ClientContext* context, std::function<void(grpc::Status)> done) {
    auto response = std::make_shared<v1::UnwrapResponse>();
    stub->async()->Unwrap(context, shared.get(), response.get(),
                          [response, done = std::move(done)](grpc::Status status) {
                            if (status.ok() && response->plaintext().size() != kDekBytes) {
                              status = grpc::Status(grpc::StatusCode::INTERNAL, "bad DEK");
                            }
                            done(status);
                          });
  };
}

// A client of `address`: one channel, as the SDK keeps one.
struct Target {
  std::string name;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::KeyBroker::Stub> stub;
};

Target Connect(const std::string& name, const std::string& address) {
  Target target;
  target.name = name;
  target.channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  target.stub = v1::KeyBroker::NewStub(target.channel);
  return target;
}

struct Flags {
  bool summary = false;
  double seconds = 2;
  int rounds = 3;
  bool no_key_vault = false;
};

// Medians over rounds of one side of a comparison.
struct Side {
  std::vector<double> throughput, p50, p99, cpu_us, client_cpu_us;
  int64_t errors = 0;
  double Throughput() const { return Median(throughput); }
  double P50() const { return Median(p50); }
  double P99() const { return Median(p99); }
};

// Runs `rounds` alternating rounds of `echo_calls` and `broker_calls` at
// `concurrency`, and prints the comparison's row.
void Compare(const Flags& flags, const std::string& what, int concurrency,
             const std::string& baseline_name, const IssueCall& echo_calls, pid_t echo_pid,
             const IssueCall& broker_calls, pid_t broker_pid) {
  Side echo, broker;
  const absl::Duration warmup = absl::Milliseconds(300);
  const absl::Duration window = absl::Seconds(flags.seconds);
  for (int round = 1; round <= flags.rounds; ++round) {
    for (int side = 0; side < 2; ++side) {
      Side& into = side == 0 ? echo : broker;
      ClosedLoop loop(side == 0 ? echo_calls : broker_calls, concurrency);
      const pid_t server = side == 0 ? echo_pid : broker_pid;
      const double cpu_before = ProcessCpuSeconds(server);
      const double client_before = ProcessCpuSeconds(getpid());
      int64_t calls = 0;
      RoundResult result = loop.Run(warmup, window, &calls);
      const double cpu_after = ProcessCpuSeconds(server);
      const double client_after = ProcessCpuSeconds(getpid());
      if (calls > 0 && cpu_before >= 0 && cpu_after >= 0) {
        result.server_cpu_us_per_call = (cpu_after - cpu_before) * 1e6 / calls;
        result.client_cpu_us_per_call = (client_after - client_before) * 1e6 / calls;
      }
      into.cpu_us.push_back(result.server_cpu_us_per_call);
      into.client_cpu_us.push_back(result.client_cpu_us_per_call);
      into.throughput.push_back(result.calls_per_second);
      into.p50.push_back(result.p50_us);
      into.p99.push_back(result.p99_us);
      into.errors += result.errors;
      Progress(absl::StrFormat("%s c=%d round %d %s: %.0f calls/s, p50 %.0f us, p99 %.0f us, "
                               "server CPU %.1f us/call, load generator CPU %.1f us/call%s",
                               what, concurrency, round, side == 0 ? "echo" : "broker",
                               result.calls_per_second, result.p50_us, result.p99_us,
                               result.server_cpu_us_per_call, result.client_cpu_us_per_call,
                               result.errors > 0 ? absl::StrCat(", ", result.errors, " errors")
                                                 : ""));
    }
  }
  const double ratio = echo.Throughput() > 0 ? broker.Throughput() / echo.Throughput() : 0;
  const double p99_ratio = echo.P99() > 0 ? broker.P99() / echo.P99() : 0;
  const bool met = broker.errors == 0 && ratio >= kThroughputTarget && p99_ratio <= kP99Limit;
  Progress(absl::StrFormat(
      "%s c=%d medians: broker %.0f calls/s p50 %.0f us p99 %.0f us CPU %.1f us/call "
      "(load generator %.1f); %s %.0f calls/s p50 %.0f us p99 %.0f us CPU %.1f us/call (load "
      "generator %.1f); ratio %.2f, p99 %.2fx",
      what, concurrency, broker.Throughput(), broker.P50(), broker.P99(), Median(broker.cpu_us),
      Median(broker.client_cpu_us), baseline_name, echo.Throughput(), echo.P50(), echo.P99(),
      Median(echo.cpu_us), Median(echo.client_cpu_us), ratio, p99_ratio));
  PrintRow({absl::StrFormat("broker %s, %d concurrent calls", what, concurrency),
            absl::StrFormat("%s calls/s (p50 %.0f us, p99 %.0f us)",
                            WithSeparators(broker.Throughput()), broker.P50(), broker.P99()),
            absl::StrFormat("%s: %s calls/s (p50 %.0f us, p99 %.0f us)", baseline_name,
                            WithSeparators(echo.Throughput()), echo.P50(), echo.P99()),
            absl::StrFormat("%s, p99 %.2fx", Percent(ratio), p99_ratio),
            ">= 70%, p99 <= 2x", met});
}

// The context every call sends: one entry, as a typical caller's.
void SetContext(google::protobuf::Map<std::string, std::string>* context) {
  (*context)["tenant"] = "bench";
}

absl::Status LocalKeyring(const Flags& flags) {
  const std::string alias = "kek-bench";
  auto broker = BenchBroker::StartLocal({alias});
  if (!broker.ok()) return broker.status();
  Progress(absl::StrCat("local-keyring broker pid ", (*broker)->pid(), " at ",
                        (*broker)->address()));
  Target broker_target = Connect("broker", (*broker)->address());

  // A real EDEK: Unwrap's request, and the echo server's message sizes.
  v1::GenerateDekRequest generate;
  generate.set_key(alias);
  SetContext(generate.mutable_context());
  v1::GenerateDekResponse first;
  {
    grpc::ClientContext context;
    grpc::Status status = broker_target.stub->GenerateDek(&context, generate, &first);
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat("GenerateDek: ", status.error_message()));
    }
  }
  v1::UnwrapRequest unwrap;
  unwrap.set_edek(first.edek());
  SetContext(unwrap.mutable_context());

  auto echo = EchoProcess::Start(0, first.edek().size(), first.key_version());
  if (!echo.ok()) return echo.status();
  Progress(absl::StrCat("echo server pid ", (*echo)->pid(), " at ", (*echo)->address()));
  Target echo_target = Connect("echo", (*echo)->address());

  for (int concurrency : {8, 32}) {
    Compare(flags, "GenerateDek (local keyring)", concurrency, "echo server",
            GenerateDekCalls(echo_target.stub.get(), generate), (*echo)->pid(),
            GenerateDekCalls(broker_target.stub.get(), generate), (*broker)->pid());
  }
  for (int concurrency : {8, 32}) {
    Compare(flags, "Unwrap (local keyring, warm)", concurrency, "echo server",
            UnwrapCalls(echo_target.stub.get(), unwrap), (*echo)->pid(),
            UnwrapCalls(broker_target.stub.get(), unwrap), (*broker)->pid());
  }
  return absl::OkStatus();
}

absl::Status RsaKey(const Flags& flags) {
  auto wrap_ns = MeasureRsaWrapNs();
  if (!wrap_ns.ok()) return wrap_ns.status();
  Progress(absl::StrFormat("raw RSA-OAEP-256 wrap (RSA-2048, %d bytes, one EVP_PKEY_CTX): %.1f us",
                           kRsaWrappedBytes, *wrap_ns / 1000));
  const std::string alias = "kek-bench-rsa";
  auto broker = BenchBroker::StartAzureRsa(alias, /*cache_ttl_seconds=*/30);
  if (!broker.ok()) return broker.status();
  Progress(absl::StrCat("RSA broker pid ", (*broker)->pid(), " at ", (*broker)->address()));
  Target broker_target = Connect("broker", (*broker)->address());
  v1::GenerateDekRequest generate;
  generate.set_key(alias);
  SetContext(generate.mutable_context());
  v1::GenerateDekResponse first;
  {
    grpc::ClientContext context;
    grpc::Status status = broker_target.stub->GenerateDek(&context, generate, &first);
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat("GenerateDek: ", status.error_message()));
    }
  }
  auto echo = EchoProcess::Start(static_cast<int64_t>(*wrap_ns), first.edek().size(),
                                 first.key_version());
  if (!echo.ok()) return echo.status();
  Target echo_target = Connect("echo", (*echo)->address());
  auto vault_before = (*broker)->EmulatorRequests("kv1");
  if (!vault_before.ok()) return vault_before.status();
  const std::string baseline =
      absl::StrFormat("echo server spending the raw RSA-OAEP-256 wrap (%.1f us) per call",
                      *wrap_ns / 1000);
  for (int concurrency : {8, 32}) {
    Compare(flags, "GenerateDek (RSA-2048 Key Vault key, public key cached)", concurrency,
            baseline, GenerateDekCalls(echo_target.stub.get(), generate), (*echo)->pid(),
            GenerateDekCalls(broker_target.stub.get(), generate), (*broker)->pid());
  }
  auto vault_after = (*broker)->EmulatorRequests("kv1");
  if (!vault_after.ok()) return vault_after.status();
  Progress(absl::StrCat("Key Vault requests during the RSA rounds: ",
                        *vault_after - *vault_before));
  return absl::OkStatus();
}

}  // namespace
}  // namespace keybroker::bench

int main(int argc, char** argv) {
  using namespace keybroker::bench;  // NOLINT: one file's main
  Flags flags;
  bool serve_echo = false;
  int64_t spin_ns = 0;
  size_t edek_bytes = 0;
  std::string key_version;
  CLI::App app{"the broker against a bare gRPC echo server, side by side"};
  app.add_flag("--summary", flags.summary, "print only the summary table rows on stdout");
  app.add_option("--seconds", flags.seconds, "measured seconds per round");
  app.add_option("--rounds", flags.rounds, "rounds per side of each comparison");
  app.add_flag("--no-key-vault", flags.no_key_vault, "skip the RSA comparison (emulator)");
  app.add_flag("--serve-echo", serve_echo, "internal: be the echo server");
  app.add_option("--spin-ns", spin_ns, "internal: the echo server's CPU per call");
  app.add_option("--edek-bytes", edek_bytes, "internal: the echo server's EDEK size");
  app.add_option("--key-version", key_version, "internal: the echo server's key version");
  CLI11_PARSE(app, argc, argv);
  // Debian's Abseil checks every absl::Mutex lock (gRPC's own included) for
  // deadlock cycles unless told not to; keybroker turns that off
  // (server/main.cc), so the echo server, the baseline, must too.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (serve_echo) return ServeEcho(spin_ns, edek_bytes, key_version);
  if (!flags.summary) {
    std::printf("| comparison | measured | baseline | ratio | target | met |\n"
                "| --- | --- | --- | --- | --- | --- |\n");
  }
  absl::Status done = LocalKeyring(flags);
  if (done.ok() && !flags.no_key_vault) done = RsaKey(flags);
  if (!done.ok()) {
    Progress(absl::StrCat("failed: ", done.ToString()));
    return 1;
  }
  return 0;
}
