#include "sqlite_db.h"

#include <string>

namespace sluice::store::sqlite {

Connection::Connection(const std::string& path, bool read_only, std::string_view kind)
    : path_(path), kind_(kind) {
  int flags = SQLITE_OPEN_NOMUTEX | (read_only ? SQLITE_OPEN_READONLY
                                               : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw StoreError(kind_ + " " + path + ": cannot open: " + msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  // Readers may meet a lock while the writer recovers or checkpoints the WAL; wait
  // rather than fail.
  sqlite3_busy_timeout(db_, 5000);
}

Connection::~Connection() { sqlite3_close_v2(db_); }

void Connection::fail(std::string_view what, int rc) const {
  std::string msg = sqlite3_errmsg(db_);
  if (msg.empty() || msg == "not an error") msg = sqlite3_errstr(rc);
  throw Error(kind_ + " " + path_ + ": " + std::string(what) + ": " + msg, rc);
}

void Connection::exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(sql, rc);
}

int64_t Connection::query_int(const char* sql) {
  Statement s(*this, sql);
  return s.step() ? s.column_int(0) : 0;
}

Statement::Statement(Connection& conn, const char* sql) : conn_(conn) {
  int rc = sqlite3_prepare_v3(conn.handle(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) conn.fail("prepare", rc);
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::check_bind(int rc, int i) {
  if (rc != SQLITE_OK)
    conn_.fail("binding parameter " + std::to_string(i) + " of " + sqlite3_sql(stmt_), rc);
  return *this;
}

Statement& Statement::bind(int i, int64_t v) { return check_bind(sqlite3_bind_int64(stmt_, i, v), i); }
Statement& Statement::bind_text(int i, std::string_view v) {
  // A null data pointer would bind NULL; an empty text stays an empty text.
  return check_bind(sqlite3_bind_text64(stmt_, i, v.empty() ? "" : v.data(),
                                        static_cast<sqlite3_uint64>(v.size()), SQLITE_STATIC,
                                        SQLITE_UTF8),
                    i);
}
Statement& Statement::bind_blob(int i, std::string_view v) {
  // A zero-length blob from a null pointer would bind NULL; keep it a blob.
  return check_bind(sqlite3_bind_blob64(stmt_, i, v.empty() ? "" : v.data(),
                                        static_cast<sqlite3_uint64>(v.size()), SQLITE_STATIC),
                    i);
}
Statement& Statement::bind_null(int i) { return check_bind(sqlite3_bind_null(stmt_, i), i); }

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  conn_.fail(sqlite3_sql(stmt_), rc);
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::column_string(int i) const {
  const void* p = sqlite3_column_blob(stmt_, i);
  int n = sqlite3_column_bytes(stmt_, i);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

}  // namespace sluice::store::sqlite
