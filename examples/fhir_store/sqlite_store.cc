#include "examples/fhir_store/sqlite_store.h"

#include <sqlite3.h>

#include <initializer_list>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace keybroker::examples {
namespace {

constexpr char kSchema[] =
    "CREATE TABLE IF NOT EXISTS accounts(name TEXT PRIMARY KEY, key_alias TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS resources(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " account TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL, version TEXT NOT NULL,"
    " blob BLOB NOT NULL, UNIQUE(account, type, id, version));"
    // rewrap-account walks an account in seq order, a batch at a time.
    "CREATE INDEX IF NOT EXISTS resources_account_seq ON resources(account, seq);";

// A prepared statement with its text parameters bound, finalized when it
// goes out of scope.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql, std::initializer_list<absl::string_view> params)
      : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
    int i = 1;
    for (absl::string_view p : params) {
      if (rc_ != SQLITE_OK) break;
      rc_ = sqlite3_bind_blob(stmt_, i++, p.data(), static_cast<int>(p.size()), SQLITE_TRANSIENT);
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }

  // Returns SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return rc_ == SQLITE_OK ? sqlite3_step(stmt_) : rc_; }
  std::string Column(int i) {
    const char* data = static_cast<const char*>(sqlite3_column_blob(stmt_, i));
    return std::string(data == nullptr ? "" : data, sqlite3_column_bytes(stmt_, i));
  }
  absl::Status Error(absl::string_view what) const {
    return absl::InternalError(absl::StrCat(what, ": ", sqlite3_errmsg(db_)));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    absl::Status error = absl::InternalError(
        absl::StrCat("opening ", path, ": ", db ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_close(db);
    return error;
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  absl::Status schema = store->Exec(kSchema);
  if (!schema.ok()) return schema;
  return store;
}

SqliteStore::~SqliteStore() { sqlite3_close(db_); }

absl::Status SqliteStore::Exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return absl::OkStatus();
  absl::Status error = absl::InternalError(absl::StrCat("sqlite: ", message ? message : "?"));
  sqlite3_free(message);
  return error;
}

absl::Status SqliteStore::AddAccount(absl::string_view account, absl::string_view key_alias) {
  Statement insert(
      db_, "INSERT INTO accounts(name, key_alias) VALUES(CAST(?1 AS TEXT), CAST(?2 AS TEXT))",
      {account, key_alias});
  int rc = insert.Step();
  if (rc == SQLITE_CONSTRAINT) {
    return absl::AlreadyExistsError(absl::StrCat("account ", account, " already exists"));
  }
  return rc == SQLITE_DONE ? absl::OkStatus() : insert.Error("adding account");
}

absl::StatusOr<std::string> SqliteStore::KeyAliasOf(absl::string_view account) {
  Statement select(db_, "SELECT key_alias FROM accounts WHERE name = CAST(?1 AS TEXT)", {account});
  int rc = select.Step();
  if (rc == SQLITE_ROW) return select.Column(0);
  if (rc == SQLITE_DONE)
    return absl::NotFoundError(absl::StrCat("account ", account, " not found"));
  return select.Error("reading account");
}

absl::Status SqliteStore::PutResource(absl::string_view account, const StoredResource& r) {
  Statement insert(
      db_,
      "INSERT INTO resources(account, type, id, version, blob) VALUES("
      "CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS TEXT), CAST(?4 AS TEXT), ?5)",
      {account, r.identity.resource_type, r.identity.id, r.identity.version_id, r.blob});
  int rc = insert.Step();
  if (rc == SQLITE_CONSTRAINT) {
    return absl::AlreadyExistsError(absl::StrCat(r.identity.resource_type, "/", r.identity.id,
                                                 " version ", r.identity.version_id,
                                                 " already exists"));
  }
  return rc == SQLITE_DONE ? absl::OkStatus() : insert.Error("storing resource");
}

absl::StatusOr<StoredResource> SqliteStore::GetResource(absl::string_view account,
                                                        absl::string_view type,
                                                        absl::string_view id,
                                                        absl::string_view version_id) {
  Statement select(
      db_,
      "SELECT version, blob FROM resources WHERE account = CAST(?1 AS TEXT)"
      " AND type = CAST(?2 AS TEXT) AND id = CAST(?3 AS TEXT)"
      " AND (CAST(?4 AS TEXT) = '' OR version = CAST(?4 AS TEXT)) ORDER BY seq DESC LIMIT 1",
      {account, type, id, version_id});
  int rc = select.Step();
  if (rc == SQLITE_DONE) {
    return absl::NotFoundError(absl::StrCat(type, "/", id, version_id.empty() ? "" : " version ",
                                            version_id, " not found"));
  }
  if (rc != SQLITE_ROW) return select.Error("reading resource");
  StoredResource out;
  out.identity = {std::string(type), std::string(id), select.Column(0)};
  out.blob = select.Column(1);
  return out;
}

absl::StatusOr<std::vector<StoredRow>> SqliteStore::RowsAfter(absl::string_view account,
                                                              int64_t after_seq, int limit) {
  const std::string after = absl::StrCat(after_seq), count = absl::StrCat(limit);
  Statement select(db_,
                   "SELECT seq, type, id, version, blob FROM resources"
                   " WHERE account = CAST(?1 AS TEXT) AND seq > CAST(?2 AS INTEGER)"
                   " ORDER BY seq LIMIT CAST(?3 AS INTEGER)",
                   {account, after, count});
  std::vector<StoredRow> rows;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    StoredRow& row = rows.emplace_back();
    if (!absl::SimpleAtoi(select.Column(0), &row.seq)) return select.Error("reading seq");
    row.resource.identity = {select.Column(1), select.Column(2), select.Column(3)};
    row.resource.blob = select.Column(4);
  }
  if (rc != SQLITE_DONE) return select.Error("reading resources");
  return rows;
}

absl::StatusOr<int> SqliteStore::ReplaceBlobs(const std::vector<BlobChange>& changes) {
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  int unchanged = 0;
  for (const BlobChange& change : changes) {
    const std::string seq = absl::StrCat(change.seq);
    Statement update(db_,
                     "UPDATE resources SET blob = ?1 WHERE seq = CAST(?2 AS INTEGER) AND blob = ?3",
                     {change.new_blob, seq, change.old_blob});
    if (update.Step() != SQLITE_DONE) {
      absl::Status error = update.Error("replacing a blob");
      Exec("ROLLBACK").IgnoreError();
      return error;
    }
    if (sqlite3_changes(db_) == 0) ++unchanged;
  }
  absl::Status committed = Exec("COMMIT");
  if (!committed.ok()) {
    Exec("ROLLBACK").IgnoreError();
    return committed;
  }
  return unchanged;
}

}  // namespace keybroker::examples
