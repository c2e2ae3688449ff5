#include "kms_adapters/azure/key_vault_client.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/status_macros.h"
#include "crypto/wipe.h"
#include "kms_adapters/azure/key_vault_errors.h"
#include "kms_adapters/azure/url.h"
#include "nlohmann/json.hpp"

namespace keybroker::kms::azure {
namespace {

using ::keybroker::crypto::ScopedWipe;
using ::keybroker::crypto::WipeString;
using Json = nlohmann::json;

constexpr absl::string_view kApiVersion = "api-version=7.4";

std::string B64(absl::string_view bytes) { return absl::WebSafeBase64Escape(bytes); }

// Decodes a base64url field (padded or not, §11). Wipes the JSON's copy.
absl::StatusOr<std::string> ReadB64(Json& json, const char* field, absl::string_view what) {
  if (!json.contains(field) || !json[field].is_string()) {
    return Internal(absl::StrCat(what, ": response has no '", field, "'"));
  }
  std::string& text = json[field].get_ref<std::string&>();
  std::string bytes;
  bool ok = absl::WebSafeBase64Unescape(text, &bytes);
  WipeString(&text);
  if (!ok) return Internal(absl::StrCat(what, ": response '", field, "' is not base64url"));
  return bytes;
}

absl::StatusOr<Json> ParseBody(std::string& body, absl::string_view what) {
  Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  WipeString(&body);
  if (!json.is_object()) return Internal(absl::StrCat(what, ": response is not a JSON object"));
  return json;
}

// A string member, or "" (never throws on a member of another type).
std::string StringField(const Json& object, const char* field) {
  auto it = object.find(field);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::optional<absl::Time> OptionalTime(const Json& attributes, const char* field) {
  if (!attributes.contains(field) || !attributes[field].is_number_integer()) return std::nullopt;
  return absl::FromUnixSeconds(attributes[field].get<int64_t>());
}

// Reads a KeyBundle (§3.2); members may come in any order.
absl::StatusOr<KeyBundle> ParseBundle(std::string& body, absl::string_view what) {
  ASSIGN_OR_RETURN(Json json, ParseBody(body, what));
  if (!json.contains("key") || !json["key"].is_object()) {
    return Internal(absl::StrCat(what, ": response has no key"));
  }
  Json& key = json["key"];
  KeyBundle bundle;
  std::string kid = StringField(key, "kid");
  bundle.version = absl::AsciiStrToLower(kid.substr(kid.rfind('/') + 1));
  bundle.kty = StringField(key, "kty");
  if (key.contains("key_ops") && key["key_ops"].is_array()) {
    for (const Json& op : key["key_ops"]) {
      if (op.is_string()) bundle.key_ops.push_back(op.get<std::string>());
    }
  }
  if (bundle.kty == "RSA" || bundle.kty == "RSA-HSM") {
    ASSIGN_OR_RETURN(bundle.n, ReadB64(key, "n", what));
    ASSIGN_OR_RETURN(bundle.e, ReadB64(key, "e", what));
  }
  if (json.contains("attributes") && json["attributes"].is_object()) {
    const Json& attributes = json["attributes"];
    bundle.enabled = !attributes.contains("enabled") || !attributes["enabled"].is_boolean() ||
                     attributes["enabled"].get<bool>();
    bundle.not_before = OptionalTime(attributes, "nbf");
    bundle.expires = OptionalTime(attributes, "exp");
  }
  // The version goes into request paths and EDEKs, and AzureKms unwraps only
  // Key Vault's own form (32 hex, §1.1): refuse any other before a wrap uses it.
  if (bundle.version.size() != 32 ||
      !std::all_of(bundle.version.begin(), bundle.version.end(), absl::ascii_isxdigit) ||
      bundle.kty.empty()) {
    return Internal(absl::StrCat(what, ": response kid or kty is malformed"));
  }
  return bundle;
}

// The key material in a crypto operation's response: base64url `value`.
absl::StatusOr<crypto::SecretBytes> SecretValue(std::string& body, absl::string_view what) {
  ASSIGN_OR_RETURN(Json json, ParseBody(body, what));
  ASSIGN_OR_RETURN(std::string bytes, ReadB64(json, "value", what));
  crypto::SecretBytes secret = crypto::SecretBytes::CopyFrom(bytes);
  WipeString(&bytes);
  return secret;
}

std::string Describe(const VaultKey& key, absl::string_view version) {
  return absl::StrCat("key ", key.id.EdekName(), version.empty() ? "" : " version ", version);
}

// What a bundle's attributes say of the version's use: KEY_DISABLED, with
// the response's request id, when it is disabled, not yet valid or expired
// (what the vault refuses crypto operations for, §7.2); OK otherwise.
absl::Status BundleState(const VaultKey& key, const KeyBundle& bundle, absl::Time now) {
  std::optional<absl::string_view> why =
      UnusableBecause(bundle.enabled, bundle.not_before, bundle.expires, now);
  if (!why.has_value()) return absl::OkStatus();
  absl::Status status =
      MakeError(ErrorReason::kKeyDisabled, absl::StrCat(Describe(key, bundle.version), " ", *why));
  SetKmsRequestId(status, bundle.request_id);
  return status;
}

}  // namespace

std::optional<absl::string_view> UnusableBecause(bool enabled,
                                                 const std::optional<absl::Time>& not_before,
                                                 const std::optional<absl::Time>& expires,
                                                 absl::Time now) {
  if (!enabled) return "is disabled";
  if (not_before.has_value() && *not_before > now) return "is not valid yet (nbf)";
  if (expires.has_value() && *expires <= now) return "expired";
  return std::nullopt;
}

bool KeyVaultClient::ReportsKeyState(const Call& call, const absl::Status& status) {
  // No token, or no answer: the vault said nothing about the key, and a
  // broker whose own credential fails must not mark customer keys
  // inaccessible.
  if (!call.vault_answered) return false;
  // A refused rotate is the customer not granting keys/rotate/action (the
  // broker then picks up the latest version instead), and a refused listing
  // is keys/list not granted: neither is lost access to wrap and unwrap.
  if (call.operation_label == "list_versions") return false;
  return !(call.operation_label == "rotate" && ReasonOf(status) == ErrorReason::kKeyNotAccessible);
}

bool KeyBundle::HasOp(absl::string_view op) const {
  return std::find(key_ops.begin(), key_ops.end(), op) != key_ops.end();
}

void KeyVaultClient::ReportKeyState(const VaultKey& key, absl::string_view version,
                                    const absl::Status& status) {
  // A key pinned to a version (its URL names one) has that version for its
  // current one: wraps use it and the access probe asks about it.
  const bool current = version.empty() || version == key.id.version;
  observer_->KeyRequestDone(key.key_id, version, current, status);
}

absl::StatusOr<HttpResponse> KeyVaultClient::Send(Call call, absl::Time deadline,
                                                  const CancelledFn& cancelled) {
  const absl::Time started = absl::Now();
  absl::StatusOr<HttpResponse> result = SendOnce(call, deadline, cancelled);
  const absl::Status& status = result.status();
  // The caller's choice, not the vault's outcome: not counted (as INTERNAL).
  if (absl::IsCancelled(status)) return result;
  observer_->KmsRequestDone(call.key->kms, call.operation_label, status, absl::Now() - started);
  if (ReportsKeyState(call, status) && !(call.state_from_bundle && status.ok())) {
    ReportKeyState(*call.key, call.version, status);
  }
  return result;
}

absl::StatusOr<HttpResponse> KeyVaultClient::SendOnce(Call& call, absl::Time deadline,
                                                      const CancelledFn& cancelled) {
  ScopedWipe wipe_body(&call.body);
  std::string what = Describe(*call.key, "");
  HttpRequest request;
  request.method = call.method;
  request.url = absl::StrCat(call.key->id.VaultUrl(), call.path, "?",
                             call.query.empty() ? kApiVersion : call.query);
  request.body = call.body;
  request.retry_safe = call.retry_safe;
  request.cancelled = cancelled;
  ScopedWipe wipe_request(&request.body);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (IsCancelled(cancelled)) return CallerCancelled();
    absl::StatusOr<crypto::SecretBytes> token = call.key->tokens->Token(call.key->scope, deadline);
    if (!token.ok()) {
      // The broker's identity, not the key: the message says so first.
      return Annotate(token.status(), absl::StrCat(call.operation, " on ", what,
                                                   ": no access token for the broker"));
    }
    request.headers = {{"Authorization", absl::StrCat("Bearer ", token->RevealAsStringView())},
                       {"Accept", "application/json"}};
    if (!request.body.empty()) request.headers.emplace_back("Content-Type", "application/json");
    if (IsCancelled(cancelled)) {
      WipeString(&request.headers[0].second);
      return CallerCancelled();
    }
    absl::StatusOr<HttpResponse> response = http_->Send(request, deadline);
    WipeString(&request.headers[0].second);
    if (absl::IsCancelled(response.status())) return response.status();
    if (!response.ok()) return TransportError(response.status(), call.operation, what);
    call.vault_answered = true;
    if (response->status == 401 && attempt == 0) {
      // An expired or revoked token: fetch a fresh one and try once more.
      call.key->tokens->Invalidate(call.key->scope);
      continue;
    }
    if (response->status != 200) {
      return KeyVaultError(*response, call.operation,
                           call.operation == "rng" ? call.key->id.host
                                                   : Describe(*call.key, call.version),
                           call.edek_operation);
    }
    return response;
  }
  return Internal("unreachable");
}

absl::StatusOr<KeyBundle> KeyVaultClient::GetKey(const VaultKey& key, absl::string_view version,
                                                 absl::Time deadline,
                                                 const CancelledFn& cancelled) {
  std::string path = absl::StrCat("/keys/", key.id.name, version.empty() ? "" : "/", version);
  Call call{&key, "get key", "get_key", "GET", path, std::string(version), ""};
  call.state_from_bundle = true;
  ASSIGN_OR_RETURN(HttpResponse response, Send(std::move(call), deadline, cancelled));
  // A malformed answer says nothing about the key: no state is reported.
  ASSIGN_OR_RETURN(KeyBundle bundle, ParseBundle(response.body, "get key"));
  bundle.request_id = response.Header("x-ms-request-id");
  ReportKeyState(key, version, BundleState(key, bundle, absl::Now()));
  return bundle;
}

absl::StatusOr<std::vector<KeyVersionItem>> KeyVaultClient::ListKeyVersions(
    const VaultKey& key, int max_pages, absl::Time deadline, const CancelledFn& cancelled) {
  ASSIGN_OR_RETURN(std::string origin, OriginOf(key.id.VaultUrl()));
  std::string path = absl::StrCat("/keys/", key.id.name, "/versions");
  std::string query = absl::StrCat(kApiVersion, "&maxresults=25");
  std::vector<KeyVersionItem> versions;
  for (int page = 0; page < max_pages && !path.empty(); ++page) {
    Call call{&key, "list key versions", "list_versions", "GET", path, "", ""};
    call.query = query;
    ASSIGN_OR_RETURN(HttpResponse response, Send(std::move(call), deadline, cancelled));
    ASSIGN_OR_RETURN(KeyVersionPage parsed, ParseKeyVersionPage(response.body, origin,
                                                                key.id.name));
    for (KeyVersionItem& item : parsed.items) versions.push_back(std::move(item));
    // The next page's path and query, as the vault wrote them.
    size_t mark = parsed.next_path_and_query.find('?');
    path = parsed.next_path_and_query.substr(0, mark);
    query = mark == std::string::npos ? "" : parsed.next_path_and_query.substr(mark + 1);
  }
  return versions;
}

absl::StatusOr<KeyBundle> KeyVaultClient::RotateKey(const VaultKey& key, absl::Time deadline,
                                                    const CancelledFn& cancelled) {
  std::string path = absl::StrCat("/keys/", key.id.name, "/rotate");
  ASSIGN_OR_RETURN(HttpResponse response,
                   Send({&key, "rotate", "rotate", "POST", path, "", "", /*retry_safe=*/false},
                        deadline, cancelled));
  ASSIGN_OR_RETURN(KeyBundle bundle, ParseBundle(response.body, "rotate"));
  bundle.request_id = response.Header("x-ms-request-id");
  return bundle;
}

absl::StatusOr<crypto::SecretBytes> KeyVaultClient::UnwrapKey(const VaultKey& key,
                                                              absl::string_view version,
                                                              absl::string_view alg,
                                                              absl::string_view wrapped,
                                                              absl::Time deadline,
                                                              const CancelledFn& cancelled) {
  std::string path = absl::StrCat("/keys/", key.id.name, "/", version, "/unwrapkey");
  std::string body = absl::StrCat(R"({"alg":")", alg, R"(","value":")", B64(wrapped), R"("})");
  ASSIGN_OR_RETURN(HttpResponse response,
                   Send({&key, "unwrapkey", "unwrapkey", "POST", path, std::string(version),
                         std::move(body), /*retry_safe=*/true, /*edek_operation=*/true},
                        deadline, cancelled));
  ScopedWipe wipe(&response.body);
  return SecretValue(response.body, "unwrapkey");
}

absl::StatusOr<GcmCiphertext> KeyVaultClient::EncryptGcm(const VaultKey& key,
                                                         absl::string_view version,
                                                         const crypto::SecretBytes& plaintext,
                                                         absl::string_view aad,
                                                         absl::Time deadline,
                                                         const CancelledFn& cancelled) {
  std::string path = absl::StrCat("/keys/", key.id.name, "/", version, "/encrypt");
  std::string value = B64(plaintext.RevealAsStringView());
  std::string body = absl::StrCat(R"({"alg":"A256GCM","value":")", value, R"(","aad":")",
                                  B64(aad), R"("})");
  WipeString(&value);
  ASSIGN_OR_RETURN(HttpResponse response,
                   Send({&key, "encrypt", "encrypt", "POST", path, std::string(version),
                         std::move(body)},
                        deadline, cancelled));
  ASSIGN_OR_RETURN(Json json, ParseBody(response.body, "encrypt"));
  GcmCiphertext out;
  ASSIGN_OR_RETURN(out.value, ReadB64(json, "value", "encrypt"));
  ASSIGN_OR_RETURN(out.iv, ReadB64(json, "iv", "encrypt"));
  ASSIGN_OR_RETURN(out.tag, ReadB64(json, "tag", "encrypt"));
  return out;
}

absl::StatusOr<crypto::SecretBytes> KeyVaultClient::DecryptGcm(const VaultKey& key,
                                                               absl::string_view version,
                                                               const GcmCiphertext& ciphertext,
                                                               absl::string_view aad,
                                                               absl::Time deadline,
                                                               const CancelledFn& cancelled) {
  std::string path = absl::StrCat("/keys/", key.id.name, "/", version, "/decrypt");
  std::string body = absl::StrCat(R"({"alg":"A256GCM","value":")", B64(ciphertext.value),
                                  R"(","iv":")", B64(ciphertext.iv), R"(","tag":")",
                                  B64(ciphertext.tag), R"(","aad":")", B64(aad), R"("})");
  ASSIGN_OR_RETURN(HttpResponse response,
                   Send({&key, "decrypt", "decrypt", "POST", path, std::string(version),
                         std::move(body), /*retry_safe=*/true, /*edek_operation=*/true},
                        deadline, cancelled));
  ScopedWipe wipe(&response.body);
  return SecretValue(response.body, "decrypt");
}

absl::StatusOr<crypto::SecretBytes> KeyVaultClient::RandomBytes(const VaultKey& key, int count,
                                                                absl::Time deadline,
                                                                const CancelledFn& cancelled) {
  std::string body = absl::StrCat(R"({"count":)", count, "}");
  ASSIGN_OR_RETURN(HttpResponse response,
                   Send({&key, "rng", "rng", "POST", "/rng", "", std::move(body)}, deadline,
                        cancelled));
  ScopedWipe wipe(&response.body);
  ASSIGN_OR_RETURN(crypto::SecretBytes secret, SecretValue(response.body, "rng"));
  if (secret.size() != static_cast<size_t>(count)) {
    return Internal("rng: Managed HSM returned the wrong number of bytes");
  }
  return secret;
}

}  // namespace keybroker::kms::azure
