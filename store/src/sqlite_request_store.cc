// SqliteRequestStore: the writer thread, its group commit, and the reader pool.
// The contract is in sluice/store/request_store.h and sluice/store/sqlite_request_store.h.
#include "sluice/store/sqlite_request_store.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "record_codec.h"
#include "sqlite_db.h"
#include "store_file.h"
#include "test_hooks.h"

namespace sluice::store {

std::function<void()> test_hooks::before_apply;

namespace {

using sqlite::Connection;
using sqlite::ResetOnExit;
using sqlite::Statement;

// What a record may hold beyond its values (other columns, the row's header): a request
// whose id and values come closer than this to SQLITE_LIMIT_LENGTH is refused up front,
// so SQLite never sees a row it would refuse with SQLITE_TOOBIG.
constexpr size_t kRowHeadroom = 64 * 1024;
constexpr size_t kMinRecordLimit = 1024 * 1024;

enum StoredStatus : int64_t { kStoredInProgress = 0, kStoredCompleted = 1, kStoredFailed = 2 };

int64_t to_us(Time t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
Time from_us(int64_t us) {
  return Time(std::chrono::duration_cast<Time::duration>(std::chrono::microseconds(us)));
}

constexpr const char* kSchema = R"sql(
CREATE TABLE requests(
  id          TEXT PRIMARY KEY,   -- unique: a second accept of an id is a duplicate
  status      INTEGER NOT NULL,   -- 0 in progress, 1 completed, 2 failed
  body        BLOB NOT NULL,
  headers     BLOB NOT NULL,      -- record_codec.h
  error       TEXT,
  accepted_at INTEGER NOT NULL,   -- microseconds since the Unix epoch
  finished_at INTEGER,
  -- Written by finish() with the outcome, in one statement (record_codec.h); NULL
  -- otherwise. They come after the rows of the results and steps tables.
  results     BLOB,
  path        BLOB
);
-- Each request is in exactly one of these two partial indexes: unfinished() scans the
-- first, TTL cleanup the second, and neither grows with the other's rows.
CREATE INDEX requests_open ON requests(status) WHERE status = 0;
CREATE INDEX requests_finished ON requests(finished_at) WHERE status <> 0;
-- Results and steps added one by one (add_result, add_step), in insertion order: rowid order, which the indexes keep per request.
CREATE TABLE results(request TEXT NOT NULL, stage TEXT NOT NULL, value BLOB NOT NULL);
CREATE INDEX results_request ON results(request);
CREATE TABLE steps(request TEXT NOT NULL, stage TEXT NOT NULL,
                   start_at INTEGER NOT NULL, end_at INTEGER NOT NULL);
CREATE INDEX steps_request ON steps(request);
)sql";

// Where a caller blocked in accept() or expire_now() gets its answer. Lives on the
// caller's stack; written by the writer under the store mutex after the commit.
struct Waiter {
  // Its own condition variable: the writer wakes exactly the callers whose transaction
  // ended, not every waiting caller (with 64 callers, half of them wait for the next
  // commit, and waking them all each commit doubled the context switches).
  std::condition_variable cv;
  bool done = false;
  bool failed = false;
  bool accepted = false;
  size_t count = 0;
  std::string error;
};

struct Op {
  enum class Kind : uint8_t { kAccept, kResult, kStep, kComplete, kFinish, kRestart, kExpire };
  explicit Op(Kind k) : kind(k) {}
  Kind kind;
  uint64_t seq = 0;
  std::string id;
  std::string a;  // accept: encoded headers; result, step: stage; complete, finish: error
  std::string b;  // result: value; finish: encoded results
  std::string c;  // finish: encoded path
  int64_t t1 = 0, t2 = 0;  // accept: accepted_at; step: start, end; complete, finish: at,
                           // status; expire: cutoff
  // finish: results and path too large for the request's row: stored as table rows.
  bool spill = false;
  const NewRequest* request = nullptr;  // accept: the caller's (alive while it waits) or owned
  std::unique_ptr<NewRequest> owned_request;  // accept_async: the request, kept until applied
  RequestStore::AcceptCallback done;          // accept_async: told after the commit
  Waiter* waiter = nullptr;
  // Filled in by apply(), delivered to the waiter only after the commit.
  bool failed = false;  // set when the writer failed without an error message for it
  bool accepted = false;
  size_t count = 0;
};

// The outcome parameters the finish statements share: ?1 id, ?2 status, ?3 error (NULL
// unless failed), ?4 finished_at.
void bind_outcome(Statement& st, const Op& op) {
  st.bind_text(1, op.id).bind(2, op.t2);
  if (op.t2 == kStoredFailed)
    st.bind_text(3, op.a);
  else
    st.bind_null(3);
  st.bind(4, op.t1);
}

// The writer's connection and its statements.
struct WriterDb {
  Connection conn;
  Statement begin, commit, rollback;
  Statement insert_request, insert_result, insert_step, finish, finish_with_record, clear_results,
      clear_steps;
  Statement expire_results, expire_steps, expire_requests;

  WriterDb(const std::string& path)
      : conn(path, false),
        begin(init(conn), "BEGIN IMMEDIATE"),
        commit(conn, "COMMIT"),
        rollback(conn, "ROLLBACK"),
        insert_request(conn,
                       "INSERT INTO requests(id, status, body, headers, accepted_at) "
                       "VALUES(?1, 0, ?2, ?3, ?4) ON CONFLICT(id) DO NOTHING"),
        insert_result(conn,
                      "INSERT INTO results(request, stage, value) SELECT ?1, ?2, ?3 "
                      "WHERE EXISTS(SELECT 1 FROM requests WHERE id = ?1 AND status = 0)"),
        insert_step(conn,
                    "INSERT INTO steps(request, stage, start_at, end_at) SELECT ?1, ?2, ?3, ?4 "
                    "WHERE EXISTS(SELECT 1 FROM requests WHERE id = ?1 AND status = 0)"),
        finish(conn,
               "UPDATE requests SET status = ?2, error = ?3, finished_at = ?4 "
               "WHERE id = ?1 AND status = 0"),
        finish_with_record(conn,
                           "UPDATE requests SET status = ?2, error = ?3, finished_at = ?4, "
                           "results = ?5, path = ?6 WHERE id = ?1 AND status = 0"),
        clear_results(conn,
                      "DELETE FROM results WHERE request = ?1 AND "
                      "EXISTS(SELECT 1 FROM requests WHERE id = ?1 AND status = 0)"),
        clear_steps(conn,
                    "DELETE FROM steps WHERE request = ?1 AND "
                    "EXISTS(SELECT 1 FROM requests WHERE id = ?1 AND status = 0)"),
        expire_results(conn,
                       "DELETE FROM results WHERE request IN (SELECT id FROM requests "
                       "WHERE status <> 0 AND finished_at <= ?1)"),
        expire_steps(conn,
                     "DELETE FROM steps WHERE request IN (SELECT id FROM requests "
                     "WHERE status <> 0 AND finished_at <= ?1)"),
        expire_requests(conn, "DELETE FROM requests WHERE status <> 0 AND finished_at <= ?1") {}

  // Checks or creates the schema before any statement on its tables is prepared.
  static Connection& init(Connection& conn);
};

Connection& WriterDb::init(Connection& conn) {
  const StoreFileKind kind{"request store", kRequestStoreApplicationId, kRequestStoreSchemaVersion};
  const int64_t version = check_store_file(conn, kind);
  // WAL: readers do not block the writer, and a commit is one append (+ one fsync).
  use_wal(conn, kind.kind);
  if (version == 1) {
    // Version 1 had no results/path columns: finish() wrote table rows. Old rows keep
    // NULL there and are read from the tables as before.
    conn.exec("BEGIN IMMEDIATE");
    try {
      conn.exec("ALTER TABLE requests ADD COLUMN results BLOB");
      conn.exec("ALTER TABLE requests ADD COLUMN path BLOB");
      conn.exec(("PRAGMA user_version = " + std::to_string(kRequestStoreSchemaVersion)).c_str());
      conn.exec("COMMIT");
    } catch (...) {
      sqlite3_exec(conn.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
  if (version == 0) create_schema(conn, kSchema, kind);
  return conn;
}

// A reader's connection and its statements; leased from the pool by one thread at a time.
struct ReaderDb {
  Connection conn;
  Statement begin, commit, request, results, steps, open;

  explicit ReaderDb(const std::string& path)
      : conn(path, false),
        begin(conn, "BEGIN"),
        commit(conn, "COMMIT"),
        request(conn,
                "SELECT status, body, headers, error, accepted_at, finished_at, results, path "
                "FROM requests WHERE id = ?1"),
        results(conn, "SELECT stage, value FROM results WHERE request = ?1 ORDER BY rowid"),
        steps(conn,
              "SELECT stage, start_at, end_at FROM steps WHERE request = ?1 ORDER BY rowid"),
        open(conn,
             "SELECT id, body, headers, accepted_at FROM requests WHERE status = 0 "
             "ORDER BY rowid") {
    // Opened read-write (a read-only connection cannot create the WAL index when it is
    // missing), made query-only so a bug here cannot write.
    conn.exec("PRAGMA query_only = 1");
  }
};

// A read transaction that ends (COMMIT releases the snapshot) however the read ends.
class ReadTransaction {
 public:
  explicit ReadTransaction(ReaderDb& db) : db_(db) {
    db_.begin.run();
    db_.begin.reset();
  }
  ~ReadTransaction() {
    db_.request.reset();
    db_.results.reset();
    db_.steps.reset();
    db_.open.reset();
    sqlite3_exec(db_.conn.handle(), "COMMIT", nullptr, nullptr, nullptr);
  }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

 private:
  ReaderDb& db_;
};

class SqliteRequestStore final : public RequestStore {
 public:
  explicit SqliteRequestStore(const SqliteStoreOptions& options);
  ~SqliteRequestStore() override;

  AcceptResult accept(const NewRequest& request) override;
  void accept_async(NewRequest request, AcceptCallback done) override;
  void add_result(std::string_view id, std::string_view stage, std::string_view value) override;
  void add_step(std::string_view id, std::string_view stage, Time start, Time end) override;
  void complete(std::string_view id, Outcome outcome, std::string_view error, Time at) override;
  void finish(std::string_view id, Outcome outcome, std::string_view error, Time at,
              const std::vector<Result>& results, const std::vector<Step>& path) override;
  void restart(std::string_view id) override;
  std::optional<RequestRecord> get(std::string_view id) override;
  std::vector<NewRequest> unfinished() override;
  size_t expire_now(Time now) override;
  void flush() override;
  void close() override;
  bool ready() const override { return healthy_.load(std::memory_order_relaxed); }
  StoreStats stats() const override;

 private:
  // Counts a call in progress for close(); throws StoreError "closed" once close() began.
  class InCall {
   public:
    explicit InCall(SqliteRequestStore& store) : store_(store) {
      store_.calls_.fetch_add(1);
      if (store_.closing_.load()) {
        store_.calls_.fetch_sub(1);
        throw StoreError("request store " + store_.options_.path + ": closed");
      }
    }
    ~InCall() { store_.calls_.fetch_sub(1); }
    InCall(const InCall&) = delete;
    InCall& operator=(const InCall&) = delete;

   private:
    SqliteRequestStore& store_;
  };

  // Queues `op`; returns its sequence number.
  uint64_t enqueue(Op op);
  // Queues `op` and blocks until its transaction has committed or failed.
  void enqueue_and_wait(Op op, Waiter* waiter);
  // An accept operation for `request` (size checks done; throws StoreError).
  Op accept_op(const NewRequest& request);
  // Blocks until the writer has handled every operation queued so far.
  void wait_for_writer();

  void writer_loop();
  // Applies a batch in one transaction. When one operation makes it fail (TOOBIG,
  // CONSTRAINT...), each operation alone, so that one fails and not the others; when the
  // file or the system fails (BUSY, FULL, IOERR...), the whole batch fails at once.
  // Results are in the ops, errors in *errors.
  void commit_batch(std::vector<Op>& batch, std::vector<std::string>* errors);
  void apply(Op& op);
  // finish's results and path as rows of the results and steps tables, then its outcome.
  void apply_finish_as_rows(const Op& op);
  // The outcome part of complete() and finish(): status and error (op.a when failed).
  Op outcome_op(Op::Kind kind, std::string_view id, Outcome outcome, std::string_view error,
                Time at);
  void rollback();
  // When the WAL file is over options_.wal_checkpoint_bytes: a TRUNCATE checkpoint.
  void checkpoint_if_large();

  // Refuses a queued write of `bytes` (id and values together) when over the limit:
  // counts it, records why, and returns true (the caller drops it).
  bool drop_if_too_large(size_t bytes, const char* what, std::string_view id);

  // Leases a reader connection: an idle one, else a new one while fewer than
  // max_readers are open, else waits for one to be returned.
  std::unique_ptr<ReaderDb> take_reader();
  void return_reader(std::unique_ptr<ReaderDb> r);
  // Returns the leased reader however the read ends (a read that throws must not keep
  // it: with a capped pool a lost lease would be lost capacity).
  class ReaderLease {
   public:
    explicit ReaderLease(SqliteRequestStore& store) : store_(store), db_(store.take_reader()) {}
    ~ReaderLease() { store_.return_reader(std::move(db_)); }
    ReaderLease(const ReaderLease&) = delete;
    ReaderLease& operator=(const ReaderLease&) = delete;
    ReaderDb* operator->() const { return db_.get(); }
    ReaderDb& operator*() const { return *db_; }

   private:
    SqliteRequestStore& store_;
    std::unique_ptr<ReaderDb> db_;
  };

  const SqliteStoreOptions options_;
  std::unique_ptr<FileLock> lock_;       // before the connections: released after them
  std::unique_ptr<WriterDb> writer_db_;  // used by the writer thread only (after open)
  size_t max_bytes_ = 0;                 // the largest id + values accepted (limit - headroom)

  std::mutex mutex_;
  std::condition_variable work_cv_;  // the writer waits for work
  std::condition_variable done_cv_;  // readers and flush() wait for the writer here
  int barrier_waiters_ = 0;          // guarded by mutex_: how many wait on done_cv_
  std::deque<Op> queue_;             // guarded by mutex_
  uint64_t enqueued_seq_ = 0;        // guarded by mutex_: last sequence number given out
  uint64_t handled_seq_ = 0;         // guarded by mutex_: last one committed or failed
  bool writer_idle_ = false;         // guarded by mutex_
  bool stop_ = false;                // guarded by mutex_

  mutable std::mutex readers_mutex_;
  std::condition_variable readers_cv_;                  // a reader was returned
  std::vector<std::unique_ptr<ReaderDb>> idle_readers_;  // guarded by readers_mutex_
  size_t open_readers_ = 0;                              // guarded by readers_mutex_

  std::atomic<bool> healthy_{true};
  // close(): set first, so new calls throw; close() then waits for calls_ to reach 0.
  // Both sequentially consistent: a call either sees closing_ or is counted in calls_.
  std::atomic<bool> closing_{false};
  std::atomic<int64_t> calls_{0};
  std::mutex close_mutex_;  // one close() at a time; the second waits and returns
  bool closed_ = false;     // guarded by close_mutex_
  std::atomic<uint64_t> accepted_{0}, duplicates_{0}, transactions_{0}, writes_{0},
      lost_writes_{0}, expired_{0}, too_large_{0}, checkpoints_{0};
  mutable std::mutex dropped_mutex_;
  std::string last_dropped_;  // guarded by dropped_mutex_

  std::thread writer_;  // last: started once everything above exists
};

SqliteRequestStore::SqliteRequestStore(const SqliteStoreOptions& options) : options_(options) {
  if (options_.path.empty()) throw StoreError("request store: no file path given");
  if (options_.max_batch == 0) throw StoreError("request store " + options_.path + ": max_batch must be at least 1");
  check_store_folder("request store", options_.path);
  lock_ = std::make_unique<FileLock>("request store", options_.path);
  writer_db_ = std::make_unique<WriterDb>(options_.path);
  // The size limit: SQLite's SQLITE_LIMIT_LENGTH (or a lower one from the options) less
  // headroom for the row around the values. Checked before queueing.
  {
    sqlite3* h = writer_db_->conn.handle();
    int64_t limit = sqlite3_limit(h, SQLITE_LIMIT_LENGTH, -1);
    if (options_.max_record_bytes != 0) {
      if (options_.max_record_bytes < kMinRecordLimit)
        throw StoreError("request store " + options_.path + ": max_record_bytes must be at least " +
                         std::to_string(kMinRecordLimit));
      if (static_cast<int64_t>(options_.max_record_bytes) < limit) {
        sqlite3_limit(h, SQLITE_LIMIT_LENGTH, static_cast<int>(options_.max_record_bytes));
        limit = sqlite3_limit(h, SQLITE_LIMIT_LENGTH, -1);
      }
    }
    if (limit < static_cast<int64_t>(2 * kRowHeadroom))
      throw StoreError("request store " + options_.path + ": SQLite's length limit (" +
                       std::to_string(limit) + " bytes) is too small for a request store");
    max_bytes_ = static_cast<size_t>(limit) - kRowHeadroom;
  }
  // FULL: in WAL mode, NORMAL does not fsync at commit (only at checkpoints), so a
  // committed accept could vanish in an OS crash or power loss. FULL fsyncs the WAL at
  // every commit; group commit shares that fsync among everything in the transaction.
  writer_db_->conn.exec(options_.sync == SqliteStoreOptions::Sync::kFull ? "PRAGMA synchronous = FULL"
                                                                        : "PRAGMA synchronous = NORMAL");
  sqlite3_busy_timeout(writer_db_->conn.handle(), static_cast<int>(options_.busy_timeout.count()));
  // Open one reader now, so a file that readers cannot use fails here and not at the
  // first fetch.
  if (options_.max_readers == 0)
    throw StoreError("request store " + options_.path + ": max_readers must be at least 1");
  idle_readers_.push_back(std::make_unique<ReaderDb>(options_.path));
  open_readers_ = 1;
  writer_ = std::thread([this] { writer_loop(); });
}

SqliteRequestStore::~SqliteRequestStore() { close(); }

void SqliteRequestStore::close() {
  std::lock_guard close_lock(close_mutex_);
  if (closed_) return;
  closing_.store(true);
  // Calls already inside finish normally (the writer still runs and commits what they
  // queued); new ones throw "closed". They are short: an accept waits for one commit.
  while (calls_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_one();
  writer_.join();  // the writer commits everything queued before it exits
  healthy_.store(false);
  {
    std::lock_guard lock(readers_mutex_);
    idle_readers_.clear();
    open_readers_ = 0;
  }
  writer_db_.reset();  // the last connection to close checkpoints and removes the WAL
  lock_.reset();       // another store may open the file now
  closed_ = true;
}

uint64_t SqliteRequestStore::enqueue(Op op) {
  bool wake;
  uint64_t seq;
  {
    std::lock_guard lock(mutex_);
    seq = op.seq = ++enqueued_seq_;
    queue_.push_back(std::move(op));
    wake = writer_idle_;
    writer_idle_ = false;
  }
  // Only an idle writer needs waking: a busy one takes the queue when its commit ends.
  if (wake) work_cv_.notify_one();
  return seq;
}

void SqliteRequestStore::enqueue_and_wait(Op op, Waiter* waiter) {
  op.waiter = waiter;
  enqueue(std::move(op));
  std::unique_lock lock(mutex_);
  waiter->cv.wait(lock, [&] { return waiter->done; });
}

void SqliteRequestStore::wait_for_writer() {
  std::unique_lock lock(mutex_);
  uint64_t target = enqueued_seq_;
  if (handled_seq_ >= target) return;
  ++barrier_waiters_;
  done_cv_.wait(lock, [&] { return handled_seq_ >= target; });
  --barrier_waiters_;
}

bool SqliteRequestStore::drop_if_too_large(size_t bytes, const char* what, std::string_view id) {
  if (bytes <= max_bytes_) return false;
  too_large_.fetch_add(1);
  std::lock_guard lock(dropped_mutex_);
  last_dropped_ = "request store " + options_.path + ": " + what + " for request " +
                  std::string(id.substr(0, 200)) + " dropped: " + std::to_string(bytes) +
                  " bytes is larger than the store's limit of " + std::to_string(max_bytes_) +
                  " bytes";
  return true;
}

AcceptResult SqliteRequestStore::accept(const NewRequest& request) {
  InCall call(*this);
  Op op = accept_op(request);
  op.request = &request;
  Waiter w;
  enqueue_and_wait(std::move(op), &w);
  if (w.failed) throw StoreError(w.error.empty() ? "request store " + options_.path + ": write failed" : w.error);
  return w.accepted ? AcceptResult::kAccepted : AcceptResult::kDuplicate;
}

void SqliteRequestStore::accept_async(NewRequest request, AcceptCallback done) {
  InCall call(*this);
  Op op = accept_op(request);
  op.owned_request = std::make_unique<NewRequest>(std::move(request));
  op.request = op.owned_request.get();
  op.done = std::move(done);
  enqueue(std::move(op));
}

Op SqliteRequestStore::accept_op(const NewRequest& request) {
  Op op(Op::Kind::kAccept);
  op.a = encode_headers(request.headers);  // in the caller's thread: keeps the writer lean
  if (request.body.size() > max_bytes_)
    throw StoreError("request store " + options_.path + ": request body of " +
                     std::to_string(request.body.size()) +
                     " bytes is larger than the store's limit of " + std::to_string(max_bytes_) +
                     " bytes");
  if (size_t total = request.id.size() + request.body.size() + op.a.size(); total > max_bytes_)
    throw StoreError("request store " + options_.path + ": request of " + std::to_string(total) +
                     " bytes (id, body and headers) is larger than the store's limit of " +
                     std::to_string(max_bytes_) + " bytes");
  op.t1 = to_us(request.accepted_at);
  return op;
}

void SqliteRequestStore::add_result(std::string_view id, std::string_view stage,
                                    std::string_view value) {
  InCall call(*this);
  if (drop_if_too_large(id.size() + stage.size() + value.size(), "result", id)) return;
  Op op(Op::Kind::kResult);
  op.id = id;
  op.a = stage;
  op.b = value;
  enqueue(std::move(op));
}

void SqliteRequestStore::add_step(std::string_view id, std::string_view stage, Time start, Time end) {
  InCall call(*this);
  if (drop_if_too_large(id.size() + stage.size(), "step", id)) return;
  Op op(Op::Kind::kStep);
  op.id = id;
  op.a = stage;
  op.t1 = to_us(start);
  op.t2 = to_us(end);
  enqueue(std::move(op));
}

Op SqliteRequestStore::outcome_op(Op::Kind kind, std::string_view id, Outcome outcome,
                                  std::string_view error, Time at) {
  Op op(kind);
  op.id = id;
  if (outcome == Outcome::kFailed) {
    // An error text too large to store is replaced (not truncated): the outcome itself
    // is kept, so the request does not stay unfinished.
    if (drop_if_too_large(id.size() + error.size(), "error text", id))
      op.a = "(error text of " + std::to_string(error.size()) +
             " bytes not stored: larger than the store's limit of " + std::to_string(max_bytes_) +
             " bytes)";
    else
      op.a = error;
  }
  op.t1 = to_us(at);
  op.t2 = outcome == Outcome::kCompleted ? kStoredCompleted : kStoredFailed;
  return op;
}

void SqliteRequestStore::complete(std::string_view id, Outcome outcome, std::string_view error,
                                  Time at) {
  InCall call(*this);
  if (drop_if_too_large(id.size(), "outcome", id)) return;
  enqueue(outcome_op(Op::Kind::kComplete, id, outcome, error, at));
}

void SqliteRequestStore::finish(std::string_view id, Outcome outcome, std::string_view error,
                                Time at, const std::vector<Result>& results,
                                const std::vector<Step>& path) {
  InCall call(*this);
  if (drop_if_too_large(id.size(), "outcome", id)) return;
  Op op = outcome_op(Op::Kind::kFinish, id, outcome, error, at);
  // A result or step too large on its own is dropped as add_result() and add_step() drop
  // it; the copies are made only then (the common case encodes the caller's vectors).
  auto too_large = [&](const Result& r) {
    return drop_if_too_large(id.size() + r.stage.size() + r.value.size(), "result", id);
  };
  auto step_too_large = [&](const Step& st) {
    return drop_if_too_large(id.size() + st.stage.size(), "step", id);
  };
  bool drop_results = false, drop_steps = false;
  for (const Result& r : results) drop_results = too_large(r) || drop_results;
  for (const Step& st : path) drop_steps = step_too_large(st) || drop_steps;
  if (drop_results) {
    std::vector<Result> kept;
    for (const Result& r : results)
      if (id.size() + r.stage.size() + r.value.size() <= max_bytes_) kept.push_back(r);
    op.b = encode_results(kept);
  } else {
    op.b = encode_results(results);
  }
  if (drop_steps) {
    std::vector<Step> kept;
    for (const Step& st : path)
      if (id.size() + st.stage.size() <= max_bytes_) kept.push_back(st);
    op.c = encode_steps(kept);
  } else {
    op.c = encode_steps(path);
  }
  // Together too large for one row: the writer stores them as table rows instead, each
  // within the limit, in the same transaction as the outcome.
  op.spill = id.size() + op.a.size() + op.b.size() + op.c.size() > max_bytes_;
  enqueue(std::move(op));
}

void SqliteRequestStore::restart(std::string_view id) {
  InCall call(*this);
  if (drop_if_too_large(id.size(), "restart", id)) return;
  Op op(Op::Kind::kRestart);
  op.id = id;
  enqueue(std::move(op));
}

size_t SqliteRequestStore::expire_now(Time now) {
  InCall call(*this);
  Op op(Op::Kind::kExpire);
  op.t1 = to_us(now - options_.ttl);
  Waiter w;
  enqueue_and_wait(std::move(op), &w);
  if (w.failed) throw StoreError(w.error.empty() ? "request store " + options_.path + ": write failed" : w.error);
  return w.count;
}

void SqliteRequestStore::flush() {
  InCall call(*this);
  wait_for_writer();
}

StoreStats SqliteRequestStore::stats() const {
  StoreStats s;
  s.accepted = accepted_.load();
  s.duplicates = duplicates_.load();
  s.transactions = transactions_.load();
  s.writes = writes_.load();
  s.lost_writes = lost_writes_.load();
  s.expired = expired_.load();
  s.too_large = too_large_.load();
  s.checkpoints = checkpoints_.load();
  {
    std::lock_guard lock(readers_mutex_);
    s.readers = open_readers_;
  }
  std::lock_guard lock(dropped_mutex_);
  s.last_dropped = last_dropped_;
  return s;
}

void SqliteRequestStore::writer_loop() {
  using Clock = std::chrono::steady_clock;
  const bool periodic = options_.cleanup_interval.count() > 0;
  auto next_cleanup = Clock::now() + options_.cleanup_interval;
  std::vector<Op> batch;
  std::vector<std::string> errors;
  bool checkpoint_due = false;
  std::unique_lock lock(mutex_);
  for (;;) {
    if (queue_.empty()) {
      if (stop_) break;
      writer_idle_ = true;
      if (periodic)
        work_cv_.wait_until(lock, next_cleanup, [&] { return stop_ || !queue_.empty(); });
      else
        work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      writer_idle_ = false;
    }
    if (periodic && Clock::now() >= next_cleanup) {
      // The periodic cleanup is a queued expire like expire_now(), so it is ordered with
      // the writes around it.
      Op op(Op::Kind::kExpire);
      op.t1 = to_us(std::chrono::system_clock::now() - options_.ttl);
      op.seq = ++enqueued_seq_;
      queue_.push_back(std::move(op));
      next_cleanup = Clock::now() + options_.cleanup_interval;
      checkpoint_due = true;  // after the expire's commit
    }
    if (queue_.empty()) continue;

    // Group commit: everything queued now (up to max_batch) goes in one transaction.
    size_t n = std::min(queue_.size(), options_.max_batch);
    batch.clear();
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    try {
      errors.assign(batch.size(), std::string());
      commit_batch(batch, &errors);
    } catch (...) {
      // commit_batch catches what its transactions throw; this is what is left (an
      // allocation failing around them). The group fails; the writer goes on.
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i].accepted = false;
        batch[i].failed = true;
        try {
          if (errors.size() <= i) errors.resize(batch.size());
          errors[i] = "request store " + options_.path + ": writer failed (out of memory?)";
        } catch (...) {
        }
      }
      lost_writes_.fetch_add(batch.size());
      healthy_.store(false, std::memory_order_relaxed);
    }
    lock.lock();
    for (size_t i = 0; i < batch.size(); ++i) {
      Op& op = batch[i];
      if (!op.waiter) continue;
      op.waiter->accepted = op.accepted;
      op.waiter->count = op.count;
      if (i < errors.size()) op.waiter->error = std::move(errors[i]);
      op.waiter->failed = op.failed || !op.waiter->error.empty();
      op.waiter->done = true;
      // Under the lock: once the lock is released the waiter may return and its Waiter
      // (on its stack) be gone.
      op.waiter->cv.notify_one();
    }
    handled_seq_ = batch.back().seq;
    if (barrier_waiters_ > 0) done_cv_.notify_all();
    // accept_async callers hear after the commit too, outside the lock (a callback may
    // queue writes of its own).
    bool any_callback = false;
    for (const Op& op : batch) any_callback = any_callback || static_cast<bool>(op.done);
    if (any_callback) {
      lock.unlock();
      for (size_t i = 0; i < batch.size(); ++i) {
        Op& op = batch[i];
        if (!op.done) continue;
        const bool failed = op.failed || (i < errors.size() && !errors[i].empty());
        if (failed) {
          const std::string error = i < errors.size() && !errors[i].empty()
                                        ? errors[i]
                                        : "request store " + options_.path + ": write failed";
          op.done(AcceptResult::kDuplicate, &error);
        } else {
          op.done(op.accepted ? AcceptResult::kAccepted : AcceptResult::kDuplicate, nullptr);
        }
      }
      lock.lock();
    }
    if (checkpoint_due) {
      checkpoint_due = false;
      lock.unlock();
      checkpoint_if_large();
      lock.lock();
    }
  }
}

void SqliteRequestStore::checkpoint_if_large() {
  // SQLite's automatic checkpoints are PASSIVE: they copy what no reader still needs and
  // never reset the WAL while a reader holds an older snapshot, so with readers always
  // present the WAL grows for ever. A TRUNCATE checkpoint waits (busy_timeout) for the
  // readers of old snapshots to finish, copies everything and truncates the WAL to zero.
  if (options_.wal_checkpoint_bytes == 0) return;
  std::error_code ec;
  uintmax_t size = std::filesystem::file_size(options_.path + "-wal", ec);
  if (ec || size < options_.wal_checkpoint_bytes) return;
  int rc = sqlite3_wal_checkpoint_v2(writer_db_->conn.handle(), nullptr,
                                     SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  // BUSY (a reader held its snapshot past busy_timeout): tried again at the next cleanup.
  if (rc == SQLITE_OK) checkpoints_.fetch_add(1);
}

void SqliteRequestStore::rollback() {
  // Errors here are ignored: SQLite may already have rolled back (e.g. SQLITE_FULL).
  sqlite3_exec(writer_db_->conn.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

// An error caused by one operation (its values, or a constraint it meets): the other
// operations of its group may well succeed without it. Every other error (BUSY, LOCKED,
// FULL, IOERR, NOMEM, CANTOPEN, READONLY, CORRUPT...) is the file's or the system's and
// would fail them all the same.
bool is_per_operation_error(int code) {
  switch (code & 0xff) {
    case SQLITE_TOOBIG:
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      return true;
    default:
      return false;
  }
}

void SqliteRequestStore::commit_batch(std::vector<Op>& batch, std::vector<std::string>* errors) {
  WriterDb& db = *writer_db_;
  auto count = [&](size_t from, size_t to) {
    transactions_.fetch_add(1, std::memory_order_relaxed);
    writes_.fetch_add(to - from, std::memory_order_relaxed);
    for (size_t i = from; i < to; ++i) {
      const Op& op = batch[i];
      if (op.kind == Op::Kind::kAccept) (op.accepted ? accepted_ : duplicates_).fetch_add(1);
      if (op.kind == Op::Kind::kExpire) expired_.fetch_add(op.count);
    }
  };
  // The file or the system failed: operations [from, end) fail at once with `error` (no
  // retry: each would meet the same error, and a held lock would cost each its busy
  // timeout), and the store is not ready until a write succeeds.
  auto fail_rest = [&](size_t from, const std::string& error) {
    for (size_t i = from; i < batch.size(); ++i) {
      (*errors)[i] = error;
      batch[i].accepted = false;
    }
    lost_writes_.fetch_add(batch.size() - from);
    healthy_.store(false, std::memory_order_relaxed);
  };
  // Runs [from, to) in one transaction. Returns "" on commit, else the error, with
  // *per_op telling whether one operation caused it.
  auto run = [&](size_t from, size_t to, bool* per_op) -> std::string {
    try {
      db.begin.run();
      db.begin.reset();
      for (size_t i = from; i < to; ++i) apply(batch[i]);
      db.commit.run();
      db.commit.reset();
      healthy_.store(true, std::memory_order_relaxed);
      count(from, to);
      return {};
    } catch (const sqlite::Error& e) {
      db.commit.reset();
      rollback();
      *per_op = is_per_operation_error(e.code());
      return e.what();
    } catch (const StoreError& e) {
      db.commit.reset();
      rollback();
      *per_op = false;
      return e.what();
    } catch (const std::exception& e) {
      // bad_alloc or anything else unforeseen: fail the group, never the process (an
      // exception leaving the writer thread would be std::terminate).
      db.commit.reset();
      rollback();
      *per_op = false;
      return "request store " + options_.path + ": writer: " + e.what();
    } catch (...) {
      db.commit.reset();
      rollback();
      *per_op = false;
      return "request store " + options_.path + ": writer: unknown exception";
    }
  };

  bool per_op = false;
  std::string error = run(0, batch.size(), &per_op);
  if (error.empty()) return;
  if (!per_op) return fail_rest(0, error);
  if (batch.size() == 1) {
    (*errors)[0] = std::move(error);
    batch[0].accepted = false;
    lost_writes_.fetch_add(1);
    return;  // still ready: the store works, this operation was bad
  }
  // One operation failed the group: find which, each in its own transaction.
  for (size_t i = 0; i < batch.size(); ++i) {
    error = run(i, i + 1, &per_op);
    if (error.empty()) continue;
    if (!per_op) return fail_rest(i, error);
    (*errors)[i] = std::move(error);
    batch[i].accepted = false;
    lost_writes_.fetch_add(1);
  }
}

void SqliteRequestStore::apply(Op& op) {
  if (test_hooks::before_apply) test_hooks::before_apply();
  WriterDb& db = *writer_db_;
  sqlite3* h = db.conn.handle();
  switch (op.kind) {
    case Op::Kind::kAccept: {
      ResetOnExit r(db.insert_request);
      const NewRequest& req = *op.request;
      db.insert_request.bind_text(1, req.id).bind_blob(2, req.body).bind_blob(3, op.a).bind(4, op.t1);
      db.insert_request.run();
      op.accepted = sqlite3_changes(h) == 1;
      break;
    }
    case Op::Kind::kResult: {
      ResetOnExit r(db.insert_result);
      db.insert_result.bind_text(1, op.id).bind_text(2, op.a).bind_blob(3, op.b);
      db.insert_result.run();
      break;
    }
    case Op::Kind::kStep: {
      ResetOnExit r(db.insert_step);
      db.insert_step.bind_text(1, op.id).bind_text(2, op.a).bind(3, op.t1).bind(4, op.t2);
      db.insert_step.run();
      break;
    }
    case Op::Kind::kComplete: {
      ResetOnExit r(db.finish);
      bind_outcome(db.finish, op);
      db.finish.run();
      break;
    }
    case Op::Kind::kFinish: {
      if (op.spill) {
        apply_finish_as_rows(op);
        break;
      }
      try {
        ResetOnExit r(db.finish_with_record);
        bind_outcome(db.finish_with_record, op);
        db.finish_with_record.bind_blob(5, op.b).bind_blob(6, op.c);
        db.finish_with_record.run();
      } catch (const sqlite::Error& e) {
        // The row with its body grew past SQLite's length limit. The failed statement is
        // undone alone (the transaction goes on): store the same as table rows.
        if ((e.code() & 0xff) != SQLITE_TOOBIG) throw;
        apply_finish_as_rows(op);
      }
      break;
    }
    case Op::Kind::kRestart: {
      {
        ResetOnExit r(db.clear_results);
        db.clear_results.bind_text(1, op.id).run();
      }
      ResetOnExit r(db.clear_steps);
      db.clear_steps.bind_text(1, op.id).run();
      break;
    }
    case Op::Kind::kExpire: {
      {
        ResetOnExit r(db.expire_results);
        db.expire_results.bind(1, op.t1).run();
      }
      {
        ResetOnExit r(db.expire_steps);
        db.expire_steps.bind(1, op.t1).run();
      }
      ResetOnExit r(db.expire_requests);
      db.expire_requests.bind(1, op.t1).run();
      op.count = static_cast<size_t>(sqlite3_changes(h));
      break;
    }
  }
}

void SqliteRequestStore::apply_finish_as_rows(const Op& op) {
  WriterDb& db = *writer_db_;
  std::vector<Result> results;
  std::vector<Step> path;
  // Encoded by finish() a moment ago in this process: cannot be damaged.
  decode_results(op.b, &results);
  decode_steps(op.c, &path);
  for (const Result& res : results) {
    ResetOnExit r(db.insert_result);
    db.insert_result.bind_text(1, op.id).bind_text(2, res.stage).bind_blob(3, res.value);
    db.insert_result.run();
  }
  for (const Step& step : path) {
    ResetOnExit r(db.insert_step);
    db.insert_step.bind_text(1, op.id).bind_text(2, step.stage).bind(3, to_us(step.start))
        .bind(4, to_us(step.end));
    db.insert_step.run();
  }
  ResetOnExit r(db.finish);
  bind_outcome(db.finish, op);
  db.finish.run();
}

std::unique_ptr<ReaderDb> SqliteRequestStore::take_reader() {
  std::unique_lock lock(readers_mutex_);
  readers_cv_.wait(lock, [&] { return !idle_readers_.empty() || open_readers_ < options_.max_readers; });
  if (!idle_readers_.empty()) {
    auto r = std::move(idle_readers_.back());
    idle_readers_.pop_back();
    return r;
  }
  ++open_readers_;
  lock.unlock();
  try {
    return std::make_unique<ReaderDb>(options_.path);
  } catch (...) {
    lock.lock();
    --open_readers_;
    readers_cv_.notify_one();
    throw;
  }
}

void SqliteRequestStore::return_reader(std::unique_ptr<ReaderDb> r) {
  {
    std::lock_guard lock(readers_mutex_);
    idle_readers_.push_back(std::move(r));
  }
  readers_cv_.notify_one();
}

std::optional<RequestRecord> SqliteRequestStore::get(std::string_view id) {
  InCall call(*this);
  wait_for_writer();  // read-your-writes: see everything queued before this call
  ReaderLease db(*this);
  std::optional<RequestRecord> rec;
  {
    ReadTransaction tx(*db);
    db->request.bind_text(1, id);
    if (db->request.step()) {
      rec.emplace();
      rec->id = id;
      int64_t status = db->request.column_int(0);
      rec->status = status == kStoredCompleted ? RequestStatus::kCompleted
                    : status == kStoredFailed  ? RequestStatus::kFailed
                                               : RequestStatus::kInProgress;
      rec->body = db->request.column_string(1);
      if (!decode_headers(db->request.column_string(2), &rec->headers))
        throw StoreError("request store " + options_.path + ": damaged headers of request " +
                         std::string(id));
      rec->error = db->request.column_string(3);
      rec->accepted_at = from_us(db->request.column_int(4));
      if (!db->request.column_is_null(5)) rec->finished_at = from_us(db->request.column_int(5));
      db->results.bind_text(1, id);
      while (db->results.step())
        rec->results.push_back({db->results.column_string(0), db->results.column_string(1)});
      db->steps.bind_text(1, id);
      while (db->steps.step())
        rec->path.push_back({db->steps.column_string(0), from_us(db->steps.column_int(1)),
                             from_us(db->steps.column_int(2))});
      // What finish() stored with the outcome comes after the rows added one by one.
      if (!decode_results(db->request.column_string(6), &rec->results) ||
          !decode_steps(db->request.column_string(7), &rec->path))
        throw StoreError("request store " + options_.path + ": damaged results or path of request " +
                         std::string(id));
    }
  }
  return rec;
}

std::vector<NewRequest> SqliteRequestStore::unfinished() {
  InCall call(*this);
  wait_for_writer();
  ReaderLease db(*this);
  std::vector<NewRequest> out;
  {
    ReadTransaction tx(*db);
    while (db->open.step()) {
      NewRequest r;
      r.id = db->open.column_string(0);
      r.body = db->open.column_string(1);
      if (!decode_headers(db->open.column_string(2), &r.headers))
        throw StoreError("request store " + options_.path + ": damaged headers of request " + r.id);
      r.accepted_at = from_us(db->open.column_int(3));
      out.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<RequestStore> open_sqlite_request_store(const SqliteStoreOptions& options) {
  return std::make_unique<SqliteRequestStore>(options);
}

}  // namespace sluice::store
