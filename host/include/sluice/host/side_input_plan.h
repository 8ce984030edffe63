// The flow's `sideInputs:` resolved into SideInputPlans: names checked, triggers parsed
// (sluice/host/schedule.h), defaults filled in, and every stage's `sideInputs:` list
// checked against them. Retriever types are bound with the stages' types in
// bind_plugins(). Documented in docs/side-inputs.md ("Configuration").
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "sluice/host/diagnostics.h"
#include "sluice/host/flow_loader.h"
#include "sluice/host/plugin_registry.h"
#include "sluice/host/schedule.h"

namespace sluice::host {

struct SideInputPlan {
  std::string name;
  std::string type_name;             // the retriever
  std::string config_json = "{}";
  std::optional<Schedule> trigger;   // none: retrieved at start and on refresh requests only
  std::chrono::milliseconds timeout{30'000};
  // Backoff after a failed retrieval: initial, times factor per failure, at most cap.
  std::chrono::milliseconds retry_initial{1'000};
  double retry_factor = 2.0;
  std::chrono::milliseconds retry_cap{60'000};
  std::string path;                  // "sideInputs[i]", for LoadedFlow::where()
  PluginTypeRef type;                // set by bind_plugins()
};

inline constexpr std::chrono::milliseconds kDefaultSideInputsTimeout{60'000};

// Reads f.side_inputs() into *out and checks each stage's `sideInputs:` list (names that
// exist, no repeats); every problem goes into *diagnostics. Returns false on any.
bool plan_side_inputs(const LoadedFlow& flow, std::vector<SideInputPlan>* out,
                      std::vector<std::vector<std::string>>* stage_side_inputs,
                      Diagnostics* diagnostics);

}  // namespace sluice::host
