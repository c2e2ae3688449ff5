// BrokerMetrics: the broker's Prometheus metrics (prometheus-cpp), served as
// text on /metrics (server/http_endpoints.h).
//
// Families (docs/operations.md explains each):
//   keybroker_build_info{version}                          gauge, 1
//   keybroker_rpc_requests_total{method,code,reason,cause} counter
//   keybroker_rpc_duration_seconds{method,code}            histogram (not WatchKeys)
//   keybroker_rpcs_in_flight{method}                       gauge (WatchKeys: open streams)
//   keybroker_kms_requests_total{kms,operation,outcome}    counter
//   keybroker_kms_request_duration_seconds{kms,operation}  histogram
//   keybroker_cache_lookups_total{cache,result}            counter
//   keybroker_token_refreshes_total{outcome}               counter
//   keybroker_keyring_reloads_total{outcome}               counter
//   keybroker_keys_configured{management}                  gauge
//   keybroker_keys_inaccessible{reason}                    gauge
//   keybroker_key_accessible{alias}                        gauge, 1 or 0
//   keybroker_authorization_denied_total{method}           counter
//   keybroker_key_version_last_used_timestamp_seconds{alias,key_version}
//                                                          gauge (key_version_gauge.h)
//
// Every label value comes from a closed set (methods, gRPC code names, reason
// names, causes, KMS kinds and operations) or from configured aliases; never
// raw error text or request bytes, so the number of series stays bounded.
//
// The request path is lock-free once a label combination has been seen: each
// series is created on first use and its address kept in a fixed table.
// Safe for concurrent use.
#ifndef KEYBROKER_SERVER_METRICS_H_
#define KEYBROKER_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/error_reason.h"
#include "kms_adapters/kms_observer.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/error_cause.h"
#include "server/rpc_method.h"

namespace keybroker::server {

class BrokerMetrics final : public kms::KmsObserver {
 public:
  explicit BrokerMetrics(absl::string_view version);

  // The text exposition format (version 0.0.4) of every family.
  std::string Scrape() const;

  // Adds the families `collectable` builds at each scrape (series that come
  // and go, like the key version gauge's). Before any scrape; it must
  // outlive every later Scrape call.
  void AddCollectable(const prometheus::Collectable* collectable) {
    collectables_.push_back(collectable);
  }

  // RPCs: Started when a handler begins, Finished with the status it
  // returns (its absl code is the gRPC code).
  void RpcStarted(RpcMethod method);
  void RpcFinished(RpcMethod method, const absl::Status& status, absl::Duration latency);
  // A server stream (WatchKeys), Started when it opens (RpcStarted, so that
  // keybroker_rpcs_in_flight counts the open streams) and Finished when it
  // ends: counted in keybroker_rpc_requests_total with the status its client
  // was told and `cause`, which the stream's end decides (a broker shutting
  // down ends every stream, and that is nobody's fault). No duration: see
  // metrics.cc.
  void StreamFinished(RpcMethod method, const absl::Status& status, ErrorCause cause);

  // A call the authorization policy refused.
  void AuthorizationDenied(RpcMethod method);

  // The server's unwrap cache ("unwrap"); the adapters report theirs through
  // CacheLookup.
  void UnwrapCacheLookup(bool hit) { CacheLookup("unwrap", hit); }

  // Keys: set at start, and as keys become inaccessible or recover.
  void SetKeysConfigured(int customer_managed, int service_managed);
  void SetKeysInaccessible(ErrorReason reason, int count);
  void SetKeyAccessible(const std::string& alias, bool accessible);

  // kms::KmsObserver.
  void KmsRequestDone(absl::string_view kms, absl::string_view operation,
                      const absl::Status& result, absl::Duration latency) override;
  void CacheLookup(absl::string_view cache, bool hit) override;
  void TokenRefreshDone(const absl::Status& result) override;

 private:
  // Label sets are indexed: codes 0..16, reasons 0..N-1 plus "none" (N).
  static constexpr int kCodeCount = 17;
  static constexpr int kReasonSlots = kErrorReasonCount + 1;
  static constexpr int kKmsKinds = 3;
  static constexpr int kKmsOperations = 11;
  static constexpr int kCaches = 4;

  // Ends an RPC: out of flight, and counted.
  void CountFinished(RpcMethod method, int code, const absl::Status& status, ErrorCause cause);

  // Returns the series in `slot`. The first time (the only time a lock is
  // taken), creates it in `family` with the labels `make_labels()` returns
  // and `args` (a histogram's buckets), so that the request path builds no
  // labels once a combination has been seen.
  template <typename Metric, typename MakeLabels, typename... Args>
  Metric& Series(std::atomic<Metric*>& slot, prometheus::Family<Metric>& family,
                 MakeLabels make_labels, const Args&... args);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& rpc_requests_;
  prometheus::Family<prometheus::Histogram>& rpc_duration_;
  prometheus::Family<prometheus::Gauge>& rpcs_in_flight_;
  prometheus::Family<prometheus::Counter>& kms_requests_;
  prometheus::Family<prometheus::Histogram>& kms_duration_;
  prometheus::Family<prometheus::Counter>& cache_lookups_;
  prometheus::Family<prometheus::Counter>& token_refreshes_;
  prometheus::Family<prometheus::Counter>& keyring_reloads_;
  prometheus::Family<prometheus::Gauge>& keys_configured_;
  prometheus::Family<prometheus::Gauge>& keys_inaccessible_;
  prometheus::Family<prometheus::Gauge>& key_accessible_;

  absl::Mutex create_mu_;  // held only while a new series is added
  std::vector<const prometheus::Collectable*> collectables_;  // set before serving

  std::array<prometheus::Gauge*, kRpcMethodCount> in_flight_{};
  std::array<prometheus::Counter*, kRpcMethodCount> authorization_denied_{};
  std::array<std::atomic<prometheus::Counter*>,
             kRpcMethodCount * kCodeCount * kReasonSlots * kErrorCauseCount>
      rpc_counters_{};
  std::array<std::atomic<prometheus::Histogram*>, kRpcMethodCount * kCodeCount> rpc_histograms_{};
  std::array<std::atomic<prometheus::Counter*>, kKmsKinds * kKmsOperations * kReasonSlots>
      kms_counters_{};
  std::array<std::atomic<prometheus::Histogram*>, kKmsKinds * kKmsOperations> kms_histograms_{};
  std::array<prometheus::Counter*, kCaches * 2> cache_counters_{};
  std::array<std::atomic<prometheus::Counter*>, kReasonSlots> token_counters_{};
  std::array<std::atomic<prometheus::Counter*>, kReasonSlots> reload_counters_{};
};

}  // namespace keybroker::server

#endif  // KEYBROKER_SERVER_METRICS_H_
