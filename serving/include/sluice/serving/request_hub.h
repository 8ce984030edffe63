// The request hub: where HTTP requests meet the flow.
//
// An HTTP handler submits a request: the hub admits it (in-flight limit, duplicate id)
// and hands it to the store; once the store has committed it (its writer thread calls
// back), the hub queues it for the flow's `serving` source, which takes requests from here and emits them as messages
// whose id is the request id. While the flow works, the hub hears (as the runtime's
// RequestObserver) every result a sink responds with, every stage that handled the
// request, and every failure; when the request's lineage reaches zero the serving
// source acknowledges it and the hub completes it: the outcome and everything it heard
// go to the store, and whoever waits on the request (a /sync handler, SSE subscribers)
// is woken through the request's own condition variable: nobody polls.
//
// A request in flight lives in memory (a PendingRequest shared by the hub and the
// handlers waiting on it); once complete it is answered from the store.
//
// Thread-safety: every member may be called from any thread.
// Lifetime: the hub must outlive the flow runtime it observes and the HTTP server
// whose handlers use it; the store must outlive the hub.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sluice/host/request_observer.h"
#include "sluice/store/request_store.h"

namespace sluice::serving {

// One request in flight. The hub and waiting handlers share it; fields below `mutex`
// are guarded by it, and `changed` is notified whenever one of them changes.
struct PendingRequest {
  enum class State {
    kAdmitting,   // submitted; the store has not answered yet
    kDuplicate,   // refused: the store already has this id
    kStoreError,  // refused: the store could not take it (`error` says why)
    kQueued,      // accepted (stored), waiting for the serving source
    kProcessing,  // emitted into the flow
    kCompleted,   // every descendant finished, none failed
    kFailed,      // every descendant finished, at least one failed
    kAbandoned,   // the server stopped first; the store still has it as unfinished
  };

  std::string id;
  store::Time accepted_at;
  // Handed to the serving source, then released (the store keeps its copy).
  std::string body;
  std::vector<store::Header> headers;

  std::mutex mutex;
  std::condition_variable changed;
  State state = State::kAdmitting;
  std::vector<store::Result> results;  // in the order the sinks responded
  std::vector<store::Step> path;       // in the order the stages reported
  std::string error;                   // the first failure: "stage: why"
  store::Time finished_at;
  // SSE streams following the results: a new result wakes waiters only when there is
  // one (a /sync waits for the end alone, and a wake-up per result would cost it a
  // context switch each).
  int result_watchers = 0;

  // An async handler waits for the store's answer only: the admission wakes waiters
  // when one asked for it (a /sync waits for the end, and a refusal ends it too).
  bool wake_on_admission = false;

  bool admitted() const { return state != State::kAdmitting; }
  bool refused() const { return state == State::kDuplicate || state == State::kStoreError; }
  bool finished() const { return state == State::kCompleted || state == State::kFailed; }
  bool ended() const { return finished() || refused() || state == State::kAbandoned; }
};

struct HubStats {
  uint64_t in_flight = 0;  // admitted, not yet complete
  uint64_t queued = 0;     // waiting for the serving source
  uint64_t accepted = 0;
  uint64_t completed = 0;
  uint64_t failed = 0;
  uint64_t duplicates = 0;
  uint64_t rejected_busy = 0;   // over maxInFlight
  uint64_t store_errors = 0;    // accept() failed
  uint64_t recovered = 0;       // unfinished requests queued again at start
};

class RequestHub : public host::RequestObserver {
 public:
  RequestHub(store::RequestStore& store, uint32_t max_in_flight);
  ~RequestHub() override;
  RequestHub(const RequestHub&) = delete;
  RequestHub& operator=(const RequestHub&) = delete;

  enum class Admission {
    kSubmitted,   // *out is the request, on its way to the store (state kAdmitting)
    kDuplicate,   // the id is in flight
    kBusy,        // max_in_flight requests are in flight
    kStoreError,  // the store refused it at once (closed, too large: *error says why)
    kStopping,    // the server is shutting down
  };
  // Admits one request and hands it to the store without waiting: the store's answer
  // (after its commit, on the store's thread) moves it to kQueued and on to the flow,
  // or to kDuplicate / kStoreError. Wait for it with wait_admitted(), or for the end
  // with the request's condition variable. The request's `id` must be valid.
  Admission submit(store::NewRequest request, std::shared_ptr<PendingRequest>* out,
                   std::string* error);
  // Blocks until the store answered for `request` (it is then queued, or refused).
  void wait_admitted(PendingRequest& request);

  // Queues again, once at start, every request the store has as accepted but not
  // finished (a crash or stop came first): at-least-once. Returns how many.
  size_t recover();

  // The request in flight with this id, or null (unknown, or already complete: ask the
  // store).
  std::shared_ptr<PendingRequest> find(std::string_view id) const;
  // Like find(), but only a request the store accepted (not one still being submitted,
  // nor one the store refused): what fetch, sse and message may show.
  std::shared_ptr<PendingRequest> find_stored(std::string_view id) const;

  // --- for the serving source (serving_source.cc) ------------------------------
  // Moves up to `max` queued requests to *out (appended) and marks them processing;
  // waits up to `wait` for the first when none is queued.
  void take(size_t max, std::chrono::microseconds wait,
            std::vector<std::shared_ptr<PendingRequest>>* out);
  // The flow finished every descendant of request `id` (the source's ack).
  void complete(std::string_view id);
  // Records that stage `stage` read the request (its first step: from accepted to read).
  void note_read(PendingRequest& request, std::string_view stage, store::Time read_at);
  size_t queued() const;

  // --- shutdown ------------------------------------------------------------------
  // From now on submit() answers kStopping. Requests already admitted go on.
  void stop_admitting();
  bool stopping() const { return stopping_.load(); }
  // Wakes everyone still waiting on a request that did not complete (the flow stopped):
  // those requests end kAbandoned here and stay unfinished in the store, so the next
  // start processes them again. Call after the flow runtime ended.
  void abandon_remaining();

  HubStats stats() const;
  store::RequestStore& store() { return store_; }

  // host::RequestObserver
  void on_result(std::string_view id, std::string_view stage, std::string_view value) override;
  void on_step(std::string_view stage, const std::string_view* ids, size_t count, Time start,
               Time end) override;
  void on_failure(std::string_view id, std::string_view stage, std::string_view error) override;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, std::shared_ptr<PendingRequest>, StringHash,
                                 std::equal_to<>>;
  // The in-flight table, split so that workers reporting on different requests rarely
  // meet on one lock.
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mutex;
    Map map;
  };
  Shard& shard(std::string_view id) const {
    return shards_[std::hash<std::string_view>{}(id) % kShards];
  }
  // Removes exactly this request from the table (not a later one with its id).
  void erase(const PendingRequest& request);
  // Ends the request completed or failed (by its error) and queues it to the store.
  void finish_locked(PendingRequest& request);
  void enqueue(std::shared_ptr<PendingRequest> request);
  // The store's answer for a submitted request (the store's thread).
  void on_stored(const std::shared_ptr<PendingRequest>& request, store::AcceptResult result,
                 const std::string* error);

  store::RequestStore& store_;
  const uint32_t max_in_flight_;
  mutable Shard shards_[kShards];
  std::atomic<uint64_t> in_flight_{0};
  std::atomic<bool> stopping_{false};

  mutable std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<std::shared_ptr<PendingRequest>> queue_;

  mutable std::atomic<uint64_t> accepted_{0}, completed_{0}, failed_{0}, duplicates_{0},
      rejected_busy_{0}, store_errors_{0}, recovered_{0};
};

}  // namespace sluice::serving
