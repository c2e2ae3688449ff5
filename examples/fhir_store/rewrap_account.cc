#include "examples/fhir_store/rewrap_account.h"

#include <openssl/crypto.h>

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

// Errors opening one record that another record may not share: its blob is
// tampered with or misplaced (EDEK_INVALID, or INTERNAL when it opens to a
// resource of another identity), or its version is retired (KEY_DISABLED).
// Anything else (the key not accessible, the broker unreachable) would fail
// every record alike.
bool IsRecordError(const absl::Status& status) {
  const std::optional<ErrorReason> reason = ReasonOf(status);
  return reason == ErrorReason::kEdekInvalid || reason == ErrorReason::kKeyDisabled ||
         status.code() == absl::StatusCode::kInternal;
}

bool SameKey(const sdk::CiphertextKeyInfo& a, const sdk::CiphertextKeyInfo& b) {
  return a.kms == b.kms && a.key_name == b.key_name && a.key_version == b.key_version;
}

void Wipe(std::string& plaintext) { OPENSSL_cleanse(plaintext.data(), plaintext.size()); }

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
  // What records are re-sealed under: the DEK the Encryptor holds now. A
  // broker (or replica) whose metadata cache has not seen the rotation yet
  // would seal under the old version again: refuse rather than churn.
  ASSIGN_OR_RETURN(const sdk::CiphertextKeyInfo target, store.protector->SealingKey(account));
  if (target.key_version != report.key_version) {
    return absl::FailedPreconditionError(
        absl::StrCat("the broker still wraps new DEKs of key '", report.key, "' under version ",
                     target.key_version, " while its current version is ", report.key_version,
                     "; run again after the broker's metadata TTL"));
  }

  int64_t after_seq = 0;
  for (;;) {
    ASSIGN_OR_RETURN(std::vector<StoredRow> rows,
                     store.db->RowsAfter(account, after_seq, options.batch_size));
    if (rows.empty()) break;
    after_seq = rows.back().seq;
    std::vector<SqliteStore::BlobChange> changes;
    // Stops the run at `error` after writing what this batch already re-sealed.
    auto stop = [&](const sdk::fhir::ResourceIdentity& identity, const absl::Status& error) {
      absl::Status stopped =
          Annotate(error, absl::StrCat("re-sealing ", Name(identity), " of account ", account, " (",
                                       report.records - 1, " records read before it)"));
      if (changes.empty()) return stopped;
      absl::StatusOr<int> flushed = store.db->ReplaceBlobs(changes);
      if (flushed.ok()) return stopped;
      return Annotate(stopped, absl::StrCat("and writing the batch before it failed: ",
                                            flushed.status().ToString()));
    };
    for (StoredRow& row : rows) {
      ++report.records;
      const sdk::fhir::ResourceIdentity& identity = row.resource.identity;
      absl::StatusOr<sdk::CiphertextKeyInfo> under = sdk::InspectCiphertext(row.resource.blob);
      if (under.ok() && SameKey(*under, target)) {
        ++report.already_current;
        ++report.versions[target.key_version];
        continue;
      }
      if (under.ok() && options.dry_run) {  // a dry run opens nothing
        ++report.resealed;
        ++report.versions[under->key_version];
        continue;
      }
      // Open the record (a failure here may be this record's alone) ...
      absl::StatusOr<std::string> json =
          under.ok() ? store.protector->Unprotect(account, identity.resource_type, identity.id,
                                                  identity.version_id, row.resource.blob)
                     : absl::StatusOr<std::string>(under.status());
      if (!json.ok()) {
        if (!(options.keep_going || options.dry_run) || !IsRecordError(json.status())) {
          return stop(identity, json.status());
        }
        ++report.failures;
        if (report.failed.size() < kMaxListedFailures) {
          report.failed.push_back(absl::StrCat(Name(identity), ": ", json.status().message()));
        }
        ++report.versions[under.ok() ? under->key_version : "unreadable"];
        continue;
      }
      // ... then seal it again (a failure here would be every record's) and
      // check that the new blob opens to the same resource before it replaces
      // the old one.
      absl::StatusOr<sdk::fhir::ProtectedResource> sealed =
          store.protector->Protect(account, *json);
      absl::StatusOr<std::string> reopened =
          sealed.ok() ? store.protector->Unprotect(account, identity.resource_type, identity.id,
                                                   identity.version_id, sealed->blob)
                      : absl::StatusOr<std::string>(sealed.status());
      const bool same = reopened.ok() && *reopened == *json;
      Wipe(*json);
      if (reopened.ok()) Wipe(*reopened);
      if (!reopened.ok()) return stop(identity, reopened.status());
      if (!same)
        return stop(identity, absl::InternalError("the re-sealed record opens differently"));
      absl::StatusOr<sdk::CiphertextKeyInfo> now = sdk::InspectCiphertext(sealed->blob);
      if (!now.ok() || !SameKey(*now, target)) {
        return stop(identity, absl::FailedPreconditionError(
                                  "the account's key changed version during the run; run again"));
      }
      ++report.versions[target.key_version];
      ++report.resealed;
      changes.push_back({.seq = row.seq,
                         .old_blob = std::move(row.resource.blob),
                         .new_blob = std::move(sealed->blob)});
    }
    if (!changes.empty()) {
      ASSIGN_OR_RETURN(int unchanged, store.db->ReplaceBlobs(changes));
      // Someone else replaced those rows meanwhile: not ours to count.
      report.changed_meanwhile += unchanged;
      report.resealed -= unchanged;
      report.versions[target.key_version] -= unchanged;
      if (report.versions[target.key_version] == 0) report.versions.erase(target.key_version);
    }
    if (progress) progress(report);
  }
  return report;
}

}  // namespace keybroker::examples
