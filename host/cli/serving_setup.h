// What `sluice run` sets up for a flow with `serving:`: the bearer tokens, the request
// store, the request hub (attached to the built-in `serving` source) and the HTTP(S)
// server; and the order in which they are taken down.
//
//   auto s = open_serving(plan, flow_name);   // tokens, store, hub, recovery
//   runtime.set_request_observer(s->hub.get());
//   s->start_listening();                     // ports open; /readyz says "starting"
//   runtime.start(); s->server->set_flow_ready(true); runtime.wait();
//   s->shut_down();                           // after the runtime's threads are gone
//   s.reset();                                // hub, then store (closed)
#pragma once

#include <memory>
#include <string>

#include "sluice/host/flow_metrics.h"
#include "sluice/host/serving_plan.h"
#include "sluice/serving/request_hub.h"
#include "sluice/serving/serving_server.h"
#include "sluice/store/request_store.h"

namespace sluice::cli {

struct ServingSetup {
  const host::ServingPlan* plan = nullptr;
  std::vector<std::string> tokens;
  // Declared in the order they are built; destroyed in reverse (server, hub, store).
  std::unique_ptr<store::RequestStore> store;
  std::unique_ptr<serving::RequestHub> hub;
  std::unique_ptr<serving::ServingServer> server;
  // The flow's side inputs, for the side-input endpoints; set before start_listening.
  host::SideInputManager* side_inputs = nullptr;
  const host::SideInputRegistry* side_input_registry = nullptr;
  std::vector<std::string> side_inputs_read;  // by some stage: /readyz waits for their values

  // Binds the listeners and logs their addresses; false after printing why.
  bool start_listening(const host::FlowMetrics& metrics);
  // Stops admitting, wakes every waiting handler, stops the server, detaches the hub.
  void shut_down();
  ~ServingSetup();
};

// Reads the tokens, opens the store (creating its folder), makes the hub and queues the
// requests a previous run left unfinished. Null after printing the error.
std::unique_ptr<ServingSetup> open_serving(const host::ServingPlan& plan);

}  // namespace sluice::cli
