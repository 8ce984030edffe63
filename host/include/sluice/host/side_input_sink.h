// The built-in `side-input` sink: sets a side input's value from a flow's messages, so a
// side input can be fed by a stream (docs/side-inputs.md, "The side-input sink").
//
//   sideInputs: [{name: rules}]                      # no retriever: only the sink sets it
//   stages:
//     - {name: updates, source: file, config: {path: rules.jsonl, follow: true}}
//     - {name: set-rules, sink: side-input, config: {name: rules}}
//
// It is a stage type described through the same C ABI as any plugin's, but linked into
// the `sluice` executable, because it has to reach the process's SideInputManager:
// `sluice run` registers it with PluginRegistry::add_linked(side_input_sink_library, ...)
// and attaches the manager before the flow starts.
//
//   - process: each message's value is a whole new value of the side input. Of one
//     batch only the last is stored (the earlier ones would be replaced before any
//     reader could be sure to see them); it is stored durably and published before
//     process returns, so the messages are acknowledged only once it is. Bytes equal to
//     the current value keep its version.
//   - A store error fails the call (SLUICE_ERROR: the stage's error policy retries it).
//
// Config: {name: <a side input the flow declares>} (flow_plan checks it too, with its
// line and column). Creating it without an attached manager (`sluice try`, or a flow
// without side inputs) is a config error that says so.
#pragma once

#include <sluice/plugin.h>

#include "sluice/host/side_input_manager.h"

namespace sluice::host {

// The library's entry function (the shape of sluice_plugin_v1).
const sluice_library* side_input_sink_library(const sluice_host* host);

// The manager that side-input sinks created from now on set values through (null
// detaches). Attach before the flow's instances are created; detach after they are
// destroyed.
void attach_side_input_manager(SideInputManager* manager);

// The type name flows use.
inline constexpr const char* kSideInputSinkType = "side-input";

}  // namespace sluice::host
