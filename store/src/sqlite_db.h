// Thin RAII over the SQLite C API: a connection and a prepared statement, with errors
// turned into StoreError messages that name the database file.
//
// Thread-safety: none. Connections are opened with SQLITE_OPEN_NOMUTEX; each is used by
// one thread at a time (the writer thread, or one reader holding it from the pool).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/store/request_store.h"

namespace sluice::store::sqlite {

class Statement;

// A StoreError from SQLite, with its (extended) result code, so the writer can tell an
// error caused by one operation (SQLITE_TOOBIG, SQLITE_CONSTRAINT...) from one of the file
// or the system (SQLITE_BUSY, SQLITE_FULL, SQLITE_IOERR...).
class Error : public StoreError {
 public:
  Error(const std::string& what, int code) : StoreError(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

class Connection {
 public:
  // Throws StoreError naming `path` when the file cannot be opened. `kind` starts every
  // error message ("request store <path>: ...", "side-input store <path>: ...").
  Connection(const std::string& path, bool read_only, std::string_view kind = "request store");
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs SQL with no results (several statements allowed). Throws StoreError.
  void exec(const char* sql);
  // The first column of the first row as an integer (0 when no row).
  int64_t query_int(const char* sql);

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  // Throws Error "<kind> <path>: <what>: <sqlite message>".
  [[noreturn]] void fail(std::string_view what, int rc) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  std::string kind_;
};

class Statement {
 public:
  Statement(Connection& conn, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds are 1-based like SQLite's; text and blobs are copied by SQLite only when the
  // statement outlives them, so the caller keeps them alive until reset() (we bind with
  // SQLITE_STATIC: no copy per bind). Every bind checks SQLite's answer and throws Error
  // naming the parameter, the statement and the file: a value longer than the
  // connection's SQLITE_LIMIT_LENGTH is SQLITE_TOOBIG, never truncated nor bound as NULL.
  // Sizes are passed as 64-bit (sqlite3_bind_*64): nothing is cast to int.
  Statement& bind(int i, int64_t v);
  Statement& bind_text(int i, std::string_view v);
  Statement& bind_blob(int i, std::string_view v);
  Statement& bind_null(int i);

  // Advances: true with a row, false when done. Throws StoreError.
  bool step();
  // Runs to completion (for writes). Throws StoreError.
  void run();
  // Clears bindings' use and rewinds, ready for the next bind/step.
  void reset();

  int64_t column_int(int i) const { return sqlite3_column_int64(stmt_, i); }
  std::string column_string(int i) const;
  bool column_is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

 private:
  Statement& check_bind(int rc, int i);

  Connection& conn_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement when leaving a scope, so an exception leaves it reusable.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& s) : s_(s) {}
  ~ResetOnExit() { s_.reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  Statement& s_;
};

}  // namespace sluice::store::sqlite
