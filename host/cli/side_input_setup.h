// What `sluice run` sets up for a flow with `sideInputs:`: the side-input store (SQLite
// at <flow dir>/.sluice/<flow name>.side-inputs.db), the registry stages read from, and
// the manager that keeps the values fresh.
//
//   auto si = open_side_inputs(plan);          // store opened, stored values published,
//                                              // the side-input sink attached
//   runtime.set_side_inputs(si->registry.get());
//   si->manager->start();                      // first retrievals begin
//   runtime.start(); runtime.wait();
//   si->manager->stop();                       // retrievers destroyed on their threads
#pragma once

#include <memory>

#include "sluice/host/flow_plan.h"
#include "sluice/host/side_input_manager.h"
#include "sluice/host/side_input_registry.h"
#include "sluice/store/side_input_store.h"

namespace sluice::cli {

struct SideInputSetup {
  // Declared in the order they are built; destroyed in reverse (manager first).
  std::unique_ptr<store::SideInputStore> store;
  std::unique_ptr<host::SideInputRegistry> registry;
  std::unique_ptr<host::SideInputManager> manager;
  // Detaches the manager from the side-input sink (attached by open_side_inputs).
  ~SideInputSetup();
};

// The store file of a flow's side inputs.
std::string side_input_store_path(const host::FlowPlan& plan);

// Opens the store (creating its folder), publishes the stored values and attaches the
// manager to the built-in side-input sink. Null after printing the error (the store
// cannot be opened or read).
std::unique_ptr<SideInputSetup> open_side_inputs(const host::FlowPlan& plan);

}  // namespace sluice::cli
