// sdk_consumer: the smallest program on the installed keybroker client SDK.
// Asks the broker at argv[1] for a DEK, unwraps its EDEK again, checks both
// DEKs are the same and prints "OK". Exits 1 with the broker's error (code,
// reason, message) otherwise.
//
// Usage: sdk_consumer BROKER_TARGET   (e.g. 127.0.0.1:50051, unix:/run/kb.sock)
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "keybroker/common/error_reason.h"
#include "keybroker/sdk/client.h"

namespace {

int Fail(const char* step, const absl::Status& status) {
  std::optional<keybroker::ErrorReason> reason = keybroker::ReasonOf(status);
  std::fprintf(stderr, "%s failed: %s (reason %s)\n", step, status.ToString().c_str(),
               reason ? std::string(keybroker::ErrorReasonName(*reason)).c_str() : "none");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s BROKER_TARGET\n", argv[0]);
    return 2;
  }
  keybroker::sdk::ClientOptions options;
  options.target = argv[1];
  absl::StatusOr<std::unique_ptr<keybroker::sdk::Client>> client =
      keybroker::sdk::Client::Create(options);
  if (!client.ok()) return Fail("Create", client.status());

  const keybroker::sdk::Context context = {{"tenant", "example"}};
  absl::StatusOr<keybroker::sdk::DataKey> dek = (*client)->GenerateDek("default", context);
  if (!dek.ok()) return Fail("GenerateDek", dek.status());
  absl::StatusOr<keybroker::crypto::SecretBytes> unwrapped = (*client)->Unwrap(dek->edek, context);
  if (!unwrapped.ok()) return Fail("Unwrap", unwrapped.status());
  if (!unwrapped->ConstantTimeEquals(dek->plaintext)) {
    std::fprintf(stderr, "Unwrap returned another DEK\n");
    return 1;
  }

  // A typed error: the reason survives the trip from the broker.
  absl::StatusOr<keybroker::sdk::DataKey> missing = (*client)->GenerateDek("no-such-key", context);
  if (keybroker::ReasonOf(missing.status()) != keybroker::ErrorReason::kKeyNotFound) {
    return Fail("GenerateDek of an unknown alias", missing.status());
  }
  std::printf("OK\n");
  return 0;
}
