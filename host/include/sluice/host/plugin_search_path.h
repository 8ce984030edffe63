// Where plugins are looked for, in order of precedence.
//
// 1. `--plugin-dir` options, in the order given;
// 2. the SLUICE_PLUGIN_PATH environment variable (colon-separated; empty entries skipped);
// 3. folders a flow names in `plugins:` (resolved relative to the flow file);
// 4. the built-in folder, <dir of the sluice executable>/../lib/sluice/plugins, so an
//    installed and a build-tree `sluice` each find their own built-ins.
// When two folders provide the same type name, the earlier folder wins and the later
// file is reported (see PluginRegistry).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace sluice::host {

struct PluginSearchPath {
  std::vector<std::filesystem::path> cli_dirs;
  std::vector<std::filesystem::path> env_dirs;
  std::vector<std::filesystem::path> flow_dirs;
  std::filesystem::path builtin_dir;  // empty when it cannot be found

  // All folders in precedence order.
  std::vector<std::filesystem::path> folders() const;
};

// Splits a SLUICE_PLUGIN_PATH value.
std::vector<std::filesystem::path> split_plugin_path(const std::string& value);

// The built-in plugin folder relative to the running executable.
std::filesystem::path builtin_plugin_dir();

// Builds the search path from CLI folders, the environment and flow folders.
PluginSearchPath make_plugin_search_path(std::vector<std::filesystem::path> cli_dirs,
                                         std::vector<std::filesystem::path> flow_dirs = {});

}  // namespace sluice::host
