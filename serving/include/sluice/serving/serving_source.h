// The built-in `serving` source: the stage type that turns HTTP requests into messages.
//
// It is a stage type like any plugin's, described through the same C ABI
// (sluice_plugin.h) but linked into the `sluice` executable, because it has to reach the
// process's RequestHub: `sluice run` registers it with
// PluginRegistry::add_linked(serving_source_library, ...) and attaches the hub before the
// flow starts.
//
//   - process: takes up to max_messages queued requests (waiting briefly for the first)
//     and emits one message per request: id = the request id, value = the body,
//     headers = the request's headers. IDLE when none came.
//   - ack: the flow finished every descendant of these requests: the hub completes them.
//   - pending: the requests queued and not yet read.
//
// Config: none (`config: {}`). Creating it without an attached hub (a flow without
// `serving:`, or `sluice try`) is a config error that says so.
#pragma once

#include <sluice/plugin.h>

namespace sluice::serving {

class RequestHub;

// The library's entry function (the shape of sluice_plugin_v1).
const sluice_library* serving_source_library(const sluice_host* host);

// The hub that serving sources created from now on take requests from (null detaches).
// Attach before the flow's instances are created; detach after they are destroyed.
void attach_hub(RequestHub* hub);

// The type name flows use.
inline constexpr const char* kServingSourceType = "serving";

}  // namespace sluice::serving
