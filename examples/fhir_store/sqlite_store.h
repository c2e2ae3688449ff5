// SqliteStore: the fhir_store example's tables in one SQLite file.
//
//   accounts(name PRIMARY KEY, key_alias)            the account -> key mapping
//   resources(account, type, id, version, blob, seq)  one row per stored version;
//                                                    blob = ResourceProtector output
//
// Not safe for concurrent use (one per command of a short-lived process);
// several processes may share the file (SQLite locks it).
#ifndef KEYBROKER_EXAMPLES_FHIR_STORE_SQLITE_STORE_H_
#define KEYBROKER_EXAMPLES_FHIR_STORE_SQLITE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keybroker/sdk/fhir/resource_identity.h"

struct sqlite3;

namespace keybroker::examples {

struct StoredResource {
  sdk::fhir::ResourceIdentity identity;
  std::string blob;
};

// A stored version with its row number: rows are read in `seq` order.
struct StoredRow {
  int64_t seq = 0;
  StoredResource resource;
};

class SqliteStore {
 public:
  // Opens (creating if needed) the database at `path` and its tables.
  // INTERNAL with SQLite's message when it cannot.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  ~SqliteStore();

  // Records a new account. ALREADY_EXISTS if it exists.
  absl::Status AddAccount(absl::string_view account, absl::string_view key_alias);
  // Returns the key alias of `account`; NOT_FOUND for an unknown account.
  absl::StatusOr<std::string> KeyAliasOf(absl::string_view account);
  // Stores one version. ALREADY_EXISTS if that version is stored already.
  absl::Status PutResource(absl::string_view account, const StoredResource& resource);
  // Returns the stored version `version_id` of type/id, or the latest one
  // stored when `version_id` is empty. NOT_FOUND when there is none.
  absl::StatusOr<StoredResource> GetResource(absl::string_view account, absl::string_view type,
                                             absl::string_view id, absl::string_view version_id);
  // Up to `limit` stored versions of `account` with seq > `after_seq`, in
  // seq order (oldest first): how a migration walks an account in batches.
  absl::StatusOr<std::vector<StoredRow>> RowsAfter(absl::string_view account, int64_t after_seq,
                                                   int limit);
  // Replaces each row's blob with its new one, in one transaction, where the
  // row still holds the old blob (a compare-and-set, so that two migrations
  // of one account cannot undo each other). Returns how many rows did not
  // hold their old blob any more and were left as they are.
  struct BlobChange {
    int64_t seq = 0;
    std::string old_blob, new_blob;
  };
  absl::StatusOr<int> ReplaceBlobs(const std::vector<BlobChange>& changes);

 private:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  absl::Status Exec(const char* sql);

  sqlite3* const db_;
};

}  // namespace keybroker::examples

#endif  // KEYBROKER_EXAMPLES_FHIR_STORE_SQLITE_STORE_H_
