// InMemoryKeyVault: a tiny Azure Key Vault / Managed HSM for unit tests,
// served through a FakeHttpClient (no sockets, no TLS, no Entra ID):
//   GET  /keys/{name}[/{version}]                       KeyBundle (§3)
//   POST /keys/{name}/rotate                            new version's KeyBundle
//   POST /keys/{name}/{version}/unwrapkey               RSA-OAEP-256 (§4)
//   POST /keys/{name}/{version}/{encrypt,decrypt}       A256GCM with aad (§5)
//   POST /rng                                           {"count":1..128} (§6)
// with the wire shapes and error bodies of keyvault-protocol.md (§7). RSA
// unwraps really decrypt with the private key and AES-GCM really runs, so a
// wrong context or a tampered EDEK fails as it would against Azure. Requests
// need api-version=7.4 and a "Bearer token-N" header (FakeTokenProvider).
// Key state (enabled, key_ops) is enforced on crypto operations; scripted
// faults answer before anything else. For the full HTTPS emulator see
// keyvault_emulator/. Safe for concurrent use.
#ifndef KEYBROKER_TESTS_FAKES_IN_MEMORY_KEY_VAULT_H_
#define KEYBROKER_TESTS_FAKES_IN_MEMORY_KEY_VAULT_H_

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "crypto/aes_gcm.h"
#include "crypto/bytes.h"
#include "crypto/random.h"
#include "crypto/rsa_oaep.h"
#include "crypto/secret_bytes.h"
#include "kms_adapters/azure/http_client.h"
#include "nlohmann/json.hpp"
#include "tests/fakes/fake_http_client.h"

namespace keybroker::testing {

namespace internal {

inline std::string B64(absl::string_view bytes) { return absl::WebSafeBase64Escape(bytes); }

inline std::string NewVersionId() {
  absl::StatusOr<crypto::SecretBytes> random = crypto::RandomSecret(16);
  return absl::BytesToHexString(random->RevealAsStringView());  // 32 lowercase hex
}

}  // namespace internal

// RSA 2048 keys are slow to make: a few, made on first use and shared by the
// whole test binary (every caller asking for `index` gets the same key).
inline std::shared_ptr<const crypto::RsaOaepPrivateKey> SharedRsaKey(int index) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* keys = new std::vector<std::shared_ptr<const crypto::RsaOaepPrivateKey>>();
  absl::MutexLock lock(&mu);
  while (keys->size() <= static_cast<size_t>(index)) {
    absl::StatusOr<crypto::RsaOaepPrivateKey> key = crypto::RsaOaepPrivateKey::Generate(2048);
    if (!key.ok()) {
      std::fprintf(stderr, "InMemoryKeyVault: %s\n", key.status().ToString().c_str());
      std::abort();
    }
    keys->push_back(std::make_shared<const crypto::RsaOaepPrivateKey>(*std::move(key)));
  }
  return (*keys)[index];
}

class InMemoryKeyVault {
 public:
  // One key version as the vault holds it.
  struct Version {
    std::string kty = "RSA";  // RSA, RSA-HSM, oct-HSM
    std::shared_ptr<const crypto::RsaOaepPrivateKey> rsa;
    std::string n;  // served modulus; empty: rsa's
    std::shared_ptr<const crypto::SecretBytes> aes;
    std::vector<std::string> key_ops = {"encrypt", "decrypt", "sign",
                                        "verify",  "wrapKey", "unwrapKey"};
    bool enabled = true;
    std::optional<int64_t> nbf, exp;
  };

  // An RSA version holding SharedRsaKey(index), or a fresh AES-256 oct-HSM one.
  static Version Rsa(int index = 0) {
    Version version;
    version.rsa = SharedRsaKey(index);
    return version;
  }
  static Version Aes() {
    Version version;
    version.kty = "oct-HSM";
    version.aes = std::make_shared<const crypto::SecretBytes>(*crypto::RandomSecret(32));
    version.key_ops = {"deriveKey", "wrapKey", "verify", "sign", "unwrapKey", "encrypt", "decrypt"};
    return version;
  }

  // The FakeHttpClient handler serving this vault; `this` must outlive it.
  FakeHttpClient::Handler Handler() {
    return [this](const kms::azure::HttpRequest& request) { return Serve(request); };
  }

  // Makes `version` the latest of host/name; returns its id: `id`, or a
  // new 32-lowercase-hex one when empty (the form Key Vault uses, §1.1).
  std::string AddVersion(const std::string& host, const std::string& name, Version version,
                         std::string id = "") {
    absl::MutexLock lock(&mu_);
    return AddVersionLocked(absl::StrCat(host, "/", name), std::move(version), std::move(id));
  }

  // Answers the next `count` (-1: every) requests of `op` (get, rotate,
  // unwrapkey, encrypt, decrypt, rng) with an error.
  void Fail(const std::string& op, int status, const std::string& code = "",
            const std::string& inner = "", int count = 1) {
    absl::MutexLock lock(&mu_);
    faults_.push_back({op, status, code, inner, count});
  }
  void ClearFaults() {
    absl::MutexLock lock(&mu_);
    faults_.clear();
  }
  // Holds GETs of key `name` until Release() (a fetch in flight);
  // WaitForBlockedGet returns once the first such GET has arrived.
  void BlockGets(const std::string& name) {
    absl::MutexLock lock(&mu_);
    blocked_name_ = name;
  }
  void Release() { release_.Notify(); }
  bool WaitForBlockedGet(absl::Duration timeout) {
    return blocked_get_arrived_.WaitForNotificationWithTimeout(timeout);
  }

  int count(const std::string& op) const {
    absl::MutexLock lock(&mu_);
    auto it = counts_.find(op);
    return it == counts_.end() ? 0 : it->second;
  }
  // The request paths (without the query), in order.
  std::vector<std::string> paths() const {
    absl::MutexLock lock(&mu_);
    return paths_;
  }
  // The aad of the last encrypt / decrypt, decoded.
  std::string last_aad() const {
    absl::MutexLock lock(&mu_);
    return last_aad_;
  }

 private:
  struct Fault {
    std::string op;
    int status;
    std::string code, inner;
    int count;
  };
  struct Key {
    std::vector<std::string> order;  // version ids, oldest first
    absl::flat_hash_map<std::string, Version> versions;
  };

  using Json = nlohmann::json;

  static kms::azure::HttpResponse Error(int status, const std::string& code,
                                        const std::string& inner = "",
                                        const std::string& message = "m") {
    Json error = {{"code", code}, {"message", message}};
    if (!inner.empty()) error["innererror"] = {{"code", inner}};
    kms::azure::HttpResponse response = JsonResponse(status, Json({{"error", error}}).dump());
    response.headers.emplace_back("x-ms-request-id", "tiny-request");
    return response;
  }
  static kms::azure::HttpResponse Ok(const Json& body) {
    kms::azure::HttpResponse response = JsonResponse(200, body.dump());
    response.headers.emplace_back("x-ms-request-id", "tiny-request");
    return response;
  }

  std::string AddVersionLocked(const std::string& key_path, Version version, std::string id = "")
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (id.empty()) id = internal::NewVersionId();
    Key& key = keys_[key_path];
    key.order.push_back(id);
    key.versions[id] = std::move(version);
    return id;
  }

  static Json Bundle(const std::string& host, const std::string& name, const std::string& id,
                     const Version& version) {
    Json key = {{"kid", absl::StrCat("https://", host, "/keys/", name, "/", id)},
                {"kty", version.kty},
                {"key_ops", version.key_ops}};
    if (version.rsa != nullptr) {
      key["n"] = internal::B64(version.n.empty() ? *version.rsa->ModulusBytes() : version.n);
      key["e"] = internal::B64(*version.rsa->PublicExponentBytes());
    }
    Json attributes = {{"enabled", version.enabled},
                       {"created", 1678954183},
                       {"updated", 1678954183},
                       {"recoveryLevel", "Recoverable+Purgeable"},
                       {"recoverableDays", 90}};
    if (version.nbf) attributes["nbf"] = *version.nbf;
    if (version.exp) attributes["exp"] = *version.exp;
    return {{"key", key}, {"attributes", attributes}};
  }

  // A request's place: host, path segments after it, and the operation.
  struct Route {
    std::string host, path, op;
    std::vector<std::string> segments;  // "keys", name[, version][, operation]
  };

  static std::optional<Route> Parse(const kms::azure::HttpRequest& request) {
    absl::string_view url = request.url;
    if (!absl::ConsumePrefix(&url, "https://")) return std::nullopt;
    std::vector<std::string> parts = absl::StrSplit(url, absl::MaxSplits('?', 1));
    if (parts.size() != 2 || parts[1] != "api-version=7.4") return std::nullopt;
    Route route;
    route.segments = absl::StrSplit(parts[0], '/', absl::SkipEmpty());
    if (route.segments.empty()) return std::nullopt;
    route.host = route.segments[0];
    route.path = parts[0].substr(route.host.size());
    route.segments.erase(route.segments.begin());
    const std::vector<std::string>& segments = route.segments;
    if (segments.size() == 1 && segments[0] == "rng") {
      route.op = "rng";
    } else if (request.method == "GET") {
      route.op = "get";
    } else if (segments.size() == 3 && segments[2] == "rotate") {
      route.op = "rotate";
    } else {
      route.op = segments.size() == 4 ? segments[3] : "other";
    }
    return route;
  }

  // Counts the request; returns a scripted fault's answer, if one applies.
  std::optional<kms::azure::HttpResponse> Admit(const Route& route) {
    bool block = false;
    {
      absl::MutexLock lock(&mu_);
      ++counts_[route.op];
      paths_.push_back(route.path);
      for (Fault& fault : faults_) {
        if (fault.op != route.op || fault.count == 0) continue;
        if (fault.count > 0) --fault.count;
        return Error(fault.status, fault.code, fault.inner);
      }
      block = route.op == "get" && route.segments.size() >= 2 && route.segments[1] == blocked_name_;
      if (block && !blocked_get_arrived_.HasBeenNotified()) blocked_get_arrived_.Notify();
    }
    if (block) release_.WaitForNotification();
    return std::nullopt;
  }

  static bool HasBearerToken(const kms::azure::HttpRequest& request) {
    for (const auto& [name, value] : request.headers) {
      if (name == "Authorization" && absl::StartsWith(value, "Bearer token-")) return true;
    }
    return false;
  }

  kms::azure::HttpResponse Serve(const kms::azure::HttpRequest& request) {
    std::optional<Route> route = Parse(request);
    if (!route.has_value()) return Error(400, "BadParameter");
    if (std::optional<kms::azure::HttpResponse> fault = Admit(*route)) return *fault;
    if (!HasBearerToken(request)) return Error(401, "Unauthorized");
    absl::MutexLock lock(&mu_);
    if (route->op == "rng") return Rng(request);
    const std::vector<std::string>& segments = route->segments;
    if (segments.size() < 2 || segments[0] != "keys") return Error(404, "NotFound");
    const std::string& name = segments[1];
    std::string key_path = absl::StrCat(route->host, "/", name);
    auto key = keys_.find(key_path);
    if (key == keys_.end()) return Error(404, "KeyNotFound");
    std::string id;
    if (route->op == "rotate") {
      const Version& latest = key->second.versions[key->second.order.back()];
      Version next = latest.rsa != nullptr ? Rsa(2) : Aes();
      next.key_ops = latest.key_ops;
      id = AddVersionLocked(key_path, std::move(next));
    } else {
      id = segments.size() >= 3 ? segments[2] : key->second.order.back();
    }
    auto version = key->second.versions.find(id);
    if (version == key->second.versions.end()) return Error(404, "KeyNotFound");
    if (route->op == "get" || route->op == "rotate") {
      return Ok(Bundle(route->host, name, id, version->second));
    }
    std::string kid = absl::StrCat("https://", route->host, "/keys/", name, "/", id);
    return Crypto(route->op, kid, version->second, request.body);
  }

  kms::azure::HttpResponse Rng(const kms::azure::HttpRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Json body = Json::parse(request.body, nullptr, false);
    if (!body.is_object() || !body.contains("count") || !body["count"].is_number_integer()) {
      return Error(400, "BadParameter");
    }
    int count = body["count"].get<int>();
    if (count < 1 || count > 128) return Error(400, "BadParameter");
    return Ok({{"value", internal::B64(crypto::RandomSecret(count)->RevealAsStringView())}});
  }

  static bool Field(const Json& body, const char* name, std::string* out) {
    if (!body.contains(name) || !body[name].is_string()) return false;
    return absl::WebSafeBase64Unescape(body[name].get<std::string>(), out);
  }

  // unwrapkey / encrypt / decrypt on one version, after the §7.2 key state
  // checks (operation in key_ops, key enabled).
  kms::azure::HttpResponse Crypto(const std::string& op, const std::string& kid,
                                  const Version& version, const std::string& request_body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Json body = Json::parse(request_body, nullptr, false);
    std::string value, aad;
    if (!body.is_object() || !body.contains("alg") || !Field(body, "value", &value)) {
      return Error(400, "BadParameter", "", "Content of 'value' is not base64url.");
    }
    std::string needed = op == "unwrapkey" ? "unwrapKey" : op;
    if (std::find(version.key_ops.begin(), version.key_ops.end(), needed) ==
        version.key_ops.end()) {
      return Error(403, "Forbidden", "KeyOperationForbidden");
    }
    if (!version.enabled) return Error(403, "Forbidden", "KeyDisabled");
    if (op == "unwrapkey") {
      if (version.rsa == nullptr || body["alg"] != "RSA-OAEP-256") {
        return Error(400, "BadParameter");
      }
      absl::StatusOr<crypto::SecretBytes> plain = version.rsa->Decrypt(crypto::AsBytes(value));
      if (!plain.ok()) {
        return Error(400, "BadParameter", "", "Error occurred while decoding OAEP padding.");
      }
      return Ok({{"kid", kid}, {"value", internal::B64(plain->RevealAsStringView())}});
    }
    if (version.aes == nullptr || body["alg"] != "A256GCM") return Error(400, "BadParameter");
    if (body.contains("aad") && !Field(body, "aad", &aad)) return Error(400, "BadParameter");
    last_aad_ = aad;
    if (op == "encrypt") return EncryptGcm(kid, *version.aes, value, body);
    if (op == "decrypt") return DecryptGcm(kid, *version.aes, value, aad, body);
    return Error(400, "BadParameter");
  }

  // §5: the service makes the IV; the tag comes back separately; aad echoed.
  static kms::azure::HttpResponse EncryptGcm(const std::string& kid, const crypto::SecretBytes& key,
                                             const std::string& plain, const Json& body) {
    std::string aad;
    if (body.contains("aad")) Field(body, "aad", &aad);
    std::string nonce(crypto::RandomSecret(crypto::AesGcm::kNonceSize)->RevealAsStringView());
    std::string sealed(plain.size(), '\0');
    std::string tag(crypto::AesGcm::kTagSize, '\0');
    if (!crypto::AesGcm::Seal(key, crypto::AsBytes(nonce), crypto::AsBytes(plain),
                              crypto::AsBytes(aad), crypto::AsMutableBytes(sealed),
                              crypto::AsMutableBytes(tag))
             .ok()) {
      return Error(500, "InternalServerError");
    }
    Json result = {{"alg", "A256GCM"},
                   {"iv", internal::B64(nonce)},
                   {"kid", kid},
                   {"tag", internal::B64(tag)},
                   {"value", internal::B64(sealed)}};
    if (body.contains("aad")) result["aad"] = body["aad"];
    return Ok(result);
  }

  static kms::azure::HttpResponse DecryptGcm(const std::string& kid, const crypto::SecretBytes& key,
                                             const std::string& sealed, const std::string& aad,
                                             const Json& body) {
    std::string iv, tag;
    if (!Field(body, "iv", &iv) || !Field(body, "tag", &tag)) return Error(400, "BadParameter");
    std::string plain(sealed.size(), '\0');
    if (!crypto::AesGcm::Open(key, crypto::AsBytes(iv), crypto::AsBytes(sealed),
                              crypto::AsBytes(aad), crypto::AsBytes(tag),
                              crypto::AsMutableBytes(plain))
             .ok()) {
      return Error(400, "BadParameter");
    }
    return Ok({{"alg", "A256GCM"}, {"kid", kid}, {"value", internal::B64(plain)}});
  }

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Key> keys_ ABSL_GUARDED_BY(mu_);
  std::vector<Fault> faults_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> counts_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> paths_ ABSL_GUARDED_BY(mu_);
  std::string last_aad_ ABSL_GUARDED_BY(mu_);
  std::string blocked_name_ ABSL_GUARDED_BY(mu_);
  absl::Notification blocked_get_arrived_, release_;
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_FAKES_IN_MEMORY_KEY_VAULT_H_
