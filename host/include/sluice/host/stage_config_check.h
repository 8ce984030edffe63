// The deep config check of `sluice check`: each bound stage's plugin type is asked,
// through the ABI's optional `check` (since 1.2), whether it could be created with its
// config — beyond what the JSON Schema says (a Python stage imports its handler's module
// and reads the handler's signature). Side inputs' retrievers are asked the same, with
// the side-input kind. No instance is created and nothing runs.
//
// `sluice run` does not call this: create checks the same and its errors exit 2 too.
// Call on the main thread, after bind_plugins() succeeded.
#pragma once

#include "sluice/host/diagnostics.h"
#include "sluice/host/flow_loader.h"
#include "sluice/host/flow_plan.h"

namespace sluice::host {

// Adds one diagnostic per stage (or side input) whose type refuses its config, located
// at the config key the plugin names ("config.module: ...") or else at the stage. Returns whether
// every stage passed.
bool check_stage_configs(const FlowPlan& plan, const LoadedFlow& flow, Diagnostics* diagnostics);

}  // namespace sluice::host
