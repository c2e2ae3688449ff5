// KeyVaultEmulator: tests/fakes/keyvault_emulator (Key Vault, Managed HSM and
// Entra ID over HTTPS) as a child process, with its control API.
//
// Start() reads the emulator's ready line (hosts, CA files); Control() posts
// JSON to its control API over HTTPS trusting the generated CA, through the
// broker's own HTTP client. The process dies with the test (stdin pipe).
#ifndef KEYBROKER_TESTS_INTEGRATION_KEYVAULT_EMULATOR_PROCESS_H_
#define KEYBROKER_TESTS_INTEGRATION_KEYVAULT_EMULATOR_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kms_adapters/azure/http_client.h"
#include "nlohmann/json.hpp"

namespace keybroker::testing {

// One vault/HSM response as the emulator logged it (GET /control/requests).
struct EmulatorResponse {
  std::string host;        // "kv1", "hsm1"...
  std::string method;      // "GET", "POST"
  std::string path;        // without the query, e.g. "/keys/k/<version>/unwrapkey"
  int status = 0;          // injected faults included; dropped connections absent
  std::string operation;   // "get_key", "unwrapkey"... ("other" when unrecognised)
  std::string request_id;  // the x-ms-request-id header it carried
};

class KeyVaultEmulator {
 public:
  // Starts the emulator with `args` (e.g. {"--vault", "kv1", "--hsm", "hsm1",
  // "--entra", "--separate-entra-ca"}), state files under `state_dir`.
  static absl::StatusOr<std::unique_ptr<KeyVaultEmulator>> Start(
      const std::vector<std::string>& args, const std::string& state_dir);
  ~KeyVaultEmulator();

  // The base URL of host `name` ("kv1", "entra"...).
  std::string Url(const std::string& name) const;
  const std::string& ca_file() const { return ca_file_; }
  const std::string& entra_ca_file() const { return entra_ca_file_; }

  // POSTs `body` to /control/{endpoint} (GET when body is null); returns the
  // JSON answer, or an error with the emulator's message.
  absl::StatusOr<nlohmann::json> Control(const std::string& endpoint,
                                         const nlohmann::json& body = nullptr);
  // The request count of `operation` on `host` (see GET /control/counts); -1
  // when the counts cannot be read.
  int Count(const std::string& host, const std::string& operation);
  // The last 1000 vault/HSM responses, oldest first (GET /control/requests;
  // POST /control/clear-requests empties the log).
  absl::StatusOr<std::vector<EmulatorResponse>> Responses();
  // Every access token the emulator's Entra and IMDS endpoints issued so far
  // (GET /control/tokens), for checking that nothing logs one.
  absl::StatusOr<std::vector<std::string>> IssuedTokens();

 private:
  KeyVaultEmulator() = default;

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  nlohmann::json ready_;
  std::string ca_file_, entra_ca_file_;
  std::unique_ptr<kms::azure::HttpClient> http_;
};

}  // namespace keybroker::testing

#endif  // KEYBROKER_TESTS_INTEGRATION_KEYVAULT_EMULATOR_PROCESS_H_
