// What every store file gets before SQLite opens it, shared by the request store and the
// side-input store: a check of its folder, and an exclusive lock so that one process at a
// time uses the file.
//
// `kind` starts every error message ("request store", "side-input store"), followed by
// the database file's path, so an error names the store and its file.
#pragma once

#include <string>
#include <string_view>

namespace sluice::store {

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
