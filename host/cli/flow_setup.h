// What `check`, `graph` and `run` share: read the flow file (with --set overrides and
// ${ENV}), plan its graph, and (for check and run) load the plugins it may use and bind
// its stages to them. Every problem is printed to stderr with its location.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/host/flow_loader.h"
#include "sluice/host/flow_plan.h"
#include "sluice/host/plugin_registry.h"

namespace sluice::cli {

// The options every flow command takes.
struct FlowOptions {
  std::string file;
  std::vector<std::string> sets;         // --set path=value
  std::vector<std::string> plugin_dirs;  // --plugin-dir
  void add_to(CLI::App* cmd, bool with_plugins);
};

struct PreparedFlow {
  // Declared first so it is destroyed last: libraries are unloaded only after the plan
  // (and anything run from it) is gone.
  std::unique_ptr<host::PluginRegistry> registry;
  host::LoadedFlow loaded;
  host::FlowPlan plan;
};

// Loads and plans; with `bind`, also loads plugins and binds. Returns nullopt after
// printing the diagnostics.
std::optional<PreparedFlow> prepare_flow(const FlowOptions& options, bool bind);

// Adds the stage types linked into the executable (the `serving` source) to a registry;
// call before loading plugin folders.
void add_linked_types(host::PluginRegistry& registry);

// Prints the diagnostics and "sluice: N errors in FILE" to stderr.
void report_diagnostics(const host::Diagnostics& diagnostics, const std::string& file);

}  // namespace sluice::cli
