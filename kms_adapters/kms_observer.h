// KmsObserver: what the KMS adapters report about their own work, so the
// server can count it (Prometheus) without the adapters knowing about
// metrics libraries.
//
// Every label-like argument comes from a closed set named below, never from
// raw error text, key material or EDEK bytes. Implementations must be cheap
// and safe for concurrent use: they are called on the request path.
#ifndef KEYBROKER_KMS_ADAPTERS_KMS_OBSERVER_H_
#define KEYBROKER_KMS_ADAPTERS_KMS_OBSERVER_H_

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace keybroker::kms {

class KmsObserver {
 public:
  virtual ~KmsObserver() = default;

  // One request to a KMS finished (for Azure: one Key Vault REST call,
  // retries included; for the local keyring: one keyring operation).
  // `kms`: "local", "azure_key_vault" or "azure_managed_hsm".
  // `operation`: the REST operation ("get_key", "rotate", "unwrapkey",
  // "encrypt", "decrypt", "rng") or the local one ("wrap", "unwrap",
  // "rotate", "reload"). `result`: its outcome (OutcomeOf).
  virtual void KmsRequestDone(absl::string_view kms, absl::string_view operation,
                              const absl::Status& result, absl::Duration latency) {}

  // A lookup in one of the adapters' caches: "key_metadata" (latest version
  // and public key), "token" (Entra access tokens).
  virtual void CacheLookup(absl::string_view cache, bool hit) {}

  // An Entra ID token request finished.
  virtual void TokenRefreshDone(const absl::Status& result) {}

  // A remote KMS answered a request on one configured key: `key_id` as
  // configured (the Kms key_id), `version` the version the request named (""
  // for the latest), `current` whether that is the key's current version
  // (the latest, or the one version of a key pinned to it: the version wraps
  // use and the access probe asks about), `result` its outcome, carrying the
  // KMS's request id (KmsRequestIdOf) when it failed. The server tracks from
  // these which customer keys are accessible.
  virtual void KeyRequestDone(absl::string_view key_id, absl::string_view version, bool current,
                              const absl::Status& result) {}

  // A key added after start (a customer key named at run time by its URI),
  // and such a key dropped again (the least recently used, past the bound):
  // the key-health tracker follows them like configured keys. `key_id` is
  // the Kms key_id, `edek_key_name` what EDEKs under the key carry. Told in
  // order, under the KMS's lock: must be quick and must not call the KMS.
  virtual void KeyAdded(absl::string_view key_id, absl::string_view edek_key_name) {}
  virtual void KeyRemoved(absl::string_view key_id) {}
};

// Tells several observers (the server's metrics and its key-health tracker).
class KmsObserverList final : public KmsObserver {
 public:
  // The observers must outlive the list.
  explicit KmsObserverList(std::vector<KmsObserver*> observers)
      : observers_(std::move(observers)) {}

  void KmsRequestDone(absl::string_view kms, absl::string_view operation,
                      const absl::Status& result, absl::Duration latency) override {
    for (KmsObserver* o : observers_) o->KmsRequestDone(kms, operation, result, latency);
  }
  void CacheLookup(absl::string_view cache, bool hit) override {
    for (KmsObserver* o : observers_) o->CacheLookup(cache, hit);
  }
  void TokenRefreshDone(const absl::Status& result) override {
    for (KmsObserver* o : observers_) o->TokenRefreshDone(result);
  }
  void KeyRequestDone(absl::string_view key_id, absl::string_view version, bool current,
                      const absl::Status& result) override {
    for (KmsObserver* o : observers_) o->KeyRequestDone(key_id, version, current, result);
  }
  void KeyAdded(absl::string_view key_id, absl::string_view edek_key_name) override {
    for (KmsObserver* o : observers_) o->KeyAdded(key_id, edek_key_name);
  }
  void KeyRemoved(absl::string_view key_id) override {
    for (KmsObserver* o : observers_) o->KeyRemoved(key_id);
  }

 private:
  const std::vector<KmsObserver*> observers_;
};

// An observer that ignores everything: the default where none is given.
KmsObserver* NoKmsObserver();

// "OK", or the error's reason name (common/error_reason.h), or "INTERNAL" for
// an error without one: the closed set metrics label outcomes with.
absl::string_view OutcomeOf(const absl::Status& status);

}  // namespace keybroker::kms

#endif  // KEYBROKER_KMS_ADAPTERS_KMS_OBSERVER_H_
