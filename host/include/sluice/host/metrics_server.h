// The optional HTTP listener of `sluice run --metrics-addr HOST:PORT`: GET /metrics
// (Prometheus text), GET /livez, and for a flow with side inputs GET /v1/side-inputs and
// POST /v1/side-inputs/{name}/refresh (side_input_http.h). Runs on its own thread; the
// flow never waits for it.
//
// cpp-httplib stays out of this header (it is heavy and must be compiled with the
// package's defines; see docs/decisions.md), so only metrics_server.cc includes it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "sluice/host/flow_metrics.h"
#include "sluice/host/side_input_manager.h"

namespace sluice::host {

struct MetricsServerOptions {
  // The flow's side inputs: their endpoints and their lines in /metrics. Null: none.
  SideInputManager* side_inputs = nullptr;
  // Asked for each side-input endpoint request with its Authorization header: "" lets
  // it through, anything else is the 401's message. Null: no check (the flow has no
  // serving tokens; /metrics and /livez are never checked).
  std::function<std::string(std::string_view authorization)> authorize;
};

class MetricsServer {
 public:
  MetricsServer();
  ~MetricsServer();  // stops the listener and joins its thread

  // Binds `address` ("127.0.0.1:9090", ":9090" for every interface, port 0 for any
  // free port) and starts serving. False with *error when the address is malformed or
  // cannot be bound. `metrics` and options.side_inputs must outlive the server.
  bool start(const std::string& address, const FlowMetrics& metrics, MetricsServerOptions options,
             std::string* error);
  int port() const;  // the bound port (useful with port 0)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::host
