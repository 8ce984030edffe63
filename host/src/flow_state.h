// The shared state of a running flow (internal to the runtime): per stage its input
// queues, its routes to other stages and its metrics; for the flow the control flags,
// the first failure and the start gate. Workers (stage_worker.h) hold references into
// it; FlowRuntime owns it and outlives every worker thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sluice/host/batch_queue.h"
#include "sluice/host/flow_metrics.h"
#include "sluice/host/flow_plan.h"
#include "sluice/host/flow_runtime.h"
#include "sluice/host/message_batch.h"
#include "sluice/host/plugin_instance.h"
#include "sluice/host/request_observer.h"
#include "sluice/host/side_input_registry.h"

namespace sluice::host {

struct StageRuntime;
class StageWorker;

using Clock = std::chrono::steady_clock;

// One way out of a stage: an edge (with its condition) or the fallback route.
struct Route {
  const EdgePlan* edge = nullptr;  // null for the fallback route
  StageRuntime* target = nullptr;
  EdgeMetrics* metrics = nullptr;  // null for the fallback route
};

struct StageRuntime {
  const StagePlan* plan = nullptr;
  int index = 0;
  // Input lanes: one queue shared by every worker, or one per worker when the stage is
  // ordered (keys hash to a lane). Empty for sources.
  std::vector<std::unique_ptr<BatchQueue>> lanes;
  std::vector<Route> routes;        // in plan.out_edges order
  std::optional<Route> fallback;    // onError fallback
  StageMetrics* metrics = nullptr;
  // A thread-safe type has one instance for all workers, created and destroyed by the
  // runtime's own thread; otherwise each worker owns one (created on its thread).
  std::unique_ptr<PluginInstance> shared_instance;
  std::atomic<int> workers_left{0};  // the last worker out of a shared instance finishes it

  // Which input lane messages with these keys go to.
  BatchQueue& lane_for_hash(uint64_t hash) { return *lanes[lanes.size() == 1 ? 0 : hash % lanes.size()]; }
};

struct FlowRuntime::State {
  explicit State(const FlowPlan& p);
  ~State();  // defined where StageWorker is complete

  FlowPlan plan;
  BatchPool pool;
  FlowMetrics metrics;
  std::vector<std::unique_ptr<StageRuntime>> stages;
  std::vector<std::unique_ptr<StageWorker>> workers;
  std::vector<std::thread> threads;
  Clock::time_point started_at = Clock::now();
  // Told about results, paths and failures of messages (set before start; null when
  // the flow serves no requests).
  RequestObserver* observer = nullptr;
  // Where stages that read side inputs read them (set before start; null when the flow
  // declares none).
  const SideInputRegistry* side_inputs = nullptr;

  std::atomic<bool> stop_requested{false};  // sources stop; the rest drains
  std::atomic<bool> forced{false};          // abandon queues; stop at once

  std::mutex mutex;                 // guards everything below
  std::condition_variable changed;  // any of it changed
  FlowResult result;
  bool failed = false;
  int running = 0;                  // worker threads still running
  int created = 0;                  // workers whose instance exists (start gate)
  bool go = false;                  // every instance was created: start processing
  std::optional<Clock::time_point> stop_deadline;
  std::optional<Clock::time_point> forced_at;  // when abandon() ran
  bool stuck = false;               // a worker did not return within kStuckLimit of it

  // Records the first failure and stops the flow at once (queues abandoned).
  void fail(const std::string& stage, const std::string& error, bool config_error = false);
  // Abandons every queue and wakes every waiting worker.
  void abandon();
  // Sleeps until `until`, returning early (false) when the flow is forced to stop, or
  // with wake_on_stop when a graceful stop is requested.
  bool sleep_until(Clock::time_point until, bool wake_on_stop = false);
};

}  // namespace sluice::host
