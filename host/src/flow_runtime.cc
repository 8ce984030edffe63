#include "sluice/host/flow_runtime.h"

#include <algorithm>

#include "flow_state.h"
#include "sluice/host/log.h"
#include "stage_worker.h"

namespace sluice::host {

// ---------------------------------------------------------------------------------
// State

FlowRuntime::State::State(const FlowPlan& p) : plan(p), metrics(p.name) {}
FlowRuntime::State::~State() = default;

void FlowRuntime::State::fail(const std::string& stage, const std::string& error,
                              bool config_error) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    // After a forced stop, errors are consequences of the stop (abandoned queues,
    // interrupted calls), not failures of the flow: the stop's outcome stands.
    if (failed || forced.load()) return;
    failed = true;
    result.outcome = config_error ? FlowResult::Outcome::kConfigError : FlowResult::Outcome::kFailed;
    result.failed_stage = stage;
    result.error = error;
  }
  // The caller (sluice run) prints the failure once, with the exit code's meaning.
  log(LogLevel::kDebug, stage, "failing the flow: " + error);
  abandon();
}

void FlowRuntime::State::abandon() {
  forced.store(true);
  for (auto& stage : stages)
    for (auto& lane : stage->lanes) lane->abort();
  for (auto& worker : workers) worker->interrupt();
  std::lock_guard<std::mutex> lock(mutex);
  if (!forced_at) forced_at = Clock::now();
  changed.notify_all();
}

bool FlowRuntime::State::sleep_until(Clock::time_point until, bool wake_on_stop) {
  auto interrupted = [&] { return forced.load() || (wake_on_stop && stop_requested.load()); };
  std::unique_lock<std::mutex> lock(mutex);
  changed.wait_until(lock, until, interrupted);
  return !interrupted();
}

// ---------------------------------------------------------------------------------
// Setup

namespace {

uint64_t lanes_depth(const StageRuntime& s) {
  uint64_t n = 0;
  for (const auto& lane : s.lanes) n += lane->depth();
  return n;
}

}  // namespace

FlowRuntime::FlowRuntime(const FlowPlan& plan) : state_(std::make_unique<State>(plan)) {
  State& s = *state_;
  for (size_t i = 0; i < s.plan.stages.size(); ++i) {
    const StagePlan& sp = s.plan.stages[i];
    auto st = std::make_unique<StageRuntime>();
    st->plan = &sp;
    st->index = static_cast<int>(i);
    st->metrics = &s.metrics.add_stage(sp.name, kind_word(sp.kind));
    s.stages.push_back(std::move(st));
  }
  // Input queues: the capacity of a stage's input is the sum of its incoming edges'
  // (a fallback route counts as one default edge), split over its lanes.
  for (size_t i = 0; i < s.plan.stages.size(); ++i) {
    const StagePlan& sp = s.plan.stages[i];
    StageRuntime& st = *s.stages[i];
    if (sp.kind == SLUICE_KIND_SOURCE) continue;
    uint64_t capacity = 0;
    for (int e : sp.in_edges) capacity += s.plan.edges[e].capacity;
    for (const StagePlan& other : s.plan.stages)
      if (other.on_error.fallback_stage == static_cast<int>(i)) capacity += kDefaultCapacity;
    const size_t lanes = sp.ordered ? sp.threads : 1;
    const size_t per_lane = std::max<uint64_t>(capacity / lanes, sp.batch);
    for (size_t l = 0; l < lanes; ++l) st.lanes.push_back(std::make_unique<BatchQueue>(per_lane));
    st.metrics->queue_depth = [&st] { return lanes_depth(st); };
    st.metrics->queue_capacity = [&st] {
      uint64_t c = 0;
      for (const auto& lane : st.lanes) c += lane->capacity();
      return c;
    };
  }
  for (size_t i = 0; i < s.plan.stages.size(); ++i) {
    const StagePlan& sp = s.plan.stages[i];
    StageRuntime& st = *s.stages[i];
    for (int e : sp.out_edges) {
      const EdgePlan& ep = s.plan.edges[e];
      st.routes.push_back({&ep, s.stages[ep.to].get(),
                           &s.metrics.add_edge(sp.name, s.plan.stages[ep.to].name)});
    }
    if (sp.on_error.fallback_stage >= 0)
      st.fallback = Route{nullptr, s.stages[sp.on_error.fallback_stage].get(), nullptr};
  }
  for (auto& st : s.stages)
    for (uint32_t w = 0; w < st->plan->threads; ++w)
      s.workers.push_back(std::make_unique<StageWorker>(s, *st, w));
}

FlowRuntime::~FlowRuntime() {
  State& s = *state_;
  bool running;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    running = s.running > 0;
  }
  if (running) {
    force_stop();
    wait();
  }
  if (s.stuck) {
    // A worker is still inside a plugin call: its thread, its queues and the plugin's
    // library must stay as they are. Leak them rather than free memory under it.
    for (std::thread& t : s.threads)
      if (t.joinable()) t.detach();
    (void)state_.release();
    return;
  }
  for (std::thread& t : s.threads)
    if (t.joinable()) t.join();
  // Members go in reverse order: workers (and their emitters), then stages with their
  // queues and shared instances, then the pool. Plugin libraries are held by the plan's
  // type refs and by the caller's registry, so they outlive all of it.
}

void FlowRuntime::set_request_observer(RequestObserver* observer) { state_->observer = observer; }
void FlowRuntime::set_side_inputs(const SideInputRegistry* registry) { state_->side_inputs = registry; }

bool FlowRuntime::start() {
  State& s = *state_;
  // One instance for every worker of a thread-safe type, created here.
  for (auto& st : s.stages) {
    const StagePlan& sp = *st->plan;
    st->workers_left = static_cast<int>(sp.threads);
    if (!sp.type.type->thread_safe()) continue;
    InstanceSpec spec;
    spec.kind = sp.kind;
    spec.stage_name = sp.name;
    spec.config_json = sp.config_json;
    spec.flow_dir = s.plan.dir.string();
    spec.flow_mode = s.plan.mode == FlowMode::kStreaming ? SLUICE_FLOW_STREAMING : SLUICE_FLOW_JOB;
    sluice_ctx ctx(sp.kind, sp.name, nullptr);
    sluice_status status = SLUICE_OK;
    std::string error;
    st->shared_instance = PluginInstance::create(sp.type, spec, &ctx, &status, &error);
    if (!st->shared_instance) {
      s.fail(sp.name, error, status == SLUICE_ERROR_CONFIG);
      return false;
    }
  }
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.running = static_cast<int>(s.workers.size());
  }
  for (auto& w : s.workers) {
    StageWorker* worker = w.get();
    try {
      s.threads.emplace_back([worker] { worker->run(); });
    } catch (const std::system_error& e) {
      // Out of threads or memory: fail before anything moved (releasing the workers
      // already waiting at the start gate), counting only the threads that exist.
      {
        std::lock_guard<std::mutex> lock(s.mutex);
        s.running = static_cast<int>(s.threads.size());
      }
      s.fail(worker->stage().plan->name,
             std::string("cannot start a worker thread (") + e.what() +
                 "); lower threads: or raise the process limits",
             /*config_error=*/true);
      return false;
    }
  }
  std::unique_lock<std::mutex> lock(s.mutex);
  s.changed.wait(lock, [&] { return s.created == static_cast<int>(s.workers.size()) || s.failed; });
  if (s.failed) return false;
  s.go = true;
  s.started_at = Clock::now();
  s.changed.notify_all();
  return true;
}

// ---------------------------------------------------------------------------------
// Running and stopping

namespace {

std::vector<FlowResult::Leftover> leftovers_of(FlowRuntime::State& s) {
  std::vector<FlowResult::Leftover> out;
  for (auto& st : s.stages) {
    FlowResult::Leftover l;
    l.stage = st->plan->name;
    l.queued = lanes_depth(*st);
    l.in_progress = static_cast<uint64_t>(
        std::max<int64_t>(0, st->metrics->in_progress.load(std::memory_order_relaxed)));
    for (auto& w : s.workers)
      if (&w->stage() == st.get()) l.unacked += static_cast<uint64_t>(w->unacked());
    if (l.queued || l.in_progress || l.unacked) out.push_back(l);
  }
  return out;
}

}  // namespace

void FlowRuntime::request_stop() {
  State& s = *state_;
  if (s.stop_requested.exchange(true)) return;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.stop_deadline = Clock::now() + s.plan.grace_period;
  s.changed.notify_all();
}

void FlowRuntime::force_stop() {
  State& s = *state_;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.failed && s.result.outcome == FlowResult::Outcome::kCompleted) {
      s.result.leftovers = leftovers_of(s);
      if (!s.result.leftovers.empty()) s.result.outcome = FlowResult::Outcome::kUndrained;
    }
  }
  s.abandon();
}

void FlowRuntime::wait(const std::function<void()>& tick, std::chrono::milliseconds tick_interval) {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mutex);
  while (s.running > 0) {
    Clock::time_point wake = Clock::now() + tick_interval;
    if (s.forced_at) {
      // After a forced stop every worker returns once its current plugin call does.
      // One that does not within kStuckLimit is stuck in plugin code: give up on it.
      if (Clock::now() >= *s.forced_at + kStuckLimit) {
        s.stuck = true;
        log(LogLevel::kError, s.plan.name,
            "a plugin call did not return within " +
                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kStuckLimit).count()) +
                " s of the forced stop");
        return;
      }
      wake = std::min(wake, *s.forced_at + kStuckLimit);
    }
    if (s.stop_deadline && !s.forced.load()) {
      if (Clock::now() >= *s.stop_deadline) {
        lock.unlock();
        log(LogLevel::kWarn, s.plan.name, "the grace period ended before the flow drained");
        force_stop();
        lock.lock();
        continue;
      }
      wake = std::min(wake, *s.stop_deadline);
    }
    s.changed.wait_until(lock, wake);
    if (tick) {
      lock.unlock();
      tick();
      lock.lock();
    }
  }
  // Drained, but source messages that reduce windows let go at the stop were never
  // acknowledged (they are abandoned, not outstanding): say so, as for a forced stop.
  if (!s.failed && s.result.outcome == FlowResult::Outcome::kCompleted) {
    s.result.leftovers = leftovers_of(s);
    if (!s.result.leftovers.empty()) s.result.outcome = FlowResult::Outcome::kUndrained;
  }
  lock.unlock();
  for (std::thread& t : s.threads)
    if (t.joinable()) t.join();
}

const FlowResult& FlowRuntime::result() const { return state_->result; }
bool FlowRuntime::stuck() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->stuck;
}
FlowMetrics& FlowRuntime::metrics() { return state_->metrics; }
std::chrono::steady_clock::duration FlowRuntime::elapsed() const {
  return Clock::now() - state_->started_at;
}

}  // namespace sluice::host
