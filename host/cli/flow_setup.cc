#include "flow_setup.h"

#include <iostream>

#include "sluice/host/log.h"
#include "sluice/host/side_input_sink.h"
#include "sluice/serving/serving_source.h"

namespace sluice::cli {

void FlowOptions::add_to(CLI::App* cmd, bool with_plugins) {
  cmd->add_option("flow", file, "the flow file (YAML)")->required();
  cmd->add_option("--set", sets,
                  "override a flow value before checking, e.g. --set stages.in.config.count=10 "
                  "(repeatable)")
      ->type_name("PATH=VALUE")
      ->allow_extra_args(false);  // one value per --set: never swallow the flow file
  if (with_plugins)
    cmd->add_option("--plugin-dir", plugin_dirs,
                    "search this folder for plugins first (repeatable)")
        ->type_name("DIR")
        ->allow_extra_args(false);  // one folder per --plugin-dir
}

void add_linked_types(host::PluginRegistry& registry) {
  registry.add_linked(serving::serving_source_library, "(built into sluice)");
  registry.add_linked(host::side_input_sink_library, "(built into sluice)");
}

void report_diagnostics(const host::Diagnostics& diagnostics, const std::string& file) {
  std::cerr << diagnostics.format();
  std::cerr << "sluice: " << diagnostics.size() << " error" << (diagnostics.size() == 1 ? "" : "s")
            << " in " << file << "\n";
}

std::optional<PreparedFlow> prepare_flow(const FlowOptions& options, bool bind) {
  host::Diagnostics diagnostics;
  host::FlowLoadOptions load_options;
  load_options.overrides = options.sets;
  std::optional<host::LoadedFlow> loaded = host::load_flow(options.file, load_options, &diagnostics);
  std::optional<host::FlowPlan> plan;
  // `graph` (no bind) draws the flow without reading serving token files or variables.
  host::PlanOptions plan_options;
  plan_options.read_secrets = bind;
  if (loaded) plan = host::plan_flow(*loaded, &diagnostics, plan_options);
  auto report = [&] { report_diagnostics(diagnostics, options.file); };
  if (!plan) {
    report();
    return std::nullopt;
  }
  PreparedFlow out{nullptr, std::move(*loaded), std::move(*plan)};
  if (!bind) return out;

  std::vector<std::filesystem::path> cli_dirs(options.plugin_dirs.begin(), options.plugin_dirs.end());
  out.registry = std::make_unique<host::PluginRegistry>();
  add_linked_types(*out.registry);
  out.registry->load(host::make_plugin_search_path(cli_dirs, out.plan.plugin_dirs));
  for (const host::PluginLoadError& e : out.registry->errors())
    host::log(host::LogLevel::kDebug, "plugins", e.message);  // bind_plugins mentions them when a type is missing
  if (!host::bind_plugins(&out.plan, out.loaded, *out.registry, &diagnostics)) {
    report();
    return std::nullopt;
  }
  return out;
}

}  // namespace sluice::cli
