// Keeps a flow's side inputs fresh: retrieves each one at start, then on its trigger
// (schedule or interval) and on refresh requests, stores new values versioned in the
// side-input store and publishes them to the registry stage workers read from.
//
//   SideInputManager m(plan, registry, store);  // store may be null (values in memory)
//   m.load_stored();   // the last stored value of each side input, published at once
//   m.start();         // one scheduler and one retriever thread per side input
//   ...                // m.refresh(name), m.set(name, bytes), m.list()
//   m.stop();          // (the destructor too) joins them; instances destroyed
//
// Contract:
//   - Retrievals of one side input never overlap: its retriever instance is created,
//     called and destroyed on its own thread, one call at a time.
//   - A retriever answers a value (one emitted output) or "no change" (nothing emitted).
//     A value with the bytes of the current version keeps that version.
//   - A failed retrieval (an error status, more than one output, a store error) or one
//     that outlasts the side input's timeout keeps the old value; it is counted and
//     logged, and retried after a backoff (retry: initialInterval, factor, cap) until one
//     succeeds. A retrieval that timed out is not abandoned (a plugin call cannot be
//     interrupted): its answer is discarded, and the next retrieval starts after it
//     returned. Nothing here ends the flow: stages that wait for a first value give up
//     after sideInputsTimeout (stage_worker.cc).
//   - A side input without a retriever (its value comes from a side-input sink) has no
//     threads; refresh() answers kNoRetriever for it.
//   - A trigger that comes while a retrieval runs is not queued twice: one retrieval
//     follows.
//
// Thread-safety: every member may be called from any thread, except that start() and
// stop() are called by the owner only. The plan, registry and store must outlive stop().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/host/flow_plan.h"
#include "sluice/host/plugin_instance.h"
#include "sluice/host/side_input_registry.h"
#include "sluice/store/side_input_store.h"

namespace sluice::host {

// How a side input's retriever instance is made (and checked by `sluice check`): kind
// side-input, the side input's name as the stage name, one worker.
InstanceSpec retriever_instance_spec(const SideInputPlan& side_input, const FlowPlan& flow);

class SideInputManager {
 public:
  SideInputManager(const FlowPlan& plan, SideInputRegistry& registry, store::SideInputStore* store);
  ~SideInputManager();
  SideInputManager(const SideInputManager&) = delete;
  SideInputManager& operator=(const SideInputManager&) = delete;

  // Publishes each side input's last stored value (a restart serves it before the first
  // retrieval finishes). Throws store::StoreError when the store cannot be read.
  void load_stored();
  void start();
  // Stops the threads. A retriever still inside its plugin call after `stuck_limit` is
  // left running (its thread detached, its instance and state leaked, never unloaded
  // under it) and stuck() turns true: the process should then exit without running
  // destructors, as for a stuck stage worker.
  void stop(std::chrono::milliseconds stuck_limit = std::chrono::seconds(10));
  bool stuck() const { return stuck_; }

  // Asks for a retrieval of `name` now.
  enum class Refresh { kRequested, kNoSuchSideInput, kNoRetriever };
  Refresh refresh(std::string_view name);

  // Sets a side input's value directly (the side-input sink, side_input_sink.h): stored
  // (a new version unless the bytes are the current ones) and published. Returns the
  // version now current. Throws std::invalid_argument for an unknown name and
  // store::StoreError when it cannot be stored (nothing is published then). Works with
  // or without a retriever, before start() and after stop().
  uint64_t set(std::string_view name, std::string bytes);

  struct Status {
    std::string name;
    uint64_t version = 0;  // 0: no value yet
    uint64_t size = 0;
    std::optional<std::chrono::system_clock::time_point> updated_at;
    std::string retriever;  // "" when the side input has none (set by a side-input sink)
    std::string trigger;   // "cron '...' (UTC)", "every 5s", or "" (start and refresh only)
    uint64_t retrievals = 0, changed = 0, unchanged = 0, failed = 0, timed_out = 0;
    uint64_t sets = 0;       // values set through set() (the side-input sink)
    std::string last_error;  // of the last failed retrieval, "" after a success
    std::optional<std::chrono::system_clock::time_point> next_retrieval;
  };
  // Every side input, in the flow's order.
  std::vector<Status> list() const;

  struct Entry;  // one side input's threads and state (side_input_manager.cc)

 private:
  const FlowPlan& plan_;
  SideInputRegistry& registry_;
  store::SideInputStore* store_;
  std::vector<std::unique_ptr<Entry>> entries_;
  bool started_ = false;
  bool stuck_ = false;
};

}  // namespace sluice::host
