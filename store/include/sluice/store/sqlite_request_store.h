// The RequestStore on one SQLite file, in WAL mode.
//
// Writes: one writer thread owns the only writing connection. Callers enqueue
// operations; the writer takes everything queued (up to max_batch operations) and
// applies it in one transaction: group commit. accept() waits for its transaction's
// commit, so concurrent accepts share one commit and one fsync. When one operation makes
// the transaction fail (SQLITE_TOOBIG, SQLITE_CONSTRAINT*, SQLITE_MISMATCH, SQLITE_RANGE),
// the group is retried one operation per transaction so only that one fails, and the
// store stays ready. Any other error (busy or locked past busy_timeout, disk full, I/O
// error, out of memory...) fails the whole group at once — every waiting accept throws
// StoreError, every queued write in it is lost — and ready() is false until a write
// succeeds.
//
// Durability: with Sync::kFull (the default) SQLite fsyncs the WAL at every commit, so an
// accepted request survives a process crash, an OS crash and a power loss. With
// Sync::kNormal the WAL is fsynced only at checkpoints: an accepted request survives a
// process crash (kill -9: the WAL is in the OS page cache) but the last commits may be
// lost to an OS crash or a power loss. kNormal is not "durable before acknowledged" in
// that stronger sense; it exists for measurement and for deployments that accept it.
//
// Reads go through a pool of query-only connections, opened on demand up to max_readers;
// a read beyond that waits for a connection to be returned. Each read is one read
// transaction, so a record's results and path are one snapshot. In WAL
// mode readers never block the writer nor the writer them.
//
// The file: its schema is versioned (PRAGMA user_version) and marked as Sluice's
// (PRAGMA application_id); a file of a newer version, or another program's database,
// or a file that is not a database is refused with an error naming it. One process uses
// a store file at a time: the store holds an exclusive flock on "<path>.lock" (created
// beside the file, left there) for its life; a second open — from another process or
// from the same one — throws StoreError "... is in use by another process (pid N) ...".
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "sluice/store/request_store.h"

namespace sluice::store {

struct SqliteStoreOptions {
  enum class Sync { kFull, kNormal };

  std::string path;                       // the database file; its folder must exist
  std::chrono::seconds ttl{2 * 60 * 60};  // Numaflow keeps results 2 hours
  std::chrono::milliseconds cleanup_interval{60'000};  // 0: no periodic cleanup
  Sync sync = Sync::kFull;
  // Most operations applied in one transaction. 1 gives one transaction per operation
  // (no group commit): the benchmark's baseline.
  size_t max_batch = 4096;
  // The largest string or blob the store writes, and the largest row: 0 takes SQLite's
  // own limit (SQLITE_LIMIT_LENGTH, 1,000,000,000 bytes in Debian's build); a smaller
  // value lowers the writer connection's limit to it (at least 1 MiB). A request, result,
  // step or error whose id and values together come within 64 KiB of the limit is
  // refused before it is queued (see accept() and StoreStats::too_large): never
  // truncated.
  size_t max_record_bytes = 0;
  // How long the writer waits for a write lock held by someone else (another process
  // writing the file, a tool) before its group fails with "database is locked".
  std::chrono::milliseconds busy_timeout{5000};
  // The periodic cleanup also checkpoints the WAL with TRUNCATE when the -wal file is at
  // least this large (0: never), so readers that always overlap cannot keep SQLite's
  // automatic (passive) checkpoints from ever resetting it. The checkpoint waits up to
  // busy_timeout for readers of older snapshots; when they outlast it, the next cleanup
  // tries again. Needs cleanup_interval > 0.
  uint64_t wal_checkpoint_bytes = 64ull * 1024 * 1024;
  // Most read connections open at once (at least 1): a get() or unfinished() beyond
  // them waits for one to be free instead of opening another.
  size_t max_readers = 8;
};

// The schema version this build writes and reads.
inline constexpr int kRequestStoreSchemaVersion = 2;

// Opens (creating if needed) the store. Throws StoreError naming the file when it
// cannot: a missing or unwritable folder, a file in use by another store, a file that
// is not a database, another program's database, a newer schema.
std::unique_ptr<RequestStore> open_sqlite_request_store(const SqliteStoreOptions& options);

}  // namespace sluice::store
