// What every store file gets before SQLite opens it, shared by the request store and the
// side-input store: a check of its folder, and an exclusive lock so that one process at a
// time uses the file.
//
// `kind` starts every error message ("request store", "side-input store"), followed by
// the database file's path, so an error names the store and its file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sqlite_db.h"

namespace sluice::store {

// The Sluice store files, told apart by PRAGMA application_id, so that each store refuses
// the other's file (and any other program's database) by name.
inline constexpr int64_t kRequestStoreApplicationId = 0x534C5549;    // "SLUI"
inline constexpr int64_t kSideInputStoreApplicationId = 0x534C5349;  // "SLSI"

// What a store expects of its file.
struct StoreFileKind {
  std::string_view kind;   // "request store": starts every message
  int64_t application_id;  // one of the above
  int64_t schema_version;  // the newest PRAGMA user_version this build reads and writes
};

// Checks that the open file is this kind of store, or a new empty database, and returns
// its schema version (0: new). Throws StoreError naming the file when it is not a
// database, is another program's database or the other Sluice store, or was written
// by a newer Sluice (a higher schema version).
int64_t check_store_file(sqlite::Connection& conn, const StoreFileKind& kind);

// Puts the file in WAL mode (readers never block the writer; a commit is one append and
// one fsync) and keeps at most 64 MiB of WAL on disk after a checkpoint. Throws
// StoreError when SQLite refuses WAL.
void use_wal(sqlite::Connection& conn, std::string_view kind);

// Creates a new file's schema and marks the file (application_id, user_version), in
// one transaction.
void create_schema(sqlite::Connection& conn, const char* schema, const StoreFileKind& kind);

// Throws StoreError when the folder of `path` is missing or not writable (WAL mode
// creates <file>-wal and <file>-shm beside the database, so the folder must be
// writable, not only the file), or when `path` is a folder.
void check_store_folder(std::string_view kind, const std::string& path);

// One process per store file: an exclusive flock on "<db path>.lock" (created beside the
// file and left there), held for the object's life. flock locks belong to the open file
// description, so a second lock in the same process is refused too. The holder's pid is
// written into the file, only for the message of whoever is refused:
// "<kind> <db path>: is in use by another process (pid N); ...". The kernel releases the
// lock when the process dies, so a crash never leaves the file locked.
class FileLock {
 public:
  FileLock(std::string_view kind, const std::string& db_path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace sluice::store
