// The side-input endpoints, as both HTTP listeners of `sluice run` offer them (the
// serving listener and the --metrics-addr listener; docs/side-inputs.md, "HTTP
// endpoints"):
//
//   GET  /v1/side-inputs                 -> 200 {"sideInputs": [{name, version, ...}]}
//   POST /v1/side-inputs/{name}/refresh  -> 202, 404 (no such side input), 409 (it has no
//                                           retriever: a side-input sink sets it)
//
// and the side-input lines of GET /metrics. Authentication is the listener's business:
// these functions answer whoever got through.
//
// Thread-safety: any thread (they read SideInputManager::list(), which locks per entry).
#pragma once

#include <string>
#include <string_view>

#include "sluice/host/http_answer.h"
#include "sluice/host/side_input_manager.h"

namespace sluice::host {

// `manager` null: the flow declares no side inputs (a 404 that says so).
HttpAnswer side_input_list(const SideInputManager* manager);
HttpAnswer side_input_refresh(SideInputManager* manager, std::string_view name);

// Prometheus text (version 0.0.4) for every side input: version, size, update time and
// retrieval counts by result. "" when `manager` is null.
std::string side_input_prometheus(const SideInputManager* manager);

}  // namespace sluice::host
