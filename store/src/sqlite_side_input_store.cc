// SideInputStore on one SQLite file: one connection behind a mutex, one transaction per
// put. The contract is in sluice/store/side_input_store.h.
//
// Why so simple (next to the request store's writer thread and reader pool): side inputs
// change on a schedule (minutes), are read at start-up and on refresh, and are few. A
// put costs one fsync whatever the design; there is nothing to batch.
#include "sluice/store/side_input_store.h"

#include <mutex>

#include "sqlite_db.h"
#include "store_file.h"

namespace sluice::store {

namespace {

using sqlite::Connection;
using sqlite::ResetOnExit;
using sqlite::Statement;

constexpr const char* kKind = "side-input store";
// What a row holds beyond its value (name, other columns, the record header): the
// largest value allowed is SQLite's length limit less this, so SQLite never refuses a
// value the options allowed with SQLITE_TOOBIG.
constexpr uint64_t kRowHeadroom = 64 * 1024;

int64_t to_us(Time t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
Time from_us(int64_t us) {
  return Time(std::chrono::duration_cast<Time::duration>(std::chrono::microseconds(us)));
}

// A rowid table, not WITHOUT ROWID: rows are large (values of megabytes), which
// WITHOUT ROWID tables store badly. The value is the last column, so reading the others
// (list(), the size check of put()) never touches its overflow pages.
constexpr const char* kSchema = R"sql(
CREATE TABLE side_inputs(
  name       TEXT NOT NULL,
  version    INTEGER NOT NULL,    -- 1, 2, ... per name; the highest is the current one
  size       INTEGER NOT NULL,    -- bytes of value
  updated_at INTEGER NOT NULL,    -- microseconds since the Unix epoch
  value      BLOB NOT NULL,
  UNIQUE(name, version)           -- also the index latest(), put() and the pruning use
);
)sql";

std::string who(const std::string& path) { return std::string(kKind) + " " + path; }

// Checks the options and the file's folder; returns the options (for a member
// initializer, so that this runs before the lock and the connection are made).
const SideInputStoreOptions& checked(const SideInputStoreOptions& options) {
  if (options.path.empty()) throw StoreError(std::string(kKind) + ": no file path given");
  if (options.keep_versions == 0)
    throw StoreError(who(options.path) + ": keep_versions must be at least 1");
  if (options.max_value_bytes == 0)
    throw StoreError(who(options.path) + ": max_value_bytes must be at least 1");
  check_store_folder(kKind, options.path);
  return options;
}

// Checks or creates the schema before any statement on its table is prepared.
Connection& init(Connection& conn, const SideInputStoreOptions& options) {
  const StoreFileKind kind{kKind, kSideInputStoreApplicationId, kSideInputStoreSchemaVersion};
  const int64_t version = check_store_file(conn, kind);
  // WAL: a commit is one append and one fsync; a crash mid-put leaves the last version.
  use_wal(conn, kKind);
  // FULL: in WAL mode NORMAL fsyncs only at checkpoints, so a put that returned could
  // be lost to an OS crash or a power loss. Puts are rare; the fsync is affordable.
  conn.exec("PRAGMA synchronous = FULL");
  sqlite3_busy_timeout(conn.handle(), static_cast<int>(options.busy_timeout.count()));

  const int64_t limit = sqlite3_limit(conn.handle(), SQLITE_LIMIT_LENGTH, -1);
  if (options.max_value_bytes + kRowHeadroom > static_cast<uint64_t>(limit))
    throw StoreError(who(conn.path()) + ": max_value_bytes (" +
                     std::to_string(options.max_value_bytes) +
                     ") is larger than SQLite's length limit (" + std::to_string(limit) +
                     " bytes) less " + std::to_string(kRowHeadroom) + " bytes for the row");

  if (version == 0) create_schema(conn, kSchema, kind);
  return conn;
}

}  // namespace

struct SideInputStore::Impl {
  explicit Impl(const SideInputStoreOptions& o)
      : options(checked(o)),
        lock(kKind, options.path),
        conn(options.path, false, kKind),
        begin(init(conn, options), "BEGIN IMMEDIATE"),
        commit(conn, "COMMIT"),
        current(conn,
                "SELECT rowid, version, size FROM side_inputs WHERE name = ?1 "
                "ORDER BY version DESC LIMIT 1"),
        // Compared inside SQLite (memcmp of the two blobs): no copy of the stored value.
        same_bytes(conn, "SELECT value = ?2 FROM side_inputs WHERE rowid = ?1"),
        insert(conn,
               "INSERT INTO side_inputs(name, version, size, updated_at, value) "
               "VALUES(?1, ?2, ?3, ?4, ?5)"),
        prune(conn, "DELETE FROM side_inputs WHERE name = ?1 AND version <= ?2"),
        latest(conn,
               "SELECT version, updated_at, value FROM side_inputs WHERE name = ?1 "
               "ORDER BY version DESC LIMIT 1"),
        // SQLite documents that with max() the bare columns come from the row holding
        // the maximum: the current version's size and time.
        list(conn,
             "SELECT name, max(version), size, updated_at FROM side_inputs "
             "GROUP BY name ORDER BY name") {}

  const SideInputStoreOptions options;
  FileLock lock;    // before the connection: released after it is closed
  Connection conn;  // guarded by mutex, like every statement below
  Statement begin, commit, current, same_bytes, insert, prune, latest, list;
  std::mutex mutex;
};

namespace {

// Rolls back a transaction left open by an exception (a failed statement or COMMIT).
class RollbackUnlessCommitted {
 public:
  explicit RollbackUnlessCommitted(Connection& conn) : conn_(conn) {}
  ~RollbackUnlessCommitted() {
    if (!sqlite3_get_autocommit(conn_.handle()))
      sqlite3_exec(conn_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  RollbackUnlessCommitted(const RollbackUnlessCommitted&) = delete;
  RollbackUnlessCommitted& operator=(const RollbackUnlessCommitted&) = delete;

 private:
  Connection& conn_;
};

}  // namespace

SideInputStore::SideInputStore(const SideInputStoreOptions& options)
    : impl_(std::make_unique<Impl>(options)) {}

SideInputStore::~SideInputStore() = default;

SideInputPut SideInputStore::put(std::string_view name, std::string_view bytes, Time at) {
  Impl& d = *impl_;
  if (name.empty()) throw StoreError(who(d.options.path) + ": a side input needs a name");
  // Refused before anything is written, and before taking the lock.
  if (bytes.size() > d.options.max_value_bytes)
    throw StoreError(who(d.options.path) + ": side input '" + std::string(name) + "' is " +
                     std::to_string(bytes.size()) + " bytes, larger than the limit of " +
                     std::to_string(d.options.max_value_bytes) + " bytes (max_value_bytes)");

  std::lock_guard lock(d.mutex);
  // IMMEDIATE: the write lock from the start, so the version read below is still the
  // current one when the next is inserted, even if a tool writes the file meanwhile.
  {
    ResetOnExit r(d.begin);
    d.begin.run();
  }
  RollbackUnlessCommitted rollback(d.conn);

  uint64_t current = 0;
  bool same = false;
  {
    ResetOnExit r(d.current);
    d.current.bind_text(1, name);
    if (d.current.step()) {
      const int64_t rowid = d.current.column_int(0);
      current = static_cast<uint64_t>(d.current.column_int(1));
      // Equal sizes first: a changed value usually changes size, and then the stored
      // bytes are not read at all.
      if (static_cast<uint64_t>(d.current.column_int(2)) == bytes.size()) {
        ResetOnExit r2(d.same_bytes);
        d.same_bytes.bind(1, rowid).bind_blob(2, bytes);
        same = d.same_bytes.step() && d.same_bytes.column_int(0) == 1;
      }
    }
  }
  if (same) return {current, false};  // nothing written: the rollback ends the transaction

  const uint64_t version = current + 1;
  {
    ResetOnExit r(d.insert);
    d.insert.bind_text(1, name)
        .bind(2, static_cast<int64_t>(version))
        .bind(3, static_cast<int64_t>(bytes.size()))
        .bind(4, to_us(at))
        .bind_blob(5, bytes);
    d.insert.run();
  }
  if (version > d.options.keep_versions) {
    ResetOnExit r(d.prune);
    d.prune.bind_text(1, name).bind(2, static_cast<int64_t>(version - d.options.keep_versions));
    d.prune.run();
  }
  {
    ResetOnExit r(d.commit);
    d.commit.run();
  }
  return {version, true};
}

std::optional<SideInputValue> SideInputStore::latest(std::string_view name) {
  Impl& d = *impl_;
  std::lock_guard lock(d.mutex);
  ResetOnExit r(d.latest);
  d.latest.bind_text(1, name);
  if (!d.latest.step()) return std::nullopt;
  return SideInputValue{std::string(name), static_cast<uint64_t>(d.latest.column_int(0)),
                        d.latest.column_string(2), from_us(d.latest.column_int(1))};
}

std::vector<SideInputInfo> SideInputStore::list() {
  Impl& d = *impl_;
  std::lock_guard lock(d.mutex);
  ResetOnExit r(d.list);
  std::vector<SideInputInfo> out;
  while (d.list.step())
    out.push_back(SideInputInfo{d.list.column_string(0), static_cast<uint64_t>(d.list.column_int(1)),
                                static_cast<uint64_t>(d.list.column_int(2)),
                                from_us(d.list.column_int(3))});
  return out;
}

}  // namespace sluice::store
