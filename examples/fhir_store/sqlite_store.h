// SqliteStore: the fhir_store example's tables in one SQLite file.
//
//   accounts(name PRIMARY KEY, key_alias)            the account -> key mapping
//   resources(account, type, id, version, blob, seq)  one row per stored version;
//                                                    blob = ResourceProtector output
//
// Not safe for concurrent use (one per command of a short-lived process).
#ifndef KEYBROKER_EXAMPLES_FHIR_STORE_SQLITE_STORE_H_
#define KEYBROKER_EXAMPLES_FHIR_STORE_SQLITE_STORE_H_

#include <memory>
#include <string>

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

 private:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  absl::Status Exec(const char* sql);

  sqlite3* const db_;
};

}  // namespace keybroker::examples

#endif  // KEYBROKER_EXAMPLES_FHIR_STORE_SQLITE_STORE_H_
