// SideInputManager: per side input a scheduler thread (when to retrieve, timeouts,
// backoff) and a retriever thread (owns the plugin instance, makes the calls). Two
// threads, because a plugin call cannot be interrupted: the scheduler must be able to
// give up waiting for one without the instance being touched by another thread.
#include "sluice/host/side_input_manager.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "sluice/host/call_context.h"
#include "sluice/host/log.h"
#include "sluice/host/plugin_instance.h"

namespace sluice::host {
namespace {

using SystemClock = std::chrono::system_clock;
using SteadyClock = std::chrono::steady_clock;

// What one retriever call produced: every emitted value is kept so the caller can
// refuse more than one.
class RetrieverSink final : public CallSink {
 public:
  void on_emit(size_t, const sluice_output& out) override {
    ++outputs;
    value.assign(reinterpret_cast<const char*>(out.value.data), out.value.size);
  }
  void on_respond(size_t, sluice_bytes) override {}
  void on_outcome(size_t, sluice_outcome, std::string_view) override {}
  size_t outputs = 0;
  std::string value;
};

std::string ms_text(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

}  // namespace

struct SideInputManager::Entry {
  Entry(const SideInputPlan& p, const FlowPlan& f, SideInputRegistry& r, store::SideInputStore* s)
      : plan(p), flow(f), registry(r), store(s), who("side input " + p.name) {}

  const SideInputPlan& plan;
  const FlowPlan& flow;
  SideInputRegistry& registry;
  store::SideInputStore* store;
  const std::string who;  // for log lines

  // The answer of one call, handed from the retriever thread to the scheduler.
  struct Answer {
    bool ok = false;
    bool has_value = false;
    std::string value;
    std::string error;
  };

  std::mutex mutex;                // guards everything below
  std::condition_variable changed;  // any of it changed
  bool stopping = false;
  bool refresh_requested = false;
  uint64_t call_seq = 0;       // calls asked of the retriever thread
  uint64_t answered_seq = 0;   // calls it answered
  bool call_running = false;
  // The last value could not be stored: make a new retriever instance before the next
  // call, so one that remembers what it sent (an ETag, a file's mtime) does not answer
  // "no change" to a value that never became current.
  bool recreate_instance = false;
  Answer answer;               // of call answered_seq
  Status status;               // counters and last error (value fields filled by list())
  std::optional<SystemClock::time_point> next;

  std::mutex value_mutex;  // one store-and-publish at a time: versions publish in order

  std::thread scheduler, retriever;

  // The thread bodies: the loops below, with nothing let out of the thread.
  void run_retriever();
  void run_scheduler();
  void retriever_loop();
  void scheduler_loop();
  // Stores and publishes `bytes` (unless they are the current version's); returns the
  // version now current and whether it is new. Throws store::StoreError.
  std::pair<uint64_t, bool> apply(std::string bytes, SystemClock::time_point at);
  std::chrono::milliseconds backoff(uint32_t failures) const;
};

std::chrono::milliseconds SideInputManager::Entry::backoff(uint32_t failures) const {
  const double ms = static_cast<double>(plan.retry_initial.count()) *
                    std::pow(plan.retry_factor, static_cast<double>(std::min<uint32_t>(failures, 60)));
  return std::chrono::milliseconds(
      static_cast<int64_t>(std::min(ms, static_cast<double>(plan.retry_cap.count()))));
}

std::pair<uint64_t, bool> SideInputManager::Entry::apply(std::string bytes, SystemClock::time_point at) {
  std::lock_guard<std::mutex> lock(value_mutex);
  SideInputPtr current = registry.current(plan.name);
  uint64_t version;
  bool is_new;
  if (store) {
    const store::SideInputPut put = store->put(plan.name, bytes, at);
    version = put.version;
    is_new = put.is_new;
    if (current && current->version == version) return {version, is_new};
    // The registry lacks what the store has (load_stored was not called): publish the
    // stored version, with the time it was first stored.
    if (!put.is_new)
      if (auto stored = store->latest(plan.name)) at = stored->updated_at;
  } else {
    if (current && current->bytes == bytes) return {current->version, false};
    version = current ? current->version + 1 : 1;
    is_new = true;
  }
  registry.publish(std::make_shared<SideInputValue>(SideInputValue{plan.name, version, std::move(bytes), at}));
  return {version, is_new};
}

void SideInputManager::Entry::run_retriever() {
  try {
    retriever_loop();
  } catch (const std::exception& e) {
    // Out of memory or the like: this side input stops being retrieved (its value
    // stays); the process goes on.
    log(LogLevel::kError, who, std::string("retriever thread ended: ") + e.what());
    std::lock_guard<std::mutex> lock(mutex);
    call_running = false;
    changed.notify_all();
  }
}

void SideInputManager::Entry::run_scheduler() {
  try {
    scheduler_loop();
  } catch (const std::exception& e) {
    log(LogLevel::kError, who, std::string("scheduler thread ended: ") + e.what());
  }
}

InstanceSpec retriever_instance_spec(const SideInputPlan& side_input, const FlowPlan& flow) {
  InstanceSpec spec;
  spec.kind = SLUICE_KIND_SIDE_INPUT;
  spec.stage_name = side_input.name;
  spec.config_json = side_input.config_json;
  spec.flow_dir = flow.dir.string();
  spec.worker_index = 0;
  spec.worker_count = 1;
  spec.flow_mode = flow.mode == FlowMode::kStreaming ? SLUICE_FLOW_STREAMING : SLUICE_FLOW_JOB;
  return spec;
}

void SideInputManager::Entry::retriever_loop() {
  std::unique_ptr<PluginInstance> instance;
  const InstanceSpec spec = retriever_instance_spec(plan, flow);

  std::unique_lock<std::mutex> lock(mutex);
  for (;;) {
    changed.wait(lock, [&] { return stopping || call_seq > answered_seq; });
    if (stopping) break;
    const uint64_t seq = call_seq;
    call_running = true;
    const bool recreate = recreate_instance;
    recreate_instance = false;
    lock.unlock();
    if (recreate) instance.reset();

    Answer a;
    RetrieverSink sink;
    sluice_ctx ctx(SLUICE_KIND_SIDE_INPUT, who, &sink);
    if (!instance) {
      // Created on first use, and again after a failed create: a retriever whose
      // config points at something not there yet recovers once it is.
      sluice_status s = SLUICE_OK;
      std::string error;
      instance = PluginInstance::create(plan.type, spec, &ctx, &s, &error);
      if (!instance) a.error = "create failed: " + error;
    }
    if (instance) {
      sluice_batch batch{};
      batch.struct_size = sizeof(batch);
      batch.watermark = SLUICE_TIME_UNSET;
      batch.window_start = batch.window_end = SLUICE_TIME_UNSET;
      const sluice_status s = instance->process(&ctx, batch);
      if (s != SLUICE_OK) {
        a.error = std::string(status_name(s)) + ": " + ctx.error;
      } else if (sink.outputs > 1) {
        a.error = "the retriever emitted " + std::to_string(sink.outputs) +
                  " outputs; a retriever emits one value, or nothing for \"no change\"";
      } else {
        a.ok = true;
        a.has_value = sink.outputs == 1;
        a.value = std::move(sink.value);
      }
    }

    lock.lock();
    answer = std::move(a);
    answered_seq = seq;
    call_running = false;
    changed.notify_all();
  }
  lock.unlock();
  instance.reset();  // destroyed on the thread that created it
}

void SideInputManager::Entry::scheduler_loop() {
  uint32_t failures = 0;
  std::unique_lock<std::mutex> lock(mutex);
  next = SystemClock::now();  // the first retrieval, at start
  for (;;) {
    // Wait for the next firing or a refresh request. System time, because schedules
    // are wall-clock; re-checked every second so a clock step is noticed.
    while (!stopping && !refresh_requested && (!next || SystemClock::now() < *next)) {
      auto wait = std::chrono::milliseconds(1000);
      if (next)
        wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(*next - SystemClock::now()));
      changed.wait_for(lock, std::max(wait, std::chrono::milliseconds(1)));
    }
    if (stopping) break;
    refresh_requested = false;
    // A call that timed out earlier may still run: retrievals never overlap.
    changed.wait(lock, [&] { return stopping || !call_running; });
    if (stopping) break;
    const uint64_t seq = ++call_seq;
    changed.notify_all();
    ++status.retrievals;
    const bool answered = changed.wait_until(lock, SteadyClock::now() + plan.timeout,
                                             [&] { return stopping || answered_seq >= seq; });
    if (stopping) break;

    std::string error;
    if (!answered) {
      ++status.timed_out;
      error = "timed out after " + ms_text(plan.timeout) + " (timeout); its answer will be discarded";
    } else if (!answer.ok) {
      error = answer.error;
    } else if (!answer.has_value) {
      ++status.unchanged;
    } else {
      std::string value = std::move(answer.value);
      lock.unlock();
      try {
        const auto [version, is_new] = apply(std::move(value), SystemClock::now());
        lock.lock();
        ++(is_new ? status.changed : status.unchanged);
        if (is_new) log(LogLevel::kInfo, who, "version " + std::to_string(version));
      } catch (const std::exception& e) {
        lock.lock();
        error = std::string("storing the value failed: ") + e.what();
        recreate_instance = true;
      }
    }

    if (error.empty()) {
      if (failures > 0) log(LogLevel::kInfo, who, "retrieval succeeded again after " +
                                                  std::to_string(failures) + " failure(s)");
      failures = 0;
      status.last_error.clear();
      registry.set_last_error(plan.name, "");
      next.reset();
      if (plan.trigger) {
        const auto t = plan.trigger->next_after(SystemClock::now());
        if (t != Schedule::kNever) next = t;
      }
    } else {
      ++status.failed;
      status.last_error = error;
      registry.set_last_error(plan.name, error);
      const auto wait = backoff(failures++);
      log(LogLevel::kWarn, who,
          "retrieval failed (" + std::string(registry.current(plan.name) ? "the old value stays" : "no value yet") +
              "; retrying in " + ms_text(wait) + "): " + error);
      next = SystemClock::now() + wait;
      // A scheduled firing before the retry comes first.
      if (plan.trigger) {
        const auto t = plan.trigger->next_after(SystemClock::now());
        if (t < *next) next = t;
      }
    }
  }
}

SideInputManager::SideInputManager(const FlowPlan& plan, SideInputRegistry& registry,
                                   store::SideInputStore* store)
    : plan_(plan), registry_(registry), store_(store) {
  for (const SideInputPlan& p : plan.side_inputs)
    entries_.push_back(std::make_unique<Entry>(p, plan, registry, store));
}

SideInputManager::~SideInputManager() { stop(); }

void SideInputManager::load_stored() {
  if (!store_) return;
  for (auto& e : entries_) {
    std::optional<store::SideInputValue> v = store_->latest(e->plan.name);
    if (!v) continue;
    registry_.publish(std::make_shared<SideInputValue>(
        SideInputValue{v->name, v->version, std::move(v->value), v->updated_at}));
    log(LogLevel::kInfo, e->who, "version " + std::to_string(v->version) + " from the store");
  }
}

void SideInputManager::start() {
  if (started_) return;
  started_ = true;
  for (auto& e : entries_) {
    Entry* entry = e.get();
    if (entry->plan.type_name.empty()) continue;  // set by a side-input sink only
    entry->retriever = std::thread([entry] { entry->run_retriever(); });
    entry->scheduler = std::thread([entry] { entry->run_scheduler(); });
  }
}

void SideInputManager::stop(std::chrono::milliseconds stuck_limit) {
  for (auto& e : entries_) {
    if (!e) continue;  // left to a stuck call by an earlier stop()
    std::lock_guard<std::mutex> lock(e->mutex);
    e->stopping = true;
    e->changed.notify_all();
  }
  const auto deadline = SteadyClock::now() + stuck_limit;
  for (auto& e : entries_) {
    if (!e) continue;
    if (e->scheduler.joinable()) e->scheduler.join();
    if (!e->retriever.joinable()) continue;
    // A call in progress is waited for (the instance is destroyed by its own thread),
    // but not for ever: a plugin call cannot be interrupted.
    bool idle;
    {
      std::unique_lock<std::mutex> lock(e->mutex);
      idle = e->changed.wait_until(lock, deadline, [&] { return !e->call_running; });
    }
    if (idle) {
      e->retriever.join();
      continue;
    }
    log(LogLevel::kError, e->who,
        "the retriever's call did not return within " + ms_text(stuck_limit) + " of the stop");
    e->retriever.detach();
    (void)e.release();  // the detached thread still uses it
    stuck_ = true;
  }
}

SideInputManager::Refresh SideInputManager::refresh(std::string_view name) {
  for (auto& e : entries_) {
    if (!e || e->plan.name != name) continue;
    if (e->plan.type_name.empty()) return Refresh::kNoRetriever;
    std::lock_guard<std::mutex> lock(e->mutex);
    e->refresh_requested = true;
    e->changed.notify_all();
    return Refresh::kRequested;
  }
  return Refresh::kNoSuchSideInput;
}

uint64_t SideInputManager::set(std::string_view name, std::string bytes) {
  for (auto& e : entries_) {
    if (!e || e->plan.name != name) continue;
    const auto [version, is_new] = e->apply(std::move(bytes), SystemClock::now());
    std::lock_guard<std::mutex> lock(e->mutex);
    ++e->status.sets;
    if (is_new) log(LogLevel::kInfo, e->who, "version " + std::to_string(version) + " (set)");
    return version;
  }
  throw std::invalid_argument("no side input is named '" + std::string(name) + "'");
}

std::vector<SideInputManager::Status> SideInputManager::list() const {
  std::vector<Status> out;
  for (const auto& e : entries_) {
    if (!e) continue;
    Status s;
    {
      std::lock_guard<std::mutex> lock(e->mutex);
      s = e->status;
      s.next_retrieval = e->next;
    }
    s.name = e->plan.name;
    s.retriever = e->plan.type_name;
    s.trigger = e->plan.trigger ? e->plan.trigger->describe() : "";
    if (SideInputPtr v = registry_.current(e->plan.name)) {
      s.version = v->version;
      s.size = v->bytes.size();
      s.updated_at = v->updated_at;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace sluice::host
