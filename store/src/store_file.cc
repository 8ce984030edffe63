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

}  // namespace sluice::store
