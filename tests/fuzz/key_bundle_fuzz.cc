// libFuzzer target for what KeyVaultClient reads from a 200 answer of Key
// Vault or Managed HSM (kms_adapters/azure/key_vault_client.h): key bundles
// (get key, rotate) and the base64url results of unwrapkey, encrypt, decrypt
// and rng. The answer goes through the real client over an in-memory
// HttpClient. Input: a line naming the operation (get, rotate, unwrapkey,
// encrypt, decrypt, rng; anything else is get), then the response body.
//
// Invariants:
// - a bundle that is accepted names a version of 32 lowercase hex
//   characters (it goes into request paths and EDEKs) and a key type;
// - rng returns exactly the bytes asked for;
// - a body the client cannot use is INTERNAL with reason INTERNAL, and its
//   message names the operation and what was wrong, never the body's text
//   (bounded, valid UTF-8, no control characters).
#include <cstdint>
#include <string>

#include "common/utf8.h"
#include "kms_adapters/azure/key_vault_client.h"
#include "tests/fuzz/fuzz_support.h"

namespace keybroker::fuzz {
namespace {

namespace az = kms::azure;

constexpr absl::string_view kRequestId = "fuzz-request-id";
constexpr int kRandomBytes = 32;

// Answers every request with 200 and the current body.
class CannedHttpClient : public az::HttpClient {
 public:
  absl::StatusOr<az::HttpResponse> Send(const az::HttpRequest& request,
                                        absl::Time deadline) override {
    az::HttpResponse response;
    response.status = 200;
    response.headers = {{"Content-Type", "application/json; charset=utf-8"},
                        {"x-ms-request-id", std::string(kRequestId)}};
    response.body = body_;
    return response;
  }
  void set_body(std::string body) { body_ = std::move(body); }

 private:
  std::string body_;
};

class FixedTokens : public az::TokenProvider {
 public:
  absl::StatusOr<crypto::SecretBytes> Token(absl::string_view scope, absl::Time deadline) override {
    return crypto::SecretBytes::CopyFrom(absl::string_view("fuzz-token"));
  }
  void Invalidate(absl::string_view scope) override {}
};

struct Fixture {
  CannedHttpClient http;
  FixedTokens tokens;
  az::KeyVaultClient client{&http};
  az::VaultKey key;

  Fixture() {
    key.id = az::ParseKeyId("https://fuzz.vault.azure.net/keys/kek").value();
    key.scope = "https://vault.azure.net/.default";
    key.tokens = &tokens;
    key.key_id = "https://fuzz.vault.azure.net/keys/kek";
  }
};

bool IsLowerHex(absl::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void CheckRefusal(const absl::Status& status, absl::string_view operation) {
  FUZZ_CHECK(
      status.code() == absl::StatusCode::kInternal && ReasonOf(status) == ErrorReason::kInternal,
      status.ToString());
  absl::string_view message = status.message();
  FUZZ_CHECK(absl::StartsWith(message, absl::StrCat(operation, ": ")), message);
  FUZZ_CHECK(message.size() <= 120 && IsValidUtf8(message), message);
  for (char c : message) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20, message);
}

void CheckBundle(const absl::StatusOr<az::KeyBundle>& bundle, absl::string_view operation) {
  if (!bundle.ok()) return CheckRefusal(bundle.status(), operation);
  FUZZ_CHECK(bundle->version.size() == 32 && IsLowerHex(bundle->version), bundle->version);
  FUZZ_CHECK(!bundle->kty.empty());
  FUZZ_CHECK(bundle->request_id == kRequestId);
}

void TestOneInput(FuzzInput input) {
  static Fixture* const fixture = new Fixture();
  const std::string operation = input.Line();
  fixture->http.set_body(input.Rest());
  az::KeyVaultClient& client = fixture->client;
  const az::VaultKey& key = fixture->key;
  const absl::Time deadline = absl::InfiniteFuture();
  const std::string version(32, 'a');

  if (operation == "rotate") {
    CheckBundle(client.RotateKey(key, deadline), "rotate");
  } else if (operation == "unwrapkey") {
    absl::StatusOr<crypto::SecretBytes> dek =
        client.UnwrapKey(key, version, "RSA-OAEP-256", "wrapped", deadline);
    if (!dek.ok()) CheckRefusal(dek.status(), "unwrapkey");
  } else if (operation == "encrypt") {
    absl::StatusOr<az::GcmCiphertext> sealed = client.EncryptGcm(
        key, version, crypto::SecretBytes::CopyFrom(absl::string_view("dek")), "aad", deadline);
    if (!sealed.ok()) CheckRefusal(sealed.status(), "encrypt");
  } else if (operation == "decrypt") {
    absl::StatusOr<crypto::SecretBytes> dek =
        client.DecryptGcm(key, version, az::GcmCiphertext{"value", "iv", "tag"}, "aad", deadline);
    if (!dek.ok()) CheckRefusal(dek.status(), "decrypt");
  } else if (operation == "rng") {
    absl::StatusOr<crypto::SecretBytes> random = client.RandomBytes(key, kRandomBytes, deadline);
    if (random.ok()) {
      FUZZ_CHECK(random->size() == kRandomBytes);
    } else {
      CheckRefusal(random.status(), "rng");
    }
  } else if (operation == "list_versions") {
    // Every page gets the same body: a nextLink that is followed comes back.
    absl::StatusOr<std::vector<az::KeyVersionItem>> versions =
        client.ListKeyVersions(key, /*max_pages=*/3, deadline);
    if (!versions.ok()) return CheckRefusal(versions.status(), "list key versions");
    for (const az::KeyVersionItem& item : *versions) {
      FUZZ_CHECK(item.version.size() == 32 && IsLowerHex(item.version), item.version);
    }
  } else {
    CheckBundle(client.GetKey(key, "", deadline), "get key");
  }
}

}  // namespace
}  // namespace keybroker::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  keybroker::fuzz::TestOneInput(keybroker::fuzz::FuzzInput(data, size));
  return 0;
}
