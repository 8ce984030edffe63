// The `sluice` subcommands. Each registers its options on the CLI11 app and returns
// the function that runs it (returning an exit code from exit_codes.h).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace sluice::cli {

struct Command {
  CLI::App* app;             // the subcommand, to see whether it was chosen
  std::function<int()> run;  // runs it; returns an exit code
};

Command add_plugins_command(CLI::App& app);
Command add_try_command(CLI::App& app);
Command add_check_command(CLI::App& app);
Command add_graph_command(CLI::App& app);
Command add_run_command(CLI::App& app);

}  // namespace sluice::cli
