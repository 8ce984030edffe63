#include "sluice/serving/request_hub.h"

namespace sluice::serving {

RequestHub::RequestHub(store::RequestStore& store, uint32_t max_in_flight)
    : store_(store), max_in_flight_(max_in_flight) {}

RequestHub::~RequestHub() = default;

RequestHub::Admission RequestHub::submit(store::NewRequest request,
                                         std::shared_ptr<PendingRequest>* out,
                                         std::string* error) {
  if (stopping_.load()) return Admission::kStopping;
  if (in_flight_.fetch_add(1) >= max_in_flight_) {
    in_flight_.fetch_sub(1);
    ++rejected_busy_;
    return Admission::kBusy;
  }
  auto pending = std::make_shared<PendingRequest>();
  pending->id = request.id;
  pending->accepted_at = request.accepted_at;
  {
    // In the table first: of two concurrent submits of one id, exactly one gets past
    // here, before either reaches the store. Stopping is checked again under the lock
    // abandon_remaining() sweeps with, so no request slips in behind the sweep.
    Shard& s = shard(request.id);
    std::lock_guard<std::mutex> lock(s.mutex);
    if (stopping_.load()) {
      in_flight_.fetch_sub(1);
      return Admission::kStopping;
    }
    if (!s.map.emplace(request.id, pending).second) {
      in_flight_.fetch_sub(1);
      ++duplicates_;
      return Admission::kDuplicate;
    }
  }
  // The store copies the request; the flow gets the body from here.
  pending->body = request.body;
  pending->headers = request.headers;
  *out = pending;
  try {
    store_.accept_async(std::move(request),
                        [this, pending](store::AcceptResult result, const std::string* error) {
                          on_stored(pending, result, error);
                        });
  } catch (const store::StoreError& e) {
    erase(*pending);
    ++store_errors_;
    *error = e.what();
    out->reset();
    return Admission::kStoreError;
  }
  return Admission::kSubmitted;
}

void RequestHub::on_stored(const std::shared_ptr<PendingRequest>& r, store::AcceptResult result,
                           const std::string* error) {
  const bool accepted = error == nullptr && result == store::AcceptResult::kAccepted;
  bool wake;
  {
    std::lock_guard<std::mutex> lock(r->mutex);
    // Abandoned meanwhile (the server stopped): abandon_remaining() did the accounting.
    if (r->state != PendingRequest::State::kAdmitting) return;
    if (accepted) {
      r->state = PendingRequest::State::kQueued;
      wake = r->wake_on_admission;
    } else {
      r->state = error != nullptr ? PendingRequest::State::kStoreError : PendingRequest::State::kDuplicate;
      if (error != nullptr) r->error = *error;
      std::string().swap(r->body);
      wake = true;
    }
  }
  if (accepted) {
    ++accepted_;
    enqueue(r);
  } else {
    ++(error != nullptr ? store_errors_ : duplicates_);
    erase(*r);
  }
  if (wake) r->changed.notify_all();
}

void RequestHub::wait_admitted(PendingRequest& r) {
  std::unique_lock<std::mutex> lock(r.mutex);
  r.wake_on_admission = true;
  r.changed.wait(lock, [&] { return r.admitted(); });
}

size_t RequestHub::recover() {
  size_t n = 0;
  for (store::NewRequest& r : store_.unfinished()) {
    auto pending = std::make_shared<PendingRequest>();
    pending->id = r.id;
    pending->accepted_at = r.accepted_at;
    pending->body = std::move(r.body);
    pending->headers = std::move(r.headers);
    pending->state = PendingRequest::State::kQueued;  // stored already
    {
      Shard& s = shard(pending->id);
      std::lock_guard<std::mutex> lock(s.mutex);
      if (!s.map.emplace(pending->id, pending).second) continue;
      in_flight_.fetch_add(1);
    }
    // The first attempt's partial results and path are not this attempt's.
    store_.restart(pending->id);
    enqueue(std::move(pending));
    ++n;
  }
  recovered_ += n;
  return n;
}

std::shared_ptr<PendingRequest> RequestHub::find(std::string_view id) const {
  Shard& s = shard(id);
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.map.find(id);
  return it == s.map.end() ? nullptr : it->second;
}

std::shared_ptr<PendingRequest> RequestHub::find_stored(std::string_view id) const {
  std::shared_ptr<PendingRequest> r = find(id);
  if (!r) return nullptr;
  std::lock_guard<std::mutex> lock(r->mutex);
  return r->admitted() && !r->refused() ? r : nullptr;
}

void RequestHub::erase(const PendingRequest& request) {
  bool removed = false;
  {
    Shard& s = shard(request.id);
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.map.find(request.id);
    if (it != s.map.end() && it->second.get() == &request) {
      s.map.erase(it);
      removed = true;
    }
  }
  // in_flight_ counts the table's entries: whoever removes one (here, or the sweep of
  // abandon_remaining) takes it off, exactly once.
  if (removed) in_flight_.fetch_sub(1);
}

void RequestHub::enqueue(std::shared_ptr<PendingRequest> request) {
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_.push_back(std::move(request));
  }
  queue_cv_.notify_one();
}

void RequestHub::take(size_t max, std::chrono::microseconds wait,
                      std::vector<std::shared_ptr<PendingRequest>>* out) {
  std::unique_lock<std::mutex> lock(queue_mutex_);
  if (queue_.empty() && wait.count() > 0)
    queue_cv_.wait_for(lock, wait, [&] { return !queue_.empty(); });
  const size_t first = out->size();
  while (!queue_.empty() && out->size() - first < max) {
    out->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  lock.unlock();
  for (size_t i = first; i < out->size(); ++i) {
    PendingRequest& r = *(*out)[i];
    std::lock_guard<std::mutex> req_lock(r.mutex);
    r.state = PendingRequest::State::kProcessing;
  }
}

size_t RequestHub::queued() const {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  return queue_.size();
}

void RequestHub::note_read(PendingRequest& request, std::string_view stage, store::Time read_at) {
  std::lock_guard<std::mutex> lock(request.mutex);
  request.path.push_back({std::string(stage), request.accepted_at, read_at});
}

void RequestHub::complete(std::string_view id) {
  std::shared_ptr<PendingRequest> r = find(id);
  if (!r) return;  // not a request (another source's message), or already ended
  {
    std::lock_guard<std::mutex> lock(r->mutex);
    if (r->ended()) return;
    finish_locked(*r);
  }
  r->changed.notify_all();
  // Gone from the table only after the store has every write queued: a lookup that
  // misses here finds the record in the store (the store reads its own queued writes).
  erase(*r);
}

void RequestHub::finish_locked(PendingRequest& r) {
  r.finished_at = std::chrono::system_clock::now();
  const bool failed = !r.error.empty();
  r.state = failed ? PendingRequest::State::kFailed : PendingRequest::State::kCompleted;
  ++(failed ? failed_ : completed_);
  try {
    // One queued write with results, path and outcome: a crash keeps all of it or none
    // (the request is then unfinished and processed again), and the SQLite store
    // stores it in one statement.
    store_.finish(r.id, failed ? store::Outcome::kFailed : store::Outcome::kCompleted, r.error,
                  r.finished_at, r.results, r.path);
  } catch (const store::StoreError&) {
    // Closed under us (shutting down): the waiting clients still get the answer; the
    // store keeps the request unfinished, to be processed again.
    ++store_errors_;
  }
}

void RequestHub::on_result(std::string_view id, std::string_view stage, std::string_view value) {
  std::shared_ptr<PendingRequest> r = find(id);
  if (!r) return;
  bool wake;
  {
    std::lock_guard<std::mutex> lock(r->mutex);
    if (r->ended()) return;
    r->results.push_back({std::string(stage), std::string(value)});
    wake = r->result_watchers > 0;
  }
  if (wake) r->changed.notify_all();
}

void RequestHub::on_step(std::string_view stage, const std::string_view* ids, size_t count,
                         Time start, Time end) {
  for (size_t i = 0; i < count; ++i) {
    std::shared_ptr<PendingRequest> r = find(ids[i]);
    if (!r) continue;
    std::lock_guard<std::mutex> lock(r->mutex);
    if (!r->ended()) r->path.push_back({std::string(stage), start, end});
  }
}

void RequestHub::on_failure(std::string_view id, std::string_view stage, std::string_view error) {
  std::shared_ptr<PendingRequest> r = find(id);
  if (!r) return;
  std::lock_guard<std::mutex> lock(r->mutex);
  if (r->error.empty() && !r->ended()) {
    r->error.assign(stage);
    r->error += ": ";
    r->error += error.empty() ? std::string_view("failed") : error;
  }
}

void RequestHub::stop_admitting() { stopping_.store(true); }

void RequestHub::abandon_remaining() {
  std::vector<std::shared_ptr<PendingRequest>> left;
  for (Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mutex);
    for (auto& [id, r] : s.map) left.push_back(r);
    s.map.clear();
  }
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_.clear();
  }
  for (auto& r : left) {
    {
      std::lock_guard<std::mutex> lock(r->mutex);
      // A request with a failure stays failed when the flow stopped because of it (a
      // stage's `then: fail`): stored as failed, not replayed at every start. The others
      // stay unfinished in the store and are processed again at the next start.
      if (!r->ended()) {
        if (!r->error.empty() && r->admitted())
          finish_locked(*r);
        else
          r->state = PendingRequest::State::kAbandoned;
      }
    }
    r->changed.notify_all();
    in_flight_.fetch_sub(1);  // swept from the table above
  }
}

HubStats RequestHub::stats() const {
  HubStats s;
  s.in_flight = in_flight_.load();
  s.queued = queued();
  s.accepted = accepted_.load();
  s.completed = completed_.load();
  s.failed = failed_.load();
  s.duplicates = duplicates_.load();
  s.rejected_busy = rejected_busy_.load();
  s.store_errors = store_errors_.load();
  s.recovered = recovered_.load();
  return s;
}

}  // namespace sluice::serving
