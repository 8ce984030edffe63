// `sluice graph FLOW`: prints the flow's DAG as a Mermaid flowchart (default) or a
// Graphviz DOT digraph, for docs and debugging. Needs no plugins.
#include <iostream>

#include "commands.h"
#include "exit_codes.h"
#include "flow_setup.h"

namespace sluice::cli {

Command add_graph_command(CLI::App& app) {
  auto options = std::make_shared<FlowOptions>();
  auto format = std::make_shared<std::string>("mermaid");
  CLI::App* cmd = app.add_subcommand("graph", "print a flow's graph as Mermaid or DOT");
  options->add_to(cmd, /*with_plugins=*/false);
  cmd->add_option("--format", *format, "mermaid (default) or dot")
      ->check(CLI::IsMember({"mermaid", "dot"}));
  return {cmd, [options, format] {
            std::optional<PreparedFlow> flow = prepare_flow(*options, /*bind=*/false);
            if (!flow) return kExitUsage;
            std::cout << (*format == "dot" ? host::render_dot(flow->plan)
                                           : host::render_mermaid(flow->plan));
            return kExitOk;
          }};
}

}  // namespace sluice::cli
