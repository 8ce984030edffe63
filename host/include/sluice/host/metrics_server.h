// The optional HTTP listener of `sluice run --metrics-addr HOST:PORT`: GET /metrics
// (Prometheus text), GET /livez. Runs on its own thread; the flow never waits for it.
//
// cpp-httplib stays out of this header (it is heavy and must be compiled with the
// package's defines; see docs/decisions.md), so only metrics_server.cc includes it.
#pragma once

#include <memory>
#include <string>

#include "sluice/host/flow_metrics.h"

namespace sluice::host {

class MetricsServer {
 public:
  MetricsServer();
  ~MetricsServer();  // stops the listener and joins its thread

  // Binds `address` ("127.0.0.1:9090", ":9090" for every interface, port 0 for any
  // free port) and starts serving. False with *error when the address is malformed or
  // cannot be bound. `metrics` must outlive the server.
  bool start(const std::string& address, const FlowMetrics& metrics, std::string* error);
  int port() const;  // the bound port (useful with port 0)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::host
