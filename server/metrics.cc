#include "server/metrics.h"

#include <optional>

#include "absl/strings/string_view.h"
#include "prometheus/text_serializer.h"

namespace keybroker::server {
namespace {

// Latency buckets from 100 µs (a warm call) to 10 s (a Key Vault call at its
// timeout), in seconds.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* const kBuckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
  return *kBuckets;
}

// gRPC's code names, indexed by code (absl and gRPC number them alike).
constexpr absl::string_view kCodeNames[] = {
    "OK",        "CANCELLED",          "UNKNOWN",          "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED", "NOT_FOUND",  "ALREADY_EXISTS",   "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL",       "UNAVAILABLE",      "DATA_LOSS",
    "UNAUTHENTICATED"};

constexpr absl::string_view kKmsKindNames[] = {"local", "azure_key_vault", "azure_managed_hsm"};
constexpr absl::string_view kKmsOperationNames[] = {
    "get_key", "rotate", "unwrapkey", "wrapkey", "encrypt",      "decrypt",
    "rng",     "wrap",   "unwrap",    "reload",  "list_versions"};
constexpr absl::string_view kCacheNames[] = {"unwrap", "key_metadata", "token",
                                             "unknown_version"};

template <size_t N>
int IndexOf(const absl::string_view (&names)[N], absl::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

int CodeIndex(absl::StatusCode code) {
  int index = static_cast<int>(code);
  return index >= 0 && index < 17 ? index : static_cast<int>(absl::StatusCode::kUnknown);
}

// The reason's slot; kErrorReasonCount when there is none (OK included).
int ReasonSlot(const absl::Status& status) {
  std::optional<ErrorReason> reason = ReasonOf(status);
  return reason.has_value() ? static_cast<int>(*reason) : kErrorReasonCount;
}

// An outcome's slot: kErrorReasonCount for OK, an error's reason (INTERNAL
// when it has none) otherwise; named like kms::OutcomeOf.
int OutcomeSlot(const absl::Status& status) {
  if (status.ok()) return kErrorReasonCount;
  return static_cast<int>(ReasonOf(status).value_or(ErrorReason::kInternal));
}

std::string OutcomeName(int slot) {
  return slot == kErrorReasonCount ? "OK"
                                   : std::string(ErrorReasonName(static_cast<ErrorReason>(slot)));
}

}  // namespace

BrokerMetrics::BrokerMetrics(absl::string_view version)
    : registry_(std::make_shared<prometheus::Registry>()),
      rpc_requests_(prometheus::BuildCounter()
                        .Name("keybroker_rpc_requests_total")
                        .Help("KeyBroker RPCs finished, by method, gRPC code, error reason and "
                              "cause (none, client, customer, service)")
                        .Register(*registry_)),
      rpc_duration_(prometheus::BuildHistogram()
                        .Name("keybroker_rpc_duration_seconds")
                        .Help("KeyBroker RPC latency in the server, by method and gRPC code")
                        .Register(*registry_)),
      rpcs_in_flight_(prometheus::BuildGauge()
                          .Name("keybroker_rpcs_in_flight")
                          .Help("KeyBroker RPCs being handled now, by method")
                          .Register(*registry_)),
      kms_requests_(prometheus::BuildCounter()
                        .Name("keybroker_kms_requests_total")
                        .Help("Requests to a KMS (a Key Vault REST call with its retries, or a "
                              "local keyring operation), by KMS, operation and outcome")
                        .Register(*registry_)),
      kms_duration_(prometheus::BuildHistogram()
                        .Name("keybroker_kms_request_duration_seconds")
                        .Help("KMS request latency, by KMS and operation")
                        .Register(*registry_)),
      cache_lookups_(prometheus::BuildCounter()
                         .Name("keybroker_cache_lookups_total")
                         .Help("Cache lookups by cache (unwrap, key_metadata, token, "
                               "unknown_version) and result (hit, miss)")
                         .Register(*registry_)),
      token_refreshes_(prometheus::BuildCounter()
                           .Name("keybroker_token_refreshes_total")
                           .Help("Entra ID access token requests, by outcome")
                           .Register(*registry_)),
      keyring_reloads_(prometheus::BuildCounter()
                           .Name("keybroker_keyring_reloads_total")
                           .Help("Reloads of a changed read-only local keyring, by outcome")
                           .Register(*registry_)),
      keys_configured_(prometheus::BuildGauge()
                           .Name("keybroker_keys_configured")
                           .Help("Configured key aliases, by management (customer, service)")
                           .Register(*registry_)),
      keys_inaccessible_(prometheus::BuildGauge()
                             .Name("keybroker_keys_inaccessible")
                             .Help("Customer-managed keys last seen inaccessible, by reason "
                                   "(customer-caused: no alert)")
                             .Register(*registry_)),
      key_accessible_(prometheus::BuildGauge()
                          .Name("keybroker_key_accessible")
                          .Help("1 unless the key behind the alias was last seen inaccessible")
                          .Register(*registry_)) {
  prometheus::BuildGauge()
      .Name("keybroker_build_info")
      .Help("The running keybroker's version; always 1")
      .Register(*registry_)
      .Add({{"version", std::string(version)}})
      .Set(1);
  auto& denied = prometheus::BuildCounter()
                     .Name("keybroker_authorization_denied_total")
                     .Help("Calls the authorization policy refused (CALLER_NOT_AUTHORIZED), by "
                           "method")
                     .Register(*registry_);
  for (int m = 0; m < kRpcMethodCount; ++m) {
    const std::string method(RpcMethodName(static_cast<RpcMethod>(m)));
    in_flight_[m] = &rpcs_in_flight_.Add({{"method", method}});
    authorization_denied_[m] = &denied.Add({{"method", method}});
  }
  for (int c = 0; c < kCaches; ++c) {
    cache_counters_[2 * c] = &cache_lookups_.Add({{"cache", std::string(kCacheNames[c])},
                                                 {"result", "hit"}});
    cache_counters_[2 * c + 1] = &cache_lookups_.Add({{"cache", std::string(kCacheNames[c])},
                                                     {"result", "miss"}});
  }
  // Present from the start, so that dashboards and alerts see zeros rather
  // than no data.
  for (ErrorReason reason : {ErrorReason::kKeyNotAccessible, ErrorReason::kKeyDisabled,
                             ErrorReason::kKeyNotFound}) {
    SetKeysInaccessible(reason, 0);
  }
}

void BrokerMetrics::AuthorizationDenied(RpcMethod method) {
  authorization_denied_[static_cast<int>(method)]->Increment();
}

std::string BrokerMetrics::Scrape() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (const prometheus::Collectable* collectable : collectables_) {
    for (prometheus::MetricFamily& family : collectable->Collect()) {
      families.push_back(std::move(family));
    }
  }
  return prometheus::TextSerializer().Serialize(families);
}

template <typename Metric, typename MakeLabels, typename... Args>
Metric& BrokerMetrics::Series(std::atomic<Metric*>& slot, prometheus::Family<Metric>& family,
                              MakeLabels make_labels, const Args&... args) {
  Metric* metric = slot.load(std::memory_order_acquire);
  if (metric != nullptr) return *metric;
  absl::MutexLock lock(&create_mu_);
  metric = &family.Add(make_labels(), args...);  // the existing series for equal labels
  slot.store(metric, std::memory_order_release);
  return *metric;
}

void BrokerMetrics::RpcStarted(RpcMethod method) {
  in_flight_[static_cast<int>(method)]->Increment();
}

void BrokerMetrics::RpcFinished(RpcMethod method, const absl::Status& status,
                                absl::Duration latency) {
  const int m = static_cast<int>(method);
  const int code = CodeIndex(status.code());
  CountFinished(method, code, status, CauseOf(status));
  Series(rpc_histograms_[m * kCodeCount + code], rpc_duration_,
         [&] {
           return prometheus::Labels{{"method", std::string(RpcMethodName(method))},
                                     {"code", std::string(kCodeNames[code])}};
         },
         LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(latency));
}

// A stream is not timed. Its life is its client's choice (a watch lasts as
// long as the application that opened it: hours), not the server's work:
// the latency buckets end at 10 s, and the latency alert and dashboards read
// keybroker_rpc_duration_seconds per method as the time the server took to
// answer. Each stream's duration is in the audit line written when it ends.
void BrokerMetrics::StreamFinished(RpcMethod method, const absl::Status& status,
                                   ErrorCause cause) {
  CountFinished(method, CodeIndex(status.code()), status, cause);
}

void BrokerMetrics::CountFinished(RpcMethod method, int code, const absl::Status& status,
                                  ErrorCause cause) {
  const int m = static_cast<int>(method);
  in_flight_[m]->Decrement();
  const int reason = ReasonSlot(status);
  const int c = static_cast<int>(cause);
  Series(rpc_counters_[((m * kCodeCount + code) * kReasonSlots + reason) * kErrorCauseCount + c],
         rpc_requests_,
         [&] {
           return prometheus::Labels{
               {"method", std::string(RpcMethodName(method))},
               {"code", std::string(kCodeNames[code])},
               {"reason", reason == kErrorReasonCount
                              ? std::string("none")
                              : std::string(ErrorReasonName(static_cast<ErrorReason>(reason)))},
               {"cause", std::string(ErrorCauseName(cause))}};
         })
      .Increment();
}

void BrokerMetrics::KmsRequestDone(absl::string_view kms, absl::string_view operation,
                                   const absl::Status& result, absl::Duration latency) {
  const int k = IndexOf(kKmsKindNames, kms);
  const int op = IndexOf(kKmsOperationNames, operation);
  if (k < 0 || op < 0) return;  // not in the closed set: never a new label value
  const int outcome = OutcomeSlot(result);
  Series(kms_counters_[(k * kKmsOperations + op) * kReasonSlots + outcome], kms_requests_,
         [&] {
           return prometheus::Labels{{"kms", std::string(kms)},
                                     {"operation", std::string(operation)},
                                     {"outcome", OutcomeName(outcome)}};
         })
      .Increment();
  Series(kms_histograms_[k * kKmsOperations + op], kms_duration_,
         [&] {
           return prometheus::Labels{{"kms", std::string(kms)},
                                     {"operation", std::string(operation)}};
         },
         LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(latency));
  if (operation == "reload") {
    Series(reload_counters_[outcome], keyring_reloads_,
           [&] { return prometheus::Labels{{"outcome", OutcomeName(outcome)}}; })
        .Increment();
  }
}

void BrokerMetrics::CacheLookup(absl::string_view cache, bool hit) {
  const int c = IndexOf(kCacheNames, cache);
  if (c < 0) return;
  cache_counters_[2 * c + (hit ? 0 : 1)]->Increment();
}

void BrokerMetrics::TokenRefreshDone(const absl::Status& result) {
  const int outcome = OutcomeSlot(result);
  Series(token_counters_[outcome], token_refreshes_,
         [&] { return prometheus::Labels{{"outcome", OutcomeName(outcome)}}; })
      .Increment();
}

void BrokerMetrics::SetKeysConfigured(int customer_managed, int service_managed) {
  absl::MutexLock lock(&create_mu_);
  keys_configured_.Add({{"management", "customer"}}).Set(customer_managed);
  keys_configured_.Add({{"management", "service"}}).Set(service_managed);
}

void BrokerMetrics::SetKeysInaccessible(ErrorReason reason, int count) {
  absl::MutexLock lock(&create_mu_);
  keys_inaccessible_.Add({{"reason", std::string(ErrorReasonName(reason))}}).Set(count);
}

void BrokerMetrics::SetKeyAccessible(const std::string& alias, bool accessible) {
  absl::MutexLock lock(&create_mu_);
  key_accessible_.Add({{"alias", alias}}).Set(accessible ? 1 : 0);
}

}  // namespace keybroker::server
