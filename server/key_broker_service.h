// KeyBrokerService: the gRPC handlers of keybroker.v1.KeyBroker.
//
// Handlers are thin: read the request, call one BrokerCore function, fill the
// response or translate the error (grpc_status.h). They use gRPC's callback
// API: calls on the local keyring finish inline on gRPC's thread (CPU-only,
// except a Rotate's file write); calls that may wait on a remote KMS run on
// the BlockingExecutor, because callback threads must not block. A
// GenerateDek or Wrap on a remote KMS is first tried inline as a local_only
// call (kms_adapters/kms.h): an RSA key's wrap with its cached public key
// needs no remote call, and only what would block is handed off.
// Responses and requests that hold key material are wiped when the RPC is
// done, by their message allocators (server/wiping_message_allocator.h;
// gRPC's own transport buffers are beyond our reach).
//
// Before any KMS work, each call is admitted: its key alias must be of a
// sane length, the authorization policy (server/authorizer.h), if any, must
// allow its caller (server/caller_identity.h) to call this RPC on this key
// (for Unwrap and Rewrap, the alias bound to the key the EDEK names), and a
// call that may block must find room in the executor's bounded queue.
//
// Every RPC is counted and timed (server/metrics.h) and, when auditing is on,
// leaves one `audit` log line: caller, method, alias, version, outcome,
// reason, cause and latency, and with a policy the decision and the policy's
// generation; never key material or EDEK bytes. A WatchKeys stream is
// counted when it ends (not timed), and leaves two lines: one when it opens
// (or is refused) with the keys watched, one when it ends with how long it
// lasted, the events it sent and why it ended.
//
// Safe for concurrent use.
#ifndef KEYBROKER_SERVER_KEY_BROKER_SERVICE_H_
#define KEYBROKER_SERVER_KEY_BROKER_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "keybroker/v1/key_broker.grpc.pb.h"
#include "server/blocking_executor.h"
#include "server/authorizer.h"
#include "server/broker_core.h"
#include "server/key_watch.h"
#include "server/metrics.h"
#include "server/rpc_method.h"
#include "server/wiping_message_allocator.h"

namespace keybroker::server {

class KeyBrokerService final : public keybroker::v1::KeyBroker::CallbackService {
 public:
  struct Options {
    BlockingExecutor* executor = nullptr;  // none: everything runs inline
    BrokerMetrics* metrics = nullptr;      // none: nothing is counted
    const Authorizer* authorizer = nullptr;  // none: every caller may use every key
    bool audit = false;                    // one audit log line per RPC
    KeyWatchHub* watches = nullptr;        // none: WatchKeys is UNIMPLEMENTED
    size_t max_watch_streams = 4096;       // open at once; more: SERVER_BUSY
  };

  // Most keys one WatchKeys call may name.
  static constexpr size_t kMaxWatchedKeys = 1000;

  // Longest key alias accepted (INVALID_REQUEST beyond).
  static constexpr size_t kMaxKeyBytes = 512;

  // `core` and the options' objects must outlive the service.
  KeyBrokerService(const BrokerCore* core, Options options);

  grpc::ServerUnaryReactor* GenerateDek(grpc::CallbackServerContext* context,
                                        const v1::GenerateDekRequest* request,
                                        v1::GenerateDekResponse* response) override;
  grpc::ServerUnaryReactor* Wrap(grpc::CallbackServerContext* context,
                                 const v1::WrapRequest* request,
                                 v1::WrapResponse* response) override;
  grpc::ServerUnaryReactor* Unwrap(grpc::CallbackServerContext* context,
                                   const v1::UnwrapRequest* request,
                                   v1::UnwrapResponse* response) override;
  grpc::ServerUnaryReactor* Rotate(grpc::CallbackServerContext* context,
                                   const v1::RotateRequest* request,
                                   v1::RotateResponse* response) override;
  grpc::ServerUnaryReactor* Rewrap(grpc::CallbackServerContext* context,
                                   const v1::RewrapRequest* request,
                                   v1::RewrapResponse* response) override;
  grpc::ServerUnaryReactor* DescribeKey(grpc::CallbackServerContext* context,
                                        const v1::DescribeKeyRequest* request,
                                        v1::DescribeKeyResponse* response) override;
  // Authorized like DescribeKey, for each key watched (an empty request:
  // every key the caller may describe).
  grpc::ServerWriteReactor<v1::KeyEvent>* WatchKeys(grpc::CallbackServerContext* context,
                                                    const v1::WatchKeysRequest* request) override;

 private:
  // What WatchKeys's audit lines say of a stream.
  struct WatchFacts {
    uint64_t id = 0;  // numbers this broker's watches: pairs a stream's two lines
    std::string caller;  // when audited or authorized
    std::string peer;    // when audited
    // The aliases watched; when refused, those the request named.
    std::vector<std::string> keys;
    bool every_key = false;  // the request named none
    // The policy that decided the call (null: none in force).
    std::shared_ptr<const AuthorizationPolicy> policy;
    bool allowed = true;
  };
  // The keys a WatchKeys request names, each checked and authorized.
  absl::StatusOr<std::vector<WatchedKey>> WatchedKeys(const v1::WatchKeysRequest& request,
                                                      WatchFacts& facts) const;
  // A watch's audit line: when it opens (or is refused, `ended` null) and
  // when it ends.
  void AuditWatch(const WatchFacts& facts, const absl::Status& status,
                  const WatchSummary* ended, absl::Duration duration) const;
  // What an audit line says of a call besides its outcome; views into the
  // call's request and response, read before the call finishes.
  struct CallFacts {
    absl::string_view alias;
    absl::string_view version;
    BrokerCore::EdekKey edek;  // Unwrap/Rewrap: the EDEK's alias and version
    std::string caller;        // when audited or authorized
    std::string peer;          // when audited: the peer's address
    // The policy that decided the call (null: none in force).
    std::shared_ptr<const AuthorizationPolicy> policy;
    bool allowed = true;
  };

  // What a handler tells Run of its call.
  using ContextMap = google::protobuf::Map<std::string, std::string>;
  struct Call {
    RpcMethod method;
    absl::string_view key;            // the request's key ("" for EDEK calls)
    const std::string* edek = nullptr;  // Unwrap/Rewrap: the request's EDEK
    const ContextMap* context = nullptr;
  };

  // Admits the call (Admit), then runs `work` (absl::Status(CallFacts*,
  // const kms::CallOptions&)) inline or on the executor, then counts, audits
  // and finishes `reactor` with its status. Work that may block is first
  // tried inline as a local_only call when it may not need to (MayBeLocal),
  // so `work` may run twice: the first time it then fails with
  // kms::WouldBlock() before any effect.
  template <typename Work>
  grpc::ServerUnaryReactor* Run(const Call& call, grpc::CallbackServerContext* context,
                                grpc::ServerUnaryReactor* reactor, Work work);
  // OK when the call may go on: key length and the authorization decision.
  absl::Status Admit(const Call& call, CallFacts& facts) const;
  // What authorization decides a call naming `key` (an alias or a key URI) on.
  std::string DecidedKeyOf(absl::string_view key) const;
  void Finish(RpcMethod method, grpc::CallbackServerContext& context,
              grpc::ServerUnaryReactor* reactor, const CallFacts& facts,
              const absl::Status& status, absl::Time started) const;
  void Audit(RpcMethod method, const CallFacts& facts, const absl::Status& status,
             absl::Duration latency) const;

  const BrokerCore* core_;
  const Options options_;
  std::atomic<uint64_t> watches_opened_{0};
  WipingMessageAllocator<v1::GenerateDekRequest, v1::GenerateDekResponse> generate_dek_messages_;
  WipingMessageAllocator<v1::WrapRequest, v1::WrapResponse> wrap_messages_;
  WipingMessageAllocator<v1::UnwrapRequest, v1::UnwrapResponse> unwrap_messages_;
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_KEY_BROKER_SERVICE_H_
