// KeyVaultClient: the Key Vault / Managed HSM REST operations keybroker uses
// (api-version 7.4), with authentication and the error mapping of DESIGN.md.
//
// Requests carry a bearer token for the vault's scope from a TokenProvider;
// a 401 makes the client drop the cached token and try once more with a
// fresh one before reporting the key inaccessible. Transport retries and
// per-vault concurrency limits belong to the HttpClient passed in (see
// retrying_http_client.h, concurrency_limited_http_client.h).
//
// Errors (reasons): 401 after a fresh token and 403 (RBAC, access policy,
// firewall) -> KEY_NOT_ACCESSIBLE; 403 KeyDisabled / KeyOperationForbidden ->
// KEY_DISABLED; 404 -> KEY_NOT_FOUND; 400 on unwrap/decrypt -> EDEK_INVALID;
// 429 -> KMS_THROTTLED (with the retry delay); 5xx, connection and TLS
// failures -> KMS_UNAVAILABLE; the caller's deadline passing first ->
// DEADLINE_EXCEEDED. A token the TokenProvider cannot get is the broker's own
// credential failing, never the key's: its error (KMS_UNAVAILABLE,
// KMS_THROTTLED) is returned as is, and is not reported as the key's state
// (KmsObserver::KeyRequestDone), since the vault was never asked.
// Messages carry Key Vault's x-ms-request-id and error codes, never its error
// text (logged, key_vault_errors.h), tokens or key material. Every call
// stops, with CANCELLED (CallerCancelled), before fetching a token or
// sending, and between retries, once its `cancelled` says the caller gave
// up. Safe for concurrent use.
#ifndef KEYBROKER_KMS_ADAPTERS_AZURE_KEY_VAULT_CLIENT_H_
#define KEYBROKER_KMS_ADAPTERS_AZURE_KEY_VAULT_CLIENT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/secret_bytes.h"
#include "kms_adapters/azure/http_client.h"
#include "kms_adapters/azure/key_id.h"
#include "kms_adapters/azure/key_version_list.h"
#include "kms_adapters/kms_observer.h"

namespace keybroker::kms::azure {

// Bearer tokens for a scope (implemented over TokenCache).
class TokenProvider {
 public:
  virtual ~TokenProvider() = default;
  virtual absl::StatusOr<crypto::SecretBytes> Token(absl::string_view scope,
                                                    absl::Time deadline) = 0;
  // Drops the cached token for `scope` (after Key Vault answered 401).
  virtual void Invalidate(absl::string_view scope) = 0;
};

// Where one key lives and how to authenticate to its vault.
struct VaultKey {
  // Host and name; calls say which version they name. A version here is the
  // one a key is pinned to: a call naming it is reported as one on the
  // key's current version (KmsObserver::KeyRequestDone).
  KeyId id;
  std::string scope;    // token scope for the vault
  TokenProvider* tokens = nullptr;  // must outlive the client's calls
  // For KmsObserver reports: the configured identifier (the Kms key_id) and
  // the KMS kind, "azure_key_vault" or "azure_managed_hsm".
  std::string key_id;
  std::string kms = "azure_key_vault";
};

// The parts of a KeyBundle keybroker reads (§3.2).
struct KeyBundle {
  std::string version;               // from the versioned kid
  std::string kty;                   // RSA, RSA-HSM, oct-HSM...
  std::vector<std::string> key_ops;
  std::string n, e;                  // RSA modulus and exponent, raw bytes
  bool enabled = true;
  std::optional<absl::Time> not_before, expires;
  std::string request_id;            // x-ms-request-id of the response

  bool HasOp(absl::string_view op) const;
};

// Why the vault refuses crypto operations with a key version whose
// attributes are these, at `now` (§7.2): "is disabled", "is not valid yet
// (nbf)" or "expired"; nullopt when it may be used. The one judgement of a
// version's attributes: wraps, key health and DescribeKey's `enabled` use it.
std::optional<absl::string_view> UnusableBecause(bool enabled,
                                                 const std::optional<absl::Time>& not_before,
                                                 const std::optional<absl::Time>& expires,
                                                 absl::Time now);

// An AES-GCM encryption result from Managed HSM (§5).
struct GcmCiphertext {
  std::string value, iv, tag;  // raw bytes
};

class KeyVaultClient {
 public:
  // `http` and `observer` must outlive the client. The observer hears of
  // every request (KmsRequestDone, KeyRequestDone) with its final outcome,
  // but for those the caller cancelled.
  explicit KeyVaultClient(HttpClient* http, KmsObserver* observer = NoKmsObserver())
      : http_(http), observer_(observer) {}

  // GET /keys/{name}[/{version}]; latest when `version` is empty. A
  // disabled, expired or not yet valid version still answers 200 (§3.1):
  // the bundle is returned, and the observer hears KEY_DISABLED as the
  // key's state (KeyRequestDone), which for the key's current version marks
  // it inaccessible.
  absl::StatusOr<KeyBundle> GetKey(const VaultKey& key, absl::string_view version,
                                   absl::Time deadline, const CancelledFn& cancelled = {});
  // GET /keys/{name}/versions, following nextLink (same vault only) for at
  // most `max_pages` pages of 25: the key's versions in the vault's order
  // (ascending version string, not creation time, §3.6). Needs keys/list;
  // a refusal is an error but is not reported as the key's state (the
  // broker may wrap and unwrap without the right to list).
  absl::StatusOr<std::vector<KeyVersionItem>> ListKeyVersions(const VaultKey& key, int max_pages,
                                                              absl::Time deadline,
                                                              const CancelledFn& cancelled = {});
  // POST /keys/{name}/rotate: a new version; returns its bundle.
  absl::StatusOr<KeyBundle> RotateKey(const VaultKey& key, absl::Time deadline,
                                      const CancelledFn& cancelled = {});
  // POST /keys/{name}/{version}/unwrapkey with `alg`.
  absl::StatusOr<crypto::SecretBytes> UnwrapKey(const VaultKey& key, absl::string_view version,
                                                absl::string_view alg, absl::string_view wrapped,
                                                absl::Time deadline,
                                                const CancelledFn& cancelled = {});
  // POST /keys/{name}/{version}/encrypt with A256GCM; Managed HSM makes the IV.
  absl::StatusOr<GcmCiphertext> EncryptGcm(const VaultKey& key, absl::string_view version,
                                           const crypto::SecretBytes& plaintext,
                                           absl::string_view aad, absl::Time deadline,
                                           const CancelledFn& cancelled = {});
  // POST /keys/{name}/{version}/decrypt with A256GCM.
  absl::StatusOr<crypto::SecretBytes> DecryptGcm(const VaultKey& key, absl::string_view version,
                                                 const GcmCiphertext& ciphertext,
                                                 absl::string_view aad, absl::Time deadline,
                                                 const CancelledFn& cancelled = {});
  // POST /rng on a Managed HSM: `count` (1..128) random bytes.
  absl::StatusOr<crypto::SecretBytes> RandomBytes(const VaultKey& key, int count,
                                                  absl::Time deadline,
                                                  const CancelledFn& cancelled = {});

 private:
  struct Call {
    const VaultKey* key;
    std::string operation;        // for messages: "get key", "unwrapkey"...
    std::string operation_label;  // for metrics: "get_key", "unwrapkey"...
    std::string method;
    std::string path;       // after the vault URL, without the query
    std::string version;    // the key version the call names, "" for none
    std::string body;       // JSON, may hold key material: wiped after the call
    bool retry_safe = true; // false for rotate, which creates a version
    bool edek_operation = false;  // unwrapkey/decrypt: a 400 means a bad EDEK
    bool vault_answered = false;  // set by SendOnce: an HTTP answer came back
    std::string query = "";  // after '?'; empty: the api-version alone
    // Get key: a success's key state is the bundle's (BundleState), told by
    // the caller once it has read the bundle, not by Send.
    bool state_from_bundle = false;
  };
  // Whether `call`'s outcome `status` tells the key's state: only when the
  // vault answered, and not a rotate refused for want of the rotate right.
  static bool ReportsKeyState(const Call& call, const absl::Status& status);
  // Reports `status` to the observer as the state of `key` for a request
  // naming `version`.
  void ReportKeyState(const VaultKey& key, absl::string_view version,
                      const absl::Status& status);
  // Sends `call` (SendOnce) and reports its outcome to the observer, unless
  // the caller cancelled it; as the key's state when ReportsKeyState.
  absl::StatusOr<HttpResponse> Send(Call call, absl::Time deadline,
                                    const CancelledFn& cancelled);
  // Sends `call` with a bearer token, once more after a 401 with a fresh one;
  // any answer but 200 becomes the error of DESIGN.md's table.
  absl::StatusOr<HttpResponse> SendOnce(Call& call, absl::Time deadline,
                                        const CancelledFn& cancelled);

  HttpClient* http_;
  KmsObserver* observer_;
};

}  // namespace keybroker::kms::azure

#endif  // KEYBROKER_KMS_ADAPTERS_AZURE_KEY_VAULT_CLIENT_H_
