// Runs a bound FlowPlan: one thread per stage worker, bounded batch queues between
// stages, lineage tracking for sources that acknowledge, error policies, graceful and
// forced stop.
//
// Lifecycle (all on the thread that owns the FlowRuntime, except request_stop and
// force_stop, which any thread may call, e.g. a signal-handling thread):
//   FlowRuntime rt(plan);      // plan bound to plugin types (bind_plugins)
//   rt.start();                // creates every instance on its worker thread; when all
//                              // succeeded, sources begin. Failure: result() says why.
//   rt.wait();                 // until the flow completes, fails or is stopped
//   rt.result();
// The destructor joins every thread and destroys every instance; the plugin libraries
// (held by the plan's type refs and the registry) outlive it, so nothing is unloaded
// while a thread or queue could still reach plugin code.
//
// How a flow ends:
//   - every source returned END (or was stopped) and everything drained: kCompleted;
//   - a stage failed (FATAL status, `then: fail` after retries, a create error):
//     the flow stops at once, kFailed, with the stage and its error;
//   - request_stop(): sources stop, queues drain within the plan's grace period;
//     kCompleted if everything drained, else kUndrained with what was left per stage;
//   - force_stop() (a second signal): queues are abandoned: kUndrained.
//   - after a forced stop (or a failure), every worker returns when its current plugin
//     call does; one that does not within kStuckLimit makes wait() return anyway, with
//     stuck() true.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "sluice/host/flow_metrics.h"
#include "sluice/host/flow_plan.h"
#include "sluice/host/request_observer.h"
#include "sluice/host/side_input_registry.h"

namespace sluice::host {

struct FlowResult {
  enum class Outcome { kCompleted, kFailed, kConfigError, kUndrained };
  Outcome outcome = Outcome::kCompleted;
  std::string failed_stage;   // for kFailed / kConfigError
  std::string error;          // what went wrong, one line
  // For kUndrained: per stage, messages that had not finished when the flow stopped
  // (queued for the stage, in its workers, or, for a source, not yet acknowledged).
  struct Leftover {
    std::string stage;
    uint64_t queued = 0;
    uint64_t in_progress = 0;
    uint64_t unacked = 0;
  };
  std::vector<Leftover> leftovers;
};

class FlowRuntime {
 public:
  explicit FlowRuntime(const FlowPlan& plan);
  ~FlowRuntime();
  FlowRuntime(const FlowRuntime&) = delete;
  FlowRuntime& operator=(const FlowRuntime&) = delete;

  // Reports results, paths and failures of messages to `observer` (the serving layer),
  // which must outlive the runtime's threads. Call before start().
  void set_request_observer(RequestObserver* observer);
  // Where stages that list side inputs read them (sideInputs:); must outlive the
  // runtime's threads. A stage waits for its side inputs' first values before its first
  // call (at most the plan's side_inputs_timeout). Call before start().
  void set_side_inputs(const SideInputRegistry* registry);

  // Starts every worker and waits until each created its instance. Returns false if
  // any create failed (result() names the stage); nothing was processed then.
  bool start();

  // Blocks until the flow ended (see above). `tick` (optional) is called about every
  // `tick_interval` while waiting, for progress output.
  void wait(const std::function<void()>& tick = {},
            std::chrono::milliseconds tick_interval = std::chrono::milliseconds(500));

  // Graceful stop: sources stop after their current call; everything drains. The
  // grace period starts now. Idempotent.
  void request_stop();
  // Abandon queued data and stop as soon as every worker returns from its current
  // plugin call.
  void force_stop();

  // The result; read it after wait() returned.
  const FlowResult& result() const;
  // True when wait() gave up on a worker stuck in a plugin call after a forced stop
  // (kStuckLimit). The process should then exit without running destructors
  // (std::_Exit): the plugin's library must not be unloaded under that thread.
  bool stuck() const;
  static constexpr std::chrono::seconds kStuckLimit{10};
  FlowMetrics& metrics();
  std::chrono::steady_clock::duration elapsed() const;

  struct State;  // the workers' shared state (stage_runtime.h)

 private:
  std::unique_ptr<State> state_;
};

}  // namespace sluice::host
