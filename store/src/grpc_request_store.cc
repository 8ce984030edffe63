// GrpcRequestStore: the request store on a Numaflow user-defined serving store server.
// The design and contract are in sluice/store/grpc_request_store.h; this file keeps gRPC
// and the generated code out of every header.
#include "sluice/store/grpc_request_store.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "serving_store.grpc.pb.h"
#include "sluice_store_record.pb.h"

namespace sluice::store {
namespace {

namespace pb = ::serving::v1;
namespace rec = ::sluice::store::v1;

constexpr std::string_view kSluicePrefix = "sluice:";
constexpr std::string_view kRequestOrigin = "sluice:request";
constexpr std::string_view kStepOrigin = "sluice:step";
constexpr std::string_view kOutcomeOrigin = "sluice:outcome";

// A record must fit in one Put, and the Put message holds more than the values (the id,
// origins, tags and lengths): this much is kept free below max_message_bytes.
constexpr size_t kHeadroom = 64 * 1024;
constexpr size_t kMinMessageBytes = 1024 * 1024;
// What one payload costs in a PutRequest beyond its origin and value (tags, lengths), and
// what an outcome payload costs without its error text: generous upper bounds.
constexpr size_t kPayloadOverhead = 32;
constexpr size_t kOutcomeBytes = 64;

int64_t to_us(Time t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
Time from_us(int64_t us) {
  return Time(std::chrono::duration_cast<Time::duration>(std::chrono::microseconds(us)));
}

const char* code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN_CODE";
  }
}

std::string describe(const grpc::Status& status) {
  return std::string(code_name(status.error_code())) + ": " + status.error_message();
}

void add_payload(pb::PutRequest& put, std::string_view origin, std::string value) {
  pb::Payload* p = put.add_payloads();
  p->set_origin(std::string(origin));
  p->set_value(std::move(value));
}

// A request accepted by this store object whose complete record is not stored yet: the
// record lives here (add_result/add_step/restart change it; get() answers from it) until
// its completion Put succeeded or was given up.
struct Pending {
  NewRequest request;
  std::string encoded_request;  // its "sluice:request" payload value, sent again at complete
  uint64_t order = 0;           // acceptance order: unfinished() breaks accepted_at ties
  std::vector<Result> results;
  std::vector<Step> path;
  size_t bytes = 0;  // what the completion Put would weigh so far (for the size limit)
  bool finished = false;
  Outcome outcome = Outcome::kCompleted;
  std::string error;
  Time finished_at;
};

// One completion Put waiting for the sender thread.
struct PutJob {
  uint64_t seq = 0;
  std::string id;
  pb::PutRequest put;
  uint64_t operations = 0;  // results + steps + outcome, for stats().writes
};

class GrpcRequestStore final : public RequestStore {
 public:
  explicit GrpcRequestStore(GrpcStoreOptions options)
      : options_(std::move(options)),
        record_limit_(options_.max_message_bytes - kHeadroom),
        server_ready_(options_.probe_interval.count() <= 0) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(static_cast<int>(options_.max_message_bytes));
    args.SetMaxSendMessageSize(static_cast<int>(options_.max_message_bytes));
    // gRPC's default reconnect backoff grows to 120 s: a store server restarted after a
    // while would stay unreachable (RPCs failing fast) for up to that long.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    channel_ = grpc::CreateCustomChannel(options_.address, grpc::InsecureChannelCredentials(), args);
    stub_ = pb::ServingStore::NewStub(channel_);
    sender_ = std::thread([this] { sender_loop(); });
    if (options_.probe_interval.count() > 0) prober_ = std::thread([this] { probe_loop(); });
  }

  ~GrpcRequestStore() override { close(); }

  AcceptResult accept(const NewRequest& request) override {
    CallGuard guard(*this);
    rec::StoredRequest stored;
    stored.set_body(request.body);
    for (const auto& [name, value] : request.headers) {
      rec::Header* h = stored.add_headers();
      h->set_name(name);
      h->set_value(value);
    }
    stored.set_accepted_at_us(to_us(request.accepted_at));
    std::string encoded = stored.SerializeAsString();
    const size_t bytes =
        request.id.size() + kRequestOrigin.size() + encoded.size() + kPayloadOverhead + kOutcomeBytes;
    if (bytes > record_limit_)
      throw StoreError(where() + ": request body of " + std::to_string(request.body.size()) +
                       " bytes is larger than the store's limit of " + std::to_string(record_limit_) +
                       " bytes");

    {
      std::unique_lock lock(mu_);
      // Another accept of this id is between its RPCs: its answer decides this one.
      accept_cv_.wait(lock, [&] { return !accepting_.contains(request.id); });
      if (pending_.contains(request.id)) {  // in flight here: no round trip
        ++stats_.duplicates;
        return AcceptResult::kDuplicate;
      }
      accepting_.insert(request.id);
    }
    // Whatever happens below, the reservation goes and the waiting accepts wake.
    bool accepted = false;
    struct Release {
      GrpcRequestStore& store;
      const NewRequest& request;
      std::string& encoded;
      size_t bytes;
      bool& accepted;
      ~Release() {
        std::lock_guard lock(store.mu_);
        store.accepting_.erase(request.id);
        if (accepted) {
          Pending& p = store.pending_[request.id];
          p.request = request;
          p.encoded_request = std::move(encoded);
          p.order = ++store.accept_order_;
          p.bytes = bytes;
        }
        store.accept_cv_.notify_all();
      }
    } release{*this, request, encoded, bytes, accepted};

    pb::GetRequest get_request;
    get_request.set_id(request.id);
    pb::GetResponse got;
    grpc::ClientContext get_context;
    set_deadline(get_context);
    grpc::Status status = stub_->Get(&get_context, get_request, &got);
    if (!status.ok()) fail("Get of request " + request.id + " failed: " + describe(status));
    if (got.payloads_size() > 0) {
      transport_ok_ = true;
      std::lock_guard lock(mu_);
      ++stats_.duplicates;
      return AcceptResult::kDuplicate;
    }

    pb::PutRequest put;
    put.set_id(request.id);
    add_payload(put, kRequestOrigin, encoded);
    pb::PutResponse put_response;
    grpc::ClientContext put_context;
    set_deadline(put_context);
    status = stub_->Put(&put_context, put, &put_response);
    if (!status.ok()) fail("Put of request " + request.id + " failed: " + describe(status));
    if (!put_response.success())
      fail("Put of request " + request.id + " failed: the server answered success=false");
    transport_ok_ = true;
    accepted = true;
    std::lock_guard lock(mu_);
    ++stats_.accepted;
    ++stats_.transactions;
    ++stats_.writes;
    return AcceptResult::kAccepted;
  }

  void add_result(std::string_view id, std::string_view stage, std::string_view value) override {
    CallGuard guard(*this);
    std::lock_guard lock(mu_);
    Pending* p = writable(id);
    if (!p) return;
    const size_t bytes = stage.size() + value.size() + kPayloadOverhead;
    if (p->bytes + bytes > record_limit_) {
      too_large("result of " + std::to_string(value.size()) + " bytes from stage " +
                std::string(stage) + " for request " + std::string(id));
      return;
    }
    p->bytes += bytes;
    p->results.push_back(Result{std::string(stage), std::string(value)});
  }

  void add_step(std::string_view id, std::string_view stage, Time start, Time end) override {
    CallGuard guard(*this);
    std::lock_guard lock(mu_);
    Pending* p = writable(id);
    if (!p) return;
    const size_t bytes = stage.size() + kStepOrigin.size() + 2 * kPayloadOverhead;
    if (p->bytes + bytes > record_limit_) {
      too_large("step of stage " + std::string(stage) + " for request " + std::string(id));
      return;
    }
    p->bytes += bytes;
    p->path.push_back(Step{std::string(stage), start, end});
  }

  void complete(std::string_view id, Outcome outcome, std::string_view error, Time at) override {
    CallGuard guard(*this);
    std::lock_guard lock(mu_);
    Pending* p = writable(id);
    if (!p) return;
    p->finished = true;
    p->outcome = outcome;
    p->finished_at = at;
    if (outcome == Outcome::kFailed) {
      if (p->bytes + error.size() + kPayloadOverhead > record_limit_) {
        // The request still finishes, failed; only the text is replaced.
        too_large("error text of " + std::to_string(error.size()) + " bytes for request " +
                  std::string(id));
        p->error = "(the error text of " + std::to_string(error.size()) +
                   " bytes was larger than the store's limit of " + std::to_string(record_limit_) +
                   " bytes)";
      } else {
        p->error = std::string(error);
      }
    }

    // The whole record in one Put, so an overwriting server holds all of it and an
    // appending one holds it after the request's second copy.
    PutJob job;
    job.seq = ++enqueued_seq_;
    job.id = std::string(id);
    job.put.set_id(job.id);
    add_payload(job.put, kRequestOrigin, p->encoded_request);
    for (const Result& r : p->results) add_payload(job.put, r.stage, r.value);
    for (const Step& s : p->path) {
      rec::StoredStep step;
      step.set_stage(s.stage);
      step.set_start_us(to_us(s.start));
      step.set_end_us(to_us(s.end));
      add_payload(job.put, kStepOrigin, step.SerializeAsString());
    }
    rec::StoredOutcome out;
    out.set_status(outcome == Outcome::kFailed ? rec::StoredOutcome::FAILED
                                               : rec::StoredOutcome::COMPLETED);
    out.set_error(p->error);
    out.set_finished_at_us(to_us(at));
    add_payload(job.put, kOutcomeOrigin, out.SerializeAsString());
    job.operations = p->results.size() + p->path.size() + 1;
    queue_.push_back(std::move(job));
    queue_cv_.notify_all();
  }

  void restart(std::string_view id) override {
    CallGuard guard(*this);
    std::lock_guard lock(mu_);
    Pending* p = writable(id);
    if (!p) return;
    p->results.clear();
    p->path.clear();
    p->bytes = p->request.id.size() + kRequestOrigin.size() + p->encoded_request.size() +
               kPayloadOverhead + kOutcomeBytes;
  }

  std::optional<RequestRecord> get(std::string_view id) override {
    CallGuard guard(*this);
    {
      std::lock_guard lock(mu_);
      auto it = pending_.find(std::string(id));
      if (it != pending_.end()) return to_record(it->second);
    }
    pb::GetRequest request;
    request.set_id(std::string(id));
    pb::GetResponse got;
    grpc::ClientContext context;
    set_deadline(context);
    grpc::Status status = stub_->Get(&context, request, &got);
    if (!status.ok()) fail("Get of request " + std::string(id) + " failed: " + describe(status));
    transport_ok_ = true;
    if (got.payloads_size() == 0) return std::nullopt;
    return parse(std::string(id), got);
  }

  std::vector<NewRequest> unfinished() override {
    CallGuard guard(*this);
    std::vector<const Pending*> open;
    std::lock_guard lock(mu_);
    for (const auto& [id, p] : pending_)
      if (!p.finished) open.push_back(&p);
    std::sort(open.begin(), open.end(), [](const Pending* a, const Pending* b) {
      if (a->request.accepted_at != b->request.accepted_at)
        return a->request.accepted_at < b->request.accepted_at;
      return a->order < b->order;
    });
    std::vector<NewRequest> out;
    out.reserve(open.size());
    for (const Pending* p : open) out.push_back(p->request);
    return out;
  }

  size_t expire_now(Time) override {
    CallGuard guard(*this);
    return 0;  // the server owns retention
  }

  void flush() override {
    CallGuard guard(*this);
    std::unique_lock lock(mu_);
    const uint64_t target = enqueued_seq_;
    done_cv_.wait(lock, [&] { return done_seq_ >= target; });
  }

  void close() override {
    std::unique_lock lock(mu_);
    if (closed_) {
      // A second close (or the destructor after close) returns once the first is done.
      done_cv_.wait(lock, [&] { return close_done_; });
      return;
    }
    closed_ = true;
    calls_cv_.wait(lock, [&] { return active_calls_ == 0; });
    const uint64_t target = enqueued_seq_;
    if (!done_cv_.wait_for(lock, options_.close_timeout, [&] { return done_seq_ >= target; })) {
      give_up_ = true;  // the sender counts what is left as lost
      if (current_put_) current_put_->TryCancel();
    }
    sender_stop_ = true;
    queue_cv_.notify_all();
    probe_stop_ = true;
    if (probe_context_) probe_context_->TryCancel();
    probe_cv_.notify_all();
    lock.unlock();
    sender_.join();
    if (prober_.joinable()) prober_.join();
    lock.lock();
    close_done_ = true;
    done_cv_.notify_all();
  }

  bool ready() const override {
    std::lock_guard lock(mu_);
    return !closed_ && transport_ok_ && server_ready_;
  }

  StoreStats stats() const override {
    std::lock_guard lock(mu_);
    return stats_;
  }

 private:
  // Counts a call in progress for close(); throws StoreError "closed" once close() began.
  class CallGuard {
   public:
    explicit CallGuard(GrpcRequestStore& store) : store_(store) {
      std::lock_guard lock(store_.mu_);
      if (store_.closed_) throw StoreError(store_.where() + ": closed");
      ++store_.active_calls_;
    }
    ~CallGuard() {
      std::lock_guard lock(store_.mu_);
      if (--store_.active_calls_ == 0) store_.calls_cv_.notify_all();
    }
    CallGuard(const CallGuard&) = delete;
    CallGuard& operator=(const CallGuard&) = delete;

   private:
    GrpcRequestStore& store_;
  };

  std::string where() const { return "gRPC request store at " + options_.address; }

  void set_deadline(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
  }

  // An RPC failed: not ready until one succeeds, and the caller gets the reason.
  [[noreturn]] void fail(const std::string& what) {
    transport_ok_ = false;
    throw StoreError(where() + ": " + what);
  }

  // The pending record that may still be written to, or nullptr (unknown or finished
  // id: the write is dropped). Called with mu_ held.
  Pending* writable(std::string_view id) {
    auto it = pending_.find(std::string(id));
    if (it == pending_.end() || it->second.finished) return nullptr;
    return &it->second;
  }

  // Called with mu_ held.
  void too_large(const std::string& what) {
    ++stats_.too_large;
    stats_.last_dropped = what + ": the record would be larger than the store's limit of " +
                          std::to_string(record_limit_) + " bytes";
  }

  static RequestRecord to_record(const Pending& p) {
    RequestRecord r;
    r.id = p.request.id;
    r.body = p.request.body;
    r.headers = p.request.headers;
    r.accepted_at = p.request.accepted_at;
    r.results = p.results;
    r.path = p.path;
    if (p.finished) {
      r.status = p.outcome == Outcome::kFailed ? RequestStatus::kFailed : RequestStatus::kCompleted;
      r.error = p.error;
      r.finished_at = p.finished_at;
    }
    return r;
  }

  [[noreturn]] void unreadable(const std::string& id, std::string_view origin) const {
    throw StoreError(where() + ": the record of request " + id + " holds an unreadable " +
                     std::string(origin) + " payload");
  }

  // The record from what the server holds (see the header for the encoding).
  RequestRecord parse(std::string id, const pb::GetResponse& got) const {
    const auto& payloads = got.payloads();
    int start = 0;
    bool ours = false;
    for (int i = payloads.size() - 1; i >= 0; --i) {
      if (payloads[i].origin() == kRequestOrigin) {
        start = i;
        ours = true;
        break;
      }
    }
    RequestRecord r;
    r.id = std::move(id);
    // Another producer's record (e.g. a Numaflow sink's results) has no request and no
    // outcome: what is there is all there will be.
    r.status = ours ? RequestStatus::kInProgress : RequestStatus::kCompleted;
    if (ours) {
      rec::StoredRequest stored;
      if (!stored.ParseFromString(payloads[start].value())) unreadable(r.id, kRequestOrigin);
      r.body = stored.body();
      for (const rec::Header& h : stored.headers()) r.headers.emplace_back(h.name(), h.value());
      r.accepted_at = from_us(stored.accepted_at_us());
      ++start;
    }
    bool outcome_seen = false;
    for (int i = start; i < payloads.size(); ++i) {
      const pb::Payload& p = payloads[i];
      const std::string& origin = p.origin();
      if (!origin.starts_with(kSluicePrefix)) {
        r.results.push_back(Result{origin, p.value()});
      } else if (origin == kStepOrigin) {
        rec::StoredStep step;
        if (!step.ParseFromString(p.value())) unreadable(r.id, origin);
        r.path.push_back(Step{step.stage(), from_us(step.start_us()), from_us(step.end_us())});
      } else if (origin == kOutcomeOrigin && !outcome_seen) {  // the first outcome wins
        rec::StoredOutcome out;
        if (!out.ParseFromString(p.value())) unreadable(r.id, origin);
        outcome_seen = true;
        if (out.status() == rec::StoredOutcome::FAILED) {
          r.status = RequestStatus::kFailed;
          r.error = out.error();
        } else {
          r.status = RequestStatus::kCompleted;
        }
        r.finished_at = from_us(out.finished_at_us());
      }
      // Other "sluice:" kinds come from newer writers: skipped.
    }
    return r;
  }

  // Sends the queued completion Puts one after the other, in call order.
  void sender_loop() {
    const int attempts = std::max(1, options_.put_attempts);
    std::unique_lock lock(mu_);
    for (;;) {
      queue_cv_.wait(lock, [&] { return !queue_.empty() || sender_stop_; });
      if (queue_.empty()) return;  // stopping, and nothing left
      // Stays at the front (references into a deque survive push_back) until done, so
      // close() can tell what is in flight.
      PutJob& job = queue_.front();
      bool ok = false;
      std::string failure = "the store was closed before it was sent";
      std::chrono::milliseconds backoff = options_.retry_backoff;
      for (int attempt = 0; attempt < attempts && !give_up_; ++attempt) {
        if (attempt > 0) {
          if (queue_cv_.wait_for(lock, backoff, [&] { return give_up_; })) break;
          backoff *= 2;
        }
        grpc::ClientContext context;
        set_deadline(context);
        current_put_ = &context;
        lock.unlock();
        pb::PutResponse response;
        grpc::Status status = stub_->Put(&context, job.put, &response);
        lock.lock();
        current_put_ = nullptr;
        if (status.ok() && response.success()) {
          ok = true;
          break;
        }
        transport_ok_ = false;
        failure = status.ok() ? "the server answered success=false" : describe(status);
      }
      if (ok) {
        transport_ok_ = true;
        ++stats_.transactions;
        stats_.writes += job.operations;
      } else {
        ++stats_.lost_writes;
        // Before the job counts as done, so a flush() that returned saw it reported.
        if (options_.on_lost_write) {
          lock.unlock();
          options_.on_lost_write(job.id, where() + ": completion Put of request " + job.id +
                                             " given up: " + failure);
          lock.lock();
        }
      }
      pending_.erase(job.id);  // stored (or lost): get() asks the server from now on
      done_seq_ = job.seq;
      queue_.pop_front();
      done_cv_.notify_all();
    }
  }

  // Asks the server IsReady now and every probe_interval until close().
  void probe_loop() {
    std::unique_lock lock(mu_);
    while (!probe_stop_) {
      grpc::ClientContext context;
      set_deadline(context);
      probe_context_ = &context;
      lock.unlock();
      pb::ReadyResponse response;
      grpc::Status status = stub_->IsReady(&context, google::protobuf::Empty(), &response);
      lock.lock();
      probe_context_ = nullptr;
      if (status.ok()) {
        transport_ok_ = true;
        server_ready_ = response.ready();
      } else {
        transport_ok_ = false;
        // The server is unreachable: the next probe tries to connect at once instead of
        // after the channel's reconnect backoff, so a server that is back is found within
        // one probe_interval.
        grpc::experimental::ChannelResetConnectionBackoff(channel_.get());
      }
      probe_cv_.wait_for(lock, options_.probe_interval, [&] { return probe_stop_; });
    }
  }

  const GrpcStoreOptions options_;
  const size_t record_limit_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::ServingStore::Stub> stub_;  // thread-safe: shared by every call

  mutable std::mutex mu_;  // guards everything below
  std::unordered_map<std::string, Pending> pending_;
  std::unordered_set<std::string> accepting_;  // ids whose accept is between its RPCs
  std::condition_variable accept_cv_;
  uint64_t accept_order_ = 0;
  std::deque<PutJob> queue_;           // completion Puts; the front is being sent
  std::condition_variable queue_cv_;   // wakes the sender (work, give up, stop)
  uint64_t enqueued_seq_ = 0;          // the last PutJob::seq queued
  uint64_t done_seq_ = 0;              // the last one sent or given up
  std::condition_variable done_cv_;    // done_seq_ moved, or close finished
  grpc::ClientContext* current_put_ = nullptr;    // the sender's RPC, for close to cancel
  grpc::ClientContext* probe_context_ = nullptr;  // the prober's RPC, likewise
  std::condition_variable probe_cv_;
  // ready() = not closed, the last RPC succeeded, the server's last IsReady said yes.
  // Atomic: set by callers without mu_ (after their RPCs), read under it.
  std::atomic<bool> transport_ok_{true};
  std::atomic<bool> server_ready_;
  StoreStats stats_;
  bool closed_ = false;
  bool close_done_ = false;
  size_t active_calls_ = 0;
  std::condition_variable calls_cv_;
  bool give_up_ = false;
  bool sender_stop_ = false;
  bool probe_stop_ = false;
  std::thread sender_;
  std::thread prober_;
};

}  // namespace

std::unique_ptr<RequestStore> open_grpc_request_store(const GrpcStoreOptions& options) {
  if (options.address.empty()) throw StoreError("gRPC request store: no address given");
  if (options.max_message_bytes < kMinMessageBytes ||
      options.max_message_bytes > static_cast<size_t>(INT32_MAX))
    throw StoreError("gRPC request store at " + options.address + ": max_message_bytes " +
                     std::to_string(options.max_message_bytes) + " is outside 1 MiB..2 GiB");
  if (options.rpc_timeout.count() <= 0)
    throw StoreError("gRPC request store at " + options.address + ": rpc_timeout must be positive");
  return std::make_unique<GrpcRequestStore>(options);
}

}  // namespace sluice::store
