// fhir_store rewrap-account: moves every stored resource version of an
// account to its key's current version, so that an old version falls out of
// use and can be retired (docs/key-lifecycle.md).
//
// Each record is opened and sealed again under a DEK of the current version
// (same AAD), because the SDK's ciphertext header, EDEK included, is
// authenticated: rewrapping the EDEK alone would break the record. The new
// blob is opened again and compared before it replaces the old one, so a
// record is only ever replaced by one that opens to the same resource.
// Records whose EDEK already names the key and version new records are
// sealed under are skipped without a broker call, so the command is
// idempotent, and it is resumable: records are written back in batches, one
// transaction each, compare-and-set on the old blob, and a second run (after
// a crash, an error or a later rotation) picks up what is left.
//
// Run it once every writer seals under the new version: after the broker's
// metadata TTL and the writers' EncryptorOptions::max_dek_age have passed
// since the rotation (a writer's older DEK goes on sealing new records under
// the old version until then). Before retiring the old version, a dry run
// must show only the new one (docs/key-lifecycle.md).
#ifndef KEYBROKER_EXAMPLES_FHIR_STORE_REWRAP_ACCOUNT_H_
#define KEYBROKER_EXAMPLES_FHIR_STORE_REWRAP_ACCOUNT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "examples/fhir_store/commands.h"

namespace keybroker::examples {

struct RewrapOptions {
  // Count the records by version from their headers alone; open nothing,
  // change nothing. Only records whose header is malformed are listed as
  // failed (one under a retired version or with a tampered body is counted
  // as to be re-sealed).
  bool dry_run = false;
  // Records that cannot be opened (EDEK_INVALID: tampered or misplaced;
  // KEY_DISABLED: their version is already retired) are counted and listed
  // instead of stopping the run. Other errors (the key not accessible, the
  // broker unreachable, sealing failing) stop it either way: every record
  // would fail alike.
  bool keep_going = false;
  int batch_size = 100;
};

// Where a run stands; also its final report.
struct RewrapReport {
  std::string account, key, key_version;  // key_version: current at the start, the target
  int64_t records = 0;                    // read so far
  int64_t resealed = 0;             // moved to key_version by this run (or, dry run: would be)
  int64_t already_current = 0;      // under key_version before this run
  int64_t changed_meanwhile = 0;    // replaced by someone else while being re-sealed
  int64_t failures = 0;             // records left as they are (keep_going, dry_run)
  std::vector<std::string> failed;  // the first of them: "Type/id/version: error"
  // Every record read, by the key version it is under once this run is done.
  std::map<std::string, int64_t> versions;

  std::string ToJson(bool dry_run) const;
};

using RewrapProgress = std::function<void(const RewrapReport&)>;

// Runs the migration of `account`, calling `progress` after each batch.
// Errors: the account's (404 unknown account, 403 key not accessible), and
// the first record error that stops the run (see RewrapOptions::keep_going);
// what was written before it stays written.
absl::StatusOr<RewrapReport> RewrapAccount(const Store& store, absl::string_view account,
                                           const RewrapOptions& options,
                                           const RewrapProgress& progress);

}  // namespace keybroker::examples

#endif  // KEYBROKER_EXAMPLES_FHIR_STORE_REWRAP_ACCOUNT_H_
