// The HTTP(S) listener of a serving flow: the endpoints of docs/serving.md.
//
//   POST /v1/process/sync          submit, wait, answer with the result(s)
//   POST /v1/process/async         submit, answer with the id at once
//   GET  /v1/process/fetch?id=     in progress / results / failed; 404 unknown
//   POST /v1/process/sse           submit and stream the results as Server-Sent Events
//   GET  /v1/process/sse?id=       stream a request submitted before (EventSource)
//   GET  /v1/process/message?id=   the request's path through the stages (alias /status)
//   GET  /livez /readyz /health /metrics
//
// Requests become messages through the RequestHub (and the flow's `serving` source);
// this class is only HTTP: parsing, auth, status codes, framing, streaming. Every error
// is a 4xx/5xx with Numaflow's JSON error body {"message", "code", "timestamp"}.
//
// Threads: cpp-httplib's, one pool of plan.http_threads per listener; each open
// connection holds one of them (a waiting /sync, an SSE stream, an idle keep-alive).
// cpp-httplib stays out of this header (only serving_server.cc includes it).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sluice/host/flow_metrics.h"
#include "sluice/host/serving_plan.h"
#include "sluice/host/side_input_manager.h"
#include "sluice/host/side_input_registry.h"
#include "sluice/serving/request_hub.h"

namespace sluice::serving {

class ServingServer {
 public:
  // `tokens`: the bearer tokens (load_tokens); empty means no auth. The hub and the
  // metrics must outlive the server.
  ServingServer(const host::ServingPlan& plan, std::vector<std::string> tokens, RequestHub& hub,
                const host::FlowMetrics& metrics);
  ~ServingServer();  // stop()
  ServingServer(const ServingServer&) = delete;
  ServingServer& operator=(const ServingServer&) = delete;

  // Binds every configured listener and starts serving. False with *error (naming the
  // address or the TLS file) when one cannot be bound or TLS cannot be set up; nothing
  // is left listening then.
  bool start(std::string* error);
  // The bound ports (useful with port 0); -1 when that listener is not configured.
  int http_port() const;
  int https_port() const;

  // /readyz answers 204 only while the flow is ready (every stage started) and the
  // store can take writes.
  void set_flow_ready(bool ready);
  // The flow's side inputs (docs/side-inputs.md): GET /v1/side-inputs lists them, POST
  // /v1/side-inputs/{name}/refresh asks for a retrieval now (202), and /readyz answers
  // 503 until each side input in `awaited` (those a stage reads) has a value. Both must
  // outlive the server. Call before listening.
  void set_side_inputs(host::SideInputManager* manager, const host::SideInputRegistry* registry,
                       std::vector<std::string> awaited);

  // Stops the listeners and joins their threads. Handlers still waiting on a request
  // must be woken first (RequestHub::abandon_remaining), or stop() waits for them.
  // Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::serving
