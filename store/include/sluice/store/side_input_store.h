// The side-input store: named, slow-changing byte values (a deny-list, a config) that
// flows refresh on a schedule, kept versioned on disk so that a restarted process has
// the last value of each at once, before its first refresh.
//
// Contract:
//   - put(name, bytes, at) is durable when it returns: the value is on disk (one SQLite
//     transaction, WAL fsynced at commit) and latest() returns it after any crash.
//   - Versions: the first put of a name is version 1; each put whose bytes differ from
//     the current version's is the next version (current + 1): no gaps, no duplicates,
//     also under concurrent puts. A put of bytes identical to the current version's
//     changes nothing (no write, no new version, updated_at stays the time that version
//     was first put) and answers that version with is_new = false. Names are
//     independent of each other.
//   - latest(name) is the current (highest) version, or nullopt for a name never put.
//     list() is every name's current version without its bytes, sorted by name (byte
//     order). Both see every put that returned before them, from any thread.
//   - Old versions: the newest keep_versions versions of each name are kept; older ones
//     are deleted in the same transaction as the put that made them old. (Only the
//     current version is readable through this API; the others are kept for tools and
//     for a later history API.)
//   - Size: a value of up to max_value_bytes (default 64 MiB) is stored whole; a larger
//     one is refused before anything is written: StoreError "side-input store <file>:
//     side input '<name>' is N bytes, larger than the limit of M bytes". Nothing is ever
//     truncated. Values are bytes: '\0' and non-UTF-8 content round-trip exactly.
//   - Errors: every StoreError names the file. A failed put (disk full, I/O error, the
//     file locked by another writer past busy_timeout) stores nothing and throws; the
//     store stays usable.
//   - The file: opened or created by the constructor, which refuses (StoreError naming
//     the file) a missing or unwritable folder, a file that is not a database, another
//     program's database (including a Sluice request store), a newer schema, and a file
//     in use by another store — of another process or of this one: one store per file,
//     by an exclusive flock on "<path>.lock" held for the store's life.
//
// Thread-safety: every member may be called from any number of threads at once (one
// connection behind a mutex: side inputs change rarely, so calls are serialized; a
// latest() of a large value holds the others back while it copies it).
// Destruction closes the file and releases the lock; the owner must make sure no call is
// in progress or can still start then.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/store/request_store.h"  // Time, StoreError

namespace sluice::store {

struct SideInputValue {
  std::string name;
  uint64_t version = 0;
  std::string value;  // the bytes, exactly as put
  Time updated_at;    // the `at` of the put that created this version
};

// A name's current version, without its bytes (what list() answers).
struct SideInputInfo {
  std::string name;
  uint64_t version = 0;
  uint64_t size = 0;  // bytes of the value
  Time updated_at;
};

struct SideInputPut {
  uint64_t version = 0;  // the version current after the put
  bool is_new = false;   // false: the bytes were those of the current version already
};

struct SideInputStoreOptions {
  std::string path;  // the database file; its folder must exist
  // Versions kept per name, the current one included (at least 1).
  uint64_t keep_versions = 3;
  // The largest value put() accepts (at least 1; at most SQLite's length limit less
  // 64 KiB, i.e. a little under 1,000,000,000 bytes in Debian's build).
  uint64_t max_value_bytes = 64ull * 1024 * 1024;
  // How long a put waits for a write lock held by someone else (a tool writing the
  // file) before it fails with "database is locked".
  std::chrono::milliseconds busy_timeout{5000};
};

// The schema version this build writes and reads (PRAGMA user_version).
inline constexpr int kSideInputStoreSchemaVersion = 1;

class SideInputStore {
 public:
  // Opens (creating if needed) the store. Throws StoreError naming the file when it
  // cannot (see the contract above) or when the options are invalid.
  explicit SideInputStore(const SideInputStoreOptions& options);
  ~SideInputStore();
  SideInputStore(const SideInputStore&) = delete;
  SideInputStore& operator=(const SideInputStore&) = delete;

  // Stores `bytes` as the next version of `name` (not empty), unless they are the
  // current version's bytes. Durable when it returns. Throws StoreError.
  SideInputPut put(std::string_view name, std::string_view bytes, Time at);
  // The current version of `name`, or nullopt. Throws StoreError.
  std::optional<SideInputValue> latest(std::string_view name);
  // Every name's current version, sorted by name. Throws StoreError.
  std::vector<SideInputInfo> list();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::store
