// ScriptedKeyBroker: a keybroker.v1.KeyBroker gRPC service whose keys the
// test turns accessible or not, served on a loopback port
// (ScriptedBrokerServer), for SDK tests of WatchKeys: the real Client
// reaches it over a real channel, and an Encryptor over that Client runs.
//
// Each alias has the key name its EDEKs carry. GenerateDek makes a random
// DEK and a well-formed EDEK (crypto/edek.h) naming that key, and remembers
// (EDEK -> DEK, context); Unwrap looks the EDEK up. Both refuse with
// KEY_NOT_ACCESSIBLE, as the broker does, while the alias is inaccessible.
// WatchKeys sends the state of each watched alias (initial), then every
// SetAccessible of a watched alias; BreakStreams ends the open streams with
// UNAVAILABLE, and SetWatchUnimplemented makes WatchKeys answer as a broker
// older than it does. Calls are counted. Safe for concurrent use.
//
// ScriptedBrokerServer runs the service on 127.0.0.1 and can stop and start
// it again on the same port (a broker restart); the service's state stays.
#ifndef KEYBROKER_TESTS_FAKES_SCRIPTED_KEY_BROKER_H_
#define KEYBROKER_TESTS_FAKES_SCRIPTED_KEY_BROKER_H_

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "crypto/edek.h"
#include "crypto/random.h"
#include "crypto/secret_bytes.h"
#include "grpcpp/grpcpp.h"
#include "keybroker/v1/key_broker.grpc.pb.h"
#include "server/grpc_status.h"

namespace keybroker::testing {

class ScriptedKeyBroker : public v1::KeyBroker::Service {
 public:
  // `aliases`: alias -> the key name its EDEKs carry. All start accessible.
  explicit ScriptedKeyBroker(const std::map<std::string, std::string>& aliases) {
    for (const auto& [alias, key_name] : aliases) {
      keys_[alias].edek_key_name = key_name;
    }
  }

  grpc::Status GenerateDek(grpc::ServerContext*, const v1::GenerateDekRequest* request,
                           v1::GenerateDekResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++generate_calls_[request->key()];
    auto key = keys_.find(request->key());
    if (key == keys_.end()) return server::ToGrpcStatus(KeyNotFound("scripted: unknown alias"));
    if (!key->second.accessible) return NotAccessible(key->first);
    absl::StatusOr<crypto::SecretBytes> dek = crypto::RandomSecret(32);
    absl::StatusOr<std::string> edek = MakeEdek(key->second.edek_key_name);
    if (!dek.ok() || !edek.ok()) return server::ToGrpcStatus(Internal("scripted: no randomness"));
    response->set_plaintext(std::string(dek->RevealAsStringView()));
    response->set_edek(*edek);
    response->set_key_version("1");
    wrapped_[*edek] = Wrapped{key->first, std::move(*dek), ContextOf(*request)};
    return grpc::Status::OK;
  }

  grpc::Status Unwrap(grpc::ServerContext*, const v1::UnwrapRequest* request,
                      v1::UnwrapResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++unwrap_calls_;
    auto wrapped = wrapped_.find(request->edek());
    if (wrapped == wrapped_.end() || wrapped->second.context != ContextOf(*request)) {
      return server::ToGrpcStatus(EdekInvalid("scripted: unknown EDEK or another context"));
    }
    if (!keys_[wrapped->second.alias].accessible) return NotAccessible(wrapped->second.alias);
    response->set_plaintext(std::string(wrapped->second.dek.RevealAsStringView()));
    response->set_key_version("1");
    return grpc::Status::OK;
  }

  grpc::Status WatchKeys(grpc::ServerContext* context, const v1::WatchKeysRequest* request,
                         grpc::ServerWriter<v1::KeyEvent>* writer) override {
    std::set<std::string> watched(request->keys().begin(), request->keys().end());
    std::vector<v1::KeyEvent> initial;
    size_t seen = 0;
    uint64_t breaks = 0;
    {
      absl::MutexLock lock(&mu_);
      ++watch_calls_;
      if (watch_unimplemented_) return v1::KeyBroker::Service::WatchKeys(context, request, writer);
      if (watch_refusal_.has_value()) return *watch_refusal_;
      if (watched.empty()) {
        for (const auto& [alias, key] : keys_) watched.insert(alias);
      }
      for (const std::string& alias : watched) {
        if (!keys_.count(alias)) return server::ToGrpcStatus(KeyNotFound("scripted: unknown"));
        initial.push_back(EventLocked(alias, /*initial=*/true));
      }
      seen = changes_.size();
      breaks = breaks_;
      ++open_streams_;
    }
    grpc::Status ended = Stream(context, watched, initial, seen, breaks, writer);
    absl::MutexLock lock(&mu_);
    --open_streams_;
    return ended;
  }

  // Makes `alias` accessible or not, and tells the streams watching it.
  void SetAccessible(const std::string& alias, bool accessible) {
    absl::MutexLock lock(&mu_);
    keys_[alias].accessible = accessible;
    changes_.push_back(EventLocked(alias, /*initial=*/false));
  }

  // Ends every open WatchKeys stream with UNAVAILABLE (a connection lost).
  void BreakStreams() {
    absl::MutexLock lock(&mu_);
    ++breaks_;
  }

  // WatchKeys answers UNIMPLEMENTED, as a broker older than it does.
  void SetWatchUnimplemented() {
    absl::MutexLock lock(&mu_);
    watch_unimplemented_ = true;
  }

  // WatchKeys answers `refusal` (nullopt: serves again).
  void SetWatchRefusal(std::optional<grpc::Status> refusal) {
    absl::MutexLock lock(&mu_);
    watch_refusal_ = std::move(refusal);
  }

  // Waits until `n` WatchKeys streams are open (initial events sent); false
  // after `timeout`.
  bool AwaitOpenStreams(int n, absl::Duration timeout = absl::Seconds(20)) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return open_streams_ == n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

  int generate_calls(const std::string& alias) const {
    absl::MutexLock lock(&mu_);
    auto it = generate_calls_.find(alias);
    return it == generate_calls_.end() ? 0 : it->second;
  }
  int unwrap_calls() const {
    absl::MutexLock lock(&mu_);
    return unwrap_calls_;
  }
  int watch_calls() const {
    absl::MutexLock lock(&mu_);
    return watch_calls_;
  }

 private:
  struct Key {
    std::string edek_key_name;
    bool accessible = true;
  };
  struct Wrapped {
    std::string alias;
    crypto::SecretBytes dek;
    std::map<std::string, std::string> context;
  };

  template <typename Request>
  static std::map<std::string, std::string> ContextOf(const Request& request) {
    return {request.context().begin(), request.context().end()};
  }

  static grpc::Status NotAccessible(const std::string& alias) {
    return server::ToGrpcStatus(
        MakeError(ErrorReason::kKeyNotAccessible, absl::StrCat("scripted: ", alias, " revoked")));
  }

  // A local-keyring EDEK naming `key_name`, with random contents.
  static absl::StatusOr<std::string> MakeEdek(const std::string& key_name) {
    crypto::Edek edek;
    edek.kms = crypto::EdekKms::kLocal;
    edek.key_name = key_name;
    edek.key_version = "1";
    edek.iv = RandomString(12);
    edek.tag = RandomString(16);
    edek.wrapped = RandomString(32);
    return crypto::EncodeEdek(edek);
  }

  static std::string RandomString(size_t size) {
    std::string bytes(size, '\0');
    crypto::FillRandom(absl::MakeSpan(reinterpret_cast<uint8_t*>(bytes.data()), size))
        .IgnoreError();
    return bytes;
  }

  v1::KeyEvent EventLocked(const std::string& alias, bool initial)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const Key& key = keys_[alias];
    v1::KeyEvent event;
    event.set_key(alias);
    event.set_accessible(key.accessible);
    if (!key.accessible) event.set_reason("KEY_NOT_ACCESSIBLE");
    event.set_edek_key_name(key.edek_key_name);
    event.set_initial(initial);
    return event;
  }

  // Writes `initial`, then each change to a watched alias, until the client
  // cancels, the server shuts down (which cancels too) or BreakStreams.
  grpc::Status Stream(grpc::ServerContext* context, const std::set<std::string>& watched,
                      std::vector<v1::KeyEvent> pending, size_t seen, uint64_t breaks,
                      grpc::ServerWriter<v1::KeyEvent>* writer) ABSL_LOCKS_EXCLUDED(mu_) {
    while (true) {
      for (const v1::KeyEvent& event : pending) {
        if (!writer->Write(event)) return grpc::Status::CANCELLED;
      }
      pending.clear();
      absl::MutexLock lock(&mu_);
      auto news = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return changes_.size() > seen || breaks_ != breaks;
      };
      // Polled: nothing wakes this wait when the call is cancelled.
      while (!mu_.AwaitWithTimeout(absl::Condition(&news), absl::Milliseconds(20))) {
        if (context->IsCancelled()) return grpc::Status::CANCELLED;
      }
      if (breaks_ != breaks) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "scripted: broken");
      for (; seen < changes_.size(); ++seen) {
        if (watched.count(changes_[seen].key())) pending.push_back(changes_[seen]);
      }
    }
  }

  mutable absl::Mutex mu_;
  std::map<std::string, Key> keys_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Wrapped> wrapped_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::KeyEvent> changes_ ABSL_GUARDED_BY(mu_);  // every SetAccessible, in order
  uint64_t breaks_ ABSL_GUARDED_BY(mu_) = 0;
  bool watch_unimplemented_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> watch_refusal_ ABSL_GUARDED_BY(mu_);
  int open_streams_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int> generate_calls_ ABSL_GUARDED_BY(mu_);
  int unwrap_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int watch_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

// Serves one service on 127.0.0.1, on a port the kernel picks at the first
// Start and the same port after a Stop.
class ScriptedBrokerServer {
 public:
  // `configure`, if set, adds to the server's builder (say, keepalive
  // arguments) at each Start.
  explicit ScriptedBrokerServer(grpc::Service* service,
                                std::function<void(grpc::ServerBuilder&)> configure = nullptr)
      : service_(service), configure_(std::move(configure)) {}
  ~ScriptedBrokerServer() { Stop(); }

  // Starts serving; false if the port could not be bound.
  bool Start() {
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port_), grpc::InsecureServerCredentials(),
                             &bound);
    builder.RegisterService(service_);
    if (configure_) configure_(builder);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || bound == 0) return false;
    port_ = bound;
    return true;
  }

  // Stops serving: open streams are cancelled, as when a broker stops.
  void Stop() {
    if (server_ == nullptr) return;
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
    server_->Wait();
    server_.reset();
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  int port() const { return port_; }

 private:
  grpc::Service* const service_;
  const std::function<void(grpc::ServerBuilder&)> configure_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_FAKES_SCRIPTED_KEY_BROKER_H_
