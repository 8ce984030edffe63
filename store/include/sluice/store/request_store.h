// The request store: what the serving layer remembers about each HTTP request it
// accepted — the request itself, its results, the path it took through the stages, and
// how it ended — so that results can be fetched later and accepted work survives a crash.
//
// Contract:
//   - accept() is durable before it returns: once it answers kAccepted, the request is on
//     disk (see the implementation for what "on disk" means) and will be returned by
//     unfinished() after any crash until its outcome (complete() or finish()) is stored.
//     An async request is acknowledged to its client only after accept() returned.
//     kDuplicate means the id is already stored (in flight or finished and not yet
//     expired); nothing changes.
//   - add_result(), add_step(), complete(), finish() and restart() are queued: they
//     return before they are durable and may be lost by a crash (the request then shows
//     up in unfinished() and is processed again: at-least-once). They are applied in the
//     order they were called, so calls made in order from one thread (or ordered by the
//     caller's own synchronisation) are applied in that order.
//   - Writes naming an id that is not stored are dropped. complete() on a finished request
//     is dropped (the first outcome stays), as are results and steps after it.
//   - get() and unfinished() see every write whose call returned before they were called,
//     from any thread (read-your-writes and monotonic reads for everyone, not only the
//     calling thread). The price: when writes are queued, a read waits for the writer to
//     commit them (one group commit, typically an fsync).
//   - Finished (completed or failed) requests older than the TTL, counted from when they
//     finished, are deleted by a periodic cleanup; a deleted id may be accepted again.
//   - Size: what one request, result, step or error may hold is bounded (the
//     implementation's limit, e.g. SqliteStoreOptions::max_record_bytes). accept() of a
//     larger request throws StoreError "request body of N bytes is larger than the store's
//     limit of M bytes" (the store stays ready); a larger queued write is dropped before it
//     is queued and counted in stats().too_large, with the reason in
//     stats().last_dropped (a failed outcome whose error text is too large is stored
//     with a note in place of the text, so the request still finishes). Nothing is ever
//     truncated.
//   - A failure to store (disk full, I/O error, the file locked by someone else) fails
//     every operation committed with it at once: accept() throws StoreError and ready()
//     returns false until a later write succeeds. An operation that fails on its own
//     (e.g. a constraint) fails alone: accept() throws StoreError, the others are stored,
//     and ready() stays true. A failed queued write is counted in stats().lost_writes.
//
//   - close() (and the destructor, which calls it) waits for the calls in progress,
//     commits what is queued and closes the file; every call after it began throws
//     StoreError "... closed" (ready() is false, stats() still answers).
//
// Thread-safety: every member may be called from any number of threads at once.
// Destruction: the owner must make sure no call is in progress or can still start when
// it destroys the store (join or stop the callers first, or call close() first and let
// late callers get "closed" while the object is still alive). A call racing the
// destructor is a use-after-free that close() cannot prevent.
// Ownership: the store copies what it is given; records returned are the caller's.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::store {

// Wall-clock time: stored records outlive the process, so a steady clock would not do.
// Stored with microsecond precision.
using Time = std::chrono::system_clock::time_point;

// Any failure of the store: opening it, or storing an accepted request. The message
// names the file.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Header = std::pair<std::string, std::string>;  // name, value; order is kept

struct NewRequest {
  std::string id;
  std::string body;
  std::vector<Header> headers;
  Time accepted_at;
};

enum class AcceptResult { kAccepted, kDuplicate };
enum class RequestStatus { kInProgress, kCompleted, kFailed };
enum class Outcome { kCompleted, kFailed };

struct Result {
  std::string stage;  // the stage that produced it
  std::string value;
};

// One stage's handling of the request: the request's path is its steps in order.
struct Step {
  std::string stage;
  Time start;
  Time end;
};

struct RequestRecord {
  std::string id;
  RequestStatus status = RequestStatus::kInProgress;
  std::string body;
  std::vector<Header> headers;
  std::vector<Result> results;  // in the order they were added
  std::vector<Step> path;       // in the order they were added
  std::string error;            // set when failed
  Time accepted_at;
  std::optional<Time> finished_at;
};

struct StoreStats {
  uint64_t accepted = 0;
  uint64_t duplicates = 0;
  uint64_t transactions = 0;   // commits by the writer (group commits)
  uint64_t writes = 0;         // operations committed
  uint64_t lost_writes = 0;    // queued operations whose transaction failed
  uint64_t expired = 0;        // records deleted by TTL
  uint64_t too_large = 0;      // queued writes dropped: larger than the store's limit
  std::string last_dropped;    // why the last of those was dropped (for the log)
  uint64_t checkpoints = 0;    // forced WAL checkpoints (the WAL had grown too large)
  uint64_t readers = 0;        // read connections open (at most the implementation's cap)
};

class RequestStore {
 public:
  virtual ~RequestStore() = default;

  // Stores the request durably, or reports that its id is already stored. Blocks until
  // its transaction has committed. Throws StoreError when it cannot be stored.
  virtual AcceptResult accept(const NewRequest& request) = 0;

  // accept() without blocking the caller: `done` is called exactly once, at the moment
  // accept() would have returned (after the request's transaction committed), with the
  // result, or with `error` set (the StoreError's text) when it could not be stored. It
  // may run on a thread of the store's (the SQLite writer's) or, in this default, inline
  // on the caller's; it must be quick, must not throw, and must not call this store's
  // blocking members (accept, get, unfinished, expire_now, flush, close). Ordered with
  // the queued writes like accept(): writes queued after the call are applied after it.
  // Throws StoreError (without calling `done`) only when the store is closed or the
  // request is larger than the store's limit.
  using AcceptCallback = std::function<void(AcceptResult result, const std::string* error)>;
  virtual void accept_async(NewRequest request, AcceptCallback done) {
    AcceptResult result;
    try {
      result = accept(request);
    } catch (const StoreError& e) {
      const std::string error = e.what();
      done(AcceptResult::kDuplicate, &error);
      return;
    }
    done(result, nullptr);
  }

  // Queued (see the contract). `stage` names the stage that produced the value.
  virtual void add_result(std::string_view id, std::string_view stage, std::string_view value) = 0;
  virtual void add_step(std::string_view id, std::string_view stage, Time start, Time end) = 0;
  // Finishes the request at `at`; `error` is kept for kFailed (ignored for kCompleted).
  virtual void complete(std::string_view id, Outcome outcome, std::string_view error, Time at) = 0;
  // The whole end of a request in one queued write: its results and path (in order,
  // after any added one by one) and its outcome, as add_result() for each result,
  // add_step() for each step, then complete() would store them, but applied together:
  // a crash keeps all of it or none. What one of them could not store (larger than the
  // limit) is dropped as those calls drop it; the outcome is always kept.
  // The default does exactly those calls; a store with a cheaper way overrides it.
  virtual void finish(std::string_view id, Outcome outcome, std::string_view error, Time at,
                      const std::vector<Result>& results, const std::vector<Step>& path) {
    for (const Result& r : results) add_result(id, r.stage, r.value);
    for (const Step& s : path) add_step(id, s.stage, s.start, s.end);
    complete(id, outcome, error, at);
  }
  // Drops the results and path of an unfinished request before it is processed again
  // after a restart (so a retried request does not keep its first attempt's partial
  // results). Queued; dropped for a finished request.
  virtual void restart(std::string_view id) = 0;

  // The stored record, or nullopt for an id that is not stored.
  virtual std::optional<RequestRecord> get(std::string_view id) = 0;
  // Accepted requests not yet finished, oldest first: what to process again after a
  // restart. Only id, body, headers and accepted_at are filled in.
  virtual std::vector<NewRequest> unfinished() = 0;

  // Deletes the finished records whose finish time is at or before now - ttl, as the
  // periodic cleanup does; returns how many. Blocks until done (for tests and tools).
  virtual size_t expire_now(Time now) = 0;
  // Blocks until every write queued before the call is committed (or failed).
  virtual void flush() = 0;
  // Stops the store: waits for calls in progress, commits everything queued, closes the
  // file (another store may open it then). Every later call except ready() and stats()
  // throws StoreError "closed". Idempotent; the destructor calls it.
  virtual void close() = 0;

  // True while the store can take writes (opened, not closed, last write succeeded).
  virtual bool ready() const = 0;
  virtual StoreStats stats() const = 0;
};

}  // namespace sluice::store
