// `sluice`: the command-line entry point. Parses global options, then hands over to
// one subcommand (see commands.h).
#include <CLI/CLI.hpp>
#include <iostream>

#include "commands.h"
#include "exit_codes.h"
#include "sluice/host/log.h"
#include "sluice/host/version.h"

int main(int argc, char** argv) {
  using namespace sluice;
  CLI::App app{"sluice " SLUICE_VERSION
               ": a plugin-based stage host that runs YAML-defined flows of sources, "
               "maps, reduces and sinks"};
  app.set_version_flag("--version", "sluice " SLUICE_VERSION);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug, info, warn, error or off (stderr)")
      ->check(CLI::IsMember({"debug", "info", "warn", "warning", "error", "off"}));
  app.require_subcommand(1);

  const cli::Command commands[] = {
      cli::add_run_command(app),
      cli::add_check_command(app),
      cli::add_graph_command(app),
      cli::add_plugins_command(app),
      cli::add_try_command(app),
  };

  // CLI11 says only "A subcommand is required" for a misspelt command: name it.
  // The command is the first word that is neither an option nor --log-level's value.
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--log-level") {
      ++i;
      continue;
    }
    if (arg.empty() || arg[0] == '-') continue;
    bool known = false;
    std::string names;
    for (const cli::Command& c : commands) {
      known = known || c.app->get_name() == arg;
      names += (names.empty() ? "" : ", ") + c.app->get_name();
    }
    if (!known) {
      std::cerr << "sluice: error: unknown command \"" << arg << "\" (commands: " << names
                << "); see sluice --help\n";
      return cli::kExitUsage;
    }
    break;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and a hint to --help
    return cli::kExitUsage;
  }
  host::LogLevel level;
  host::parse_log_level(log_level, &level);
  host::set_log_level(level);

  for (const cli::Command& c : commands)
    if (c.app->parsed()) return c.run();
  return cli::kExitUsage;
}
