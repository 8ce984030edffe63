// A reduce stage's windowing, and a source's watermark settings, as read from the flow
// file (docs/reduce.md):
//
//   - {name: counts, reduce: count, window: {fixed: 10s}, keyed: true,
//      allowedLateness: 2s, late: drop}
//   - {name: words, source: file, config: {...}, watermark: {maxDelay: 5s, idleTimeout: 30s}}
//
// plan_reduce() checks them stage by stage; plan_reduce_paths() checks what the engine
// needs of the stages around a reduce (see its comment).
#pragma once

#include <sluice/plugin.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sluice/host/diagnostics.h"
#include "sluice/host/flow_loader.h"

namespace sluice::host {

struct StagePlan;
struct EdgePlan;

struct ReducePlan {
  enum class Window { kFixed, kSliding, kSession };
  Window window = Window::kFixed;
  int64_t length_ms = 0;            // fixed, sliding
  int64_t slide_ms = 0;             // sliding
  int64_t gap_ms = 0;               // session
  bool keyed = true;                // false: one window for all messages
  int64_t allowed_lateness_ms = 0;
  bool route_late = false;          // late: route (tag "late") instead of drop
  std::string describe() const;     // "fixed 10s", "sliding 10s every 5s", "session gap 30s"
};

// The tag late messages carry when a reduce routes them.
inline constexpr const char* kLateTag = "late";

struct SourceWatermarkPlan {
  int64_t max_delay_ms = 0;
  int64_t idle_timeout_ms = 0;      // 0: no idle progress
};

// Reads stage i's reduce keys into *reduce (a reduce stage) and its watermark keys into
// *watermark (a source), reporting misplaced or invalid ones. False on any error.
bool plan_reduce(const LoadedFlow& flow, int i, sluice_kind kind, std::optional<ReducePlan>* reduce,
                 SourceWatermarkPlan* watermark, Diagnostics* diagnostics);

// Marks the stages that feed a reduce (StagePlan::feeds_reduce) and checks the rule
// the engine's watermarks need today: a reduce stage and every stage upstream of it
// run one worker (threads: 1), so that batches, and the watermarks they carry, reach
// the reduce in the order their source sent them. Call after the edges are planned.
bool plan_reduce_paths(std::vector<StagePlan>* stages, const std::vector<EdgePlan>& edges,
                       const LoadedFlow& flow, Diagnostics* diagnostics);

}  // namespace sluice::host
