// `sluice check FLOW`: finds every mistake in a flow without running it: YAML and
// schema errors, graph errors, missing plugin types, configs that fail their type's
// JSON Schema, and configs the type's own check refuses (a Python handler that does not
// import). Exit 0 when the flow is valid, 2 (kExitUsage) otherwise.
#include <iostream>
#include <string>

#include "commands.h"
#include "exit_codes.h"
#include "flow_setup.h"
#include "sluice/host/stage_config_check.h"

namespace sluice::cli {

namespace {

// ", serving http 127.0.0.1:8090, https 0.0.0.0:8443" for a flow with `serving:`.
std::string serving_summary(const host::FlowPlan& plan) {
  if (!plan.serving) return {};
  std::string out = ", serving";
  if (plan.serving->http) out += " http " + plan.serving->http->text();
  if (plan.serving->http && plan.serving->https) out += ",";
  if (plan.serving->https) out += " https " + plan.serving->https->text();
  return out;
}

}  // namespace

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
                      << (flow->plan.edges.size() == 1 ? " edge" : " edges")
                      << serving_summary(flow->plan) << ")\n";
            return kExitOk;
          }};
}

}  // namespace sluice::cli
