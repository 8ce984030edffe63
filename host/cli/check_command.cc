// `sluice check FLOW`: finds every mistake in a flow without running it: YAML and
// schema errors, graph errors, missing plugin types, configs that fail their type's
// JSON Schema, and configs the type's own check refuses (a Python handler that does not
// import). Exit 0 when the flow is valid, 2 (kExitUsage) otherwise.
#include <iostream>

#include "commands.h"
#include "exit_codes.h"
#include "flow_setup.h"
#include "sluice/host/stage_config_check.h"

namespace sluice::cli {

Command add_check_command(CLI::App& app) {
  auto options = std::make_shared<FlowOptions>();
  CLI::App* cmd = app.add_subcommand(
      "check", "validate a flow file: syntax, graph, plugin types and their configs");
  options->add_to(cmd, /*with_plugins=*/true);
  return {cmd, [options] {
            std::optional<PreparedFlow> flow = prepare_flow(*options, /*bind=*/true);
            if (!flow) return kExitUsage;
            // What only the plugins can tell (a Python handler's module and signature).
            host::Diagnostics diagnostics;
            if (!host::check_stage_configs(flow->plan, flow->loaded, &diagnostics)) {
              report_diagnostics(diagnostics, options->file);
              return kExitUsage;
            }
            std::cout << options->file << ": ok (flow \"" << flow->plan.name << "\", "
                      << (flow->plan.mode == host::FlowMode::kJob ? "job" : "streaming") << ", "
                      << flow->plan.stages.size() << " stages, " << flow->plan.edges.size()
                      << (flow->plan.edges.size() == 1 ? " edge)\n" : " edges)\n");
            return kExitOk;
          }};
}

}  // namespace sluice::cli
