#include "examples/fhir_store/rewrap_account.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/error_reason.h"
#include "common/status_macros.h"
#include "keybroker/sdk/ciphertext_info.h"
#include "nlohmann/json.hpp"

namespace keybroker::examples {
namespace {

// At most this many failed records are named in the report.
constexpr size_t kMaxListedFailures = 20;

std::string Name(const sdk::fhir::ResourceIdentity& identity) {
  return absl::StrCat(identity.resource_type, "/", identity.id, "/", identity.version_id);
}

// Errors that belong to one record rather than to the run: another record
// may still succeed.
bool IsRecordError(const absl::Status& status) {
  const std::optional<ErrorReason> reason = ReasonOf(status);
  return reason == ErrorReason::kEdekInvalid || reason == ErrorReason::kKeyDisabled;
}

}  // namespace

std::string RewrapReport::ToJson(bool dry_run) const {
  nlohmann::ordered_json out{{"account", account},
                             {"key", key},
                             {"key_version", key_version},
                             {"dry_run", dry_run},
                             {"records", records},
                             {dry_run ? "to_reseal" : "resealed", resealed},
                             {"already_current", already_current},
                             {"changed_meanwhile", changed_meanwhile},
                             {"failed", failures},
                             {"versions", versions}};
  if (!failed.empty()) out["failed_records"] = failed;
  return out.dump();
}

absl::StatusOr<RewrapReport> RewrapAccount(const Store& store, absl::string_view account,
                                           const RewrapOptions& options,
                                           const RewrapProgress& progress) {
  RewrapReport report;
  report.account = std::string(account);
  ASSIGN_OR_RETURN(report.key, store.db->KeyAliasOf(account));
  ASSIGN_OR_RETURN(sdk::KeyDescription key,
                   store.provisioner->DescribeAccountKey(account, report.key));
  report.key_version = key.key_version;

  int64_t after_seq = 0;
  for (;;) {
    ASSIGN_OR_RETURN(std::vector<StoredRow> rows,
                     store.db->RowsAfter(account, after_seq, options.batch_size));
    if (rows.empty()) break;
    after_seq = rows.back().seq;
    std::vector<SqliteStore::BlobChange> changes;
    for (StoredRow& row : rows) {
      ++report.records;
      const sdk::fhir::ResourceIdentity& identity = row.resource.identity;
      absl::StatusOr<sdk::CiphertextKeyInfo> under = sdk::InspectCiphertext(row.resource.blob);
      // An account's key never changes here, so the version alone tells
      // whether a record is current.
      if (under.ok() && under->key_version == report.key_version) {
        ++report.already_current;
        ++report.versions[report.key_version];
        continue;
      }
      if (under.ok() && options.dry_run) {
        ++report.resealed;
        ++report.versions[under->key_version];
        continue;
      }
      absl::StatusOr<std::string> resealed =
          under.ok() ? store.protector->Reseal(account, identity, row.resource.blob)
                     : absl::StatusOr<std::string>(under.status());
      if (!resealed.ok()) {
        // A dry run lists every record it cannot read and goes on.
        const bool go_on = options.keep_going || options.dry_run;
        if (!go_on || !IsRecordError(resealed.status())) {
          // Keep what this batch already re-sealed before stopping.
          if (!changes.empty()) RETURN_IF_ERROR(store.db->ReplaceBlobs(changes).status());
          return Annotate(resealed.status(),
                          absl::StrCat("re-sealing ", Name(identity), " of account ", account, " (",
                                       report.records - 1, " records done before it)"));
        }
        ++report.failures;
        if (report.failed.size() < kMaxListedFailures) {
          report.failed.push_back(absl::StrCat(Name(identity), ": ", resealed.status().message()));
        }
        ++report.versions[under.ok() ? under->key_version : "unreadable"];
        continue;
      }
      // The Encryptor's DEK is of the version current when it was made;
      // a rotation during the run leaves the record for the next run.
      absl::StatusOr<sdk::CiphertextKeyInfo> now = sdk::InspectCiphertext(*resealed);
      ++report.versions[now.ok() ? now->key_version : "unreadable"];
      ++report.resealed;
      changes.push_back({.seq = row.seq,
                         .old_blob = std::move(row.resource.blob),
                         .new_blob = *std::move(resealed)});
    }
    if (!changes.empty()) {
      ASSIGN_OR_RETURN(int unchanged, store.db->ReplaceBlobs(changes));
      report.changed_meanwhile += unchanged;
      report.resealed -= unchanged;
    }
    if (progress) progress(report);
  }
  return report;
}

}  // namespace keybroker::examples
