#include "store_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "sluice/store/request_store.h"

namespace sluice::store {

void check_store_folder(std::string_view kind, const std::string& path) {
  namespace fs = std::filesystem;
  const std::string who = std::string(kind) + " " + path;
  fs::path folder = fs::path(path).parent_path();
  if (folder.empty()) folder = ".";
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw StoreError(who + ": folder " + folder.string() + " does not exist");
  if (::access(folder.c_str(), W_OK | X_OK) != 0)
    throw StoreError(who + ": folder " + folder.string() +
                     " is not writable (the store creates the file and its -wal and -shm "
                     "files there)");
  if (fs::is_directory(path, ec)) throw StoreError(who + ": is a folder, not a file");
}

FileLock::FileLock(std::string_view kind, const std::string& db_path) {
  const std::string who = std::string(kind) + " " + db_path;
  const std::string path = db_path + ".lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw StoreError(who + ": cannot open its lock file " + path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char buf[32] = {};
    ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK)
      throw StoreError(who + ": cannot lock " + path + ": " + std::strerror(err));
    std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    if (pid.find_first_not_of("0123456789") != std::string::npos) pid.clear();
    std::string holder = pid.empty()                        ? "another process"
                         : pid == std::to_string(::getpid()) ? "another store in this process (pid " + pid + ")"
                                                             : "another process (pid " + pid + ")";
    throw StoreError(who + ": is in use by " + holder +
                     "; one process uses a store file at a time (lock file " + path + ")");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
    // The pid is only for messages: the lock is what counts.
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

int64_t check_store_file(sqlite::Connection& conn, const StoreFileKind& kind) {
  const std::string who = std::string(kind.kind) + " " + conn.path();
  const std::string not_this = "not a Sluice " + std::string(kind.kind);
  int64_t app_id = 0, version = 0, tables = 0;
  try {
    app_id = conn.query_int("PRAGMA application_id");
    version = conn.query_int("PRAGMA user_version");
    tables = conn.query_int("SELECT count(*) FROM sqlite_master");
  } catch (const StoreError& e) {
    // SQLITE_NOTADB and friends: say plainly what the file is not.
    throw StoreError(std::string(e.what()) + " (" + not_this + ")");
  }
  if (app_id != kind.application_id) {
    if (app_id == kRequestStoreApplicationId)
      throw StoreError(who + ": is a Sluice request store, not a " + std::string(kind.kind));
    if (app_id == kSideInputStoreApplicationId)
      throw StoreError(who + ": is a Sluice side-input store, not a " + std::string(kind.kind));
    if (app_id != 0)
      throw StoreError(who + ": is another program's SQLite database (application_id " +
                       std::to_string(app_id) + "), " + not_this);
    if (tables > 0)
      throw StoreError(who + ": is a SQLite database without Sluice's schema, " + not_this);
  }
  if (version > kind.schema_version)
    throw StoreError(who + ": schema version " + std::to_string(version) +
                     " was written by a newer Sluice (this one reads version " +
                     std::to_string(kind.schema_version) + ")");
  return version;
}

void use_wal(sqlite::Connection& conn, std::string_view kind) {
  sqlite::Statement wal(conn, "PRAGMA journal_mode = WAL");
  const std::string mode = wal.step() ? wal.column_string(0) : "";
  if (mode != "wal")
    throw StoreError(std::string(kind) + " " + conn.path() + ": cannot use WAL mode (journal mode is '" +
                     mode + "')");
  // After a checkpoint, truncate a WAL that a burst (or a large value) grew to 64 MiB.
  conn.exec("PRAGMA journal_size_limit = 67108864");
}

void create_schema(sqlite::Connection& conn, const char* schema, const StoreFileKind& kind) {
  conn.exec("BEGIN IMMEDIATE");
  try {
    conn.exec(schema);
    conn.exec(("PRAGMA application_id = " + std::to_string(kind.application_id)).c_str());
    conn.exec(("PRAGMA user_version = " + std::to_string(kind.schema_version)).c_str());
    conn.exec("COMMIT");
  } catch (...) {
    sqlite3_exec(conn.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace sluice::store
