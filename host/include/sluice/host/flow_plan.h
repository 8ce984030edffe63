// The flow graph: a loaded flow file resolved into stages and edges with every default
// filled in, validated, and (second step) bound to plugin types.
//
//   plan_flow()        graph rules, no plugins needed: names unique and well formed,
//                      exactly one kind per stage, edges name real stages, a source has
//                      no incoming edge and a sink no outgoing one, no cycles, every
//                      stage reachable from a source and reaching a sink, error policies
//                      name real sinks. Without `edges`, stages chain in the order
//                      written (stages used only as fallback sinks are left out of the
//                      chain). Used by `sluice graph`.
//   bind_plugins()     each stage's type exists, supports the stage's kind, and its
//                      config passes the type's JSON Schema. Used by `check` and `run`.
//
// Both report every problem into Diagnostics, located at the offending YAML node.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sluice/host/diagnostics.h"
#include "sluice/host/flow_loader.h"
#include "sluice/host/plugin_registry.h"
#include "sluice/host/serving_plan.h"
#include "sluice/host/reduce_plan.h"
#include "sluice/host/side_input_plan.h"

namespace sluice::host {

enum class FlowMode { kStreaming, kJob };
enum class ErrorAction { kFail, kDrop, kFallback };
enum class TagMatchMode { kAny, kAll, kNone };

struct ErrorPolicyPlan {
  uint32_t attempts = 0;                                   // retries after the first try
  std::chrono::microseconds initial_interval{100'000};
  double factor = 2.0;
  std::chrono::microseconds cap{10'000'000};
  ErrorAction action = ErrorAction::kFail;
  int fallback_stage = -1;                                 // index, for kFallback
};

struct StagePlan {
  std::string name;
  sluice_kind kind = SLUICE_KIND_MAP;
  std::string type_name;
  std::string config_json = "{}";
  uint32_t threads = 1;
  uint32_t batch = 0;
  std::chrono::microseconds linger{0};
  bool ordered = false;
  ErrorPolicyPlan on_error;
  std::string path;            // "stages[i]", for LoadedFlow::where()
  PluginTypeRef type;          // set by bind_plugins()
  std::vector<int> in_edges;   // indexes into FlowPlan::edges
  std::vector<int> out_edges;
  std::vector<std::string> side_inputs;  // names of the flow's side inputs it reads
  std::optional<ReducePlan> reduce;      // reduce stages: the windows
  SourceWatermarkPlan watermark;         // sources: how the watermark follows event times
  bool feeds_reduce = false;             // some reduce is downstream: track watermarks
};

struct EdgePlan {
  int from = -1;
  int to = -1;
  uint32_t capacity = 0;
  bool conditional = false;    // has a `when`
  std::vector<std::string> tags;
  TagMatchMode match = TagMatchMode::kAny;
  std::string path;            // "edges[i]", or "" for an implied edge
};

struct FlowPlan {
  std::string name;
  FlowMode mode = FlowMode::kStreaming;
  std::filesystem::path dir;                     // the flow file's directory
  std::vector<std::filesystem::path> plugin_dirs;  // absolute
  std::chrono::milliseconds grace_period{30'000};
  std::vector<StagePlan> stages;
  std::vector<EdgePlan> edges;
  std::optional<ServingPlan> serving;            // the `serving:` block, when there is one
  std::vector<SideInputPlan> side_inputs;        // the `sideInputs:` block
  std::chrono::milliseconds side_inputs_timeout = kDefaultSideInputsTimeout;
  // Reduce stages at a stop: close the open windows (emitting their results) instead of
  // letting them go (sluice run --flush-windows; docs/reduce.md).
  bool flush_windows_on_stop = false;

  int stage_index(std::string_view name) const;
};

// Defaults (documented in docs/flow-reference.md).
inline constexpr uint32_t kDefaultBatch = 1024;
inline constexpr uint32_t kDefaultCapacity = 16384;
inline constexpr std::chrono::microseconds kDefaultLinger{1000};
inline constexpr std::chrono::milliseconds kDefaultGracePeriod{30'000};

struct PlanOptions {
  // Environment lookup for serving token sources (`env:`); defaults to ::getenv.
  EnvLookup getenv;
  // Whether serving token sources are read (files opened, variables looked up). `sluice
  // graph` draws a flow without its secrets being present, so it passes false.
  bool read_secrets = true;
};

std::optional<FlowPlan> plan_flow(const LoadedFlow& flow, Diagnostics* diagnostics,
                                  const PlanOptions& options = {});

// Binds every stage to its plugin type and checks kinds and config schemas. Returns
// false when anything is wrong (all in *diagnostics). `registry` must outlive the plan.
bool bind_plugins(FlowPlan* plan, const LoadedFlow& flow, const PluginRegistry& registry,
                  Diagnostics* diagnostics);

// The DAG as a Mermaid flowchart or a Graphviz DOT digraph: one node per stage (name,
// kind and type), one arrow per edge (labelled with its condition), dashed arrows for
// fallback routes.
std::string render_mermaid(const FlowPlan& plan);
std::string render_dot(const FlowPlan& plan);

const char* kind_word(sluice_kind kind);  // "source", "map", "reduce", "sink"

}  // namespace sluice::host
