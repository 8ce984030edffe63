#include "sluice/host/plugin_search_path.h"

#include <boost/dll/runtime_symbol_info.hpp>
#include <cstdlib>

namespace sluice::host {

namespace fs = std::filesystem;

std::vector<fs::path> PluginSearchPath::folders() const {
  std::vector<fs::path> all;
  all.insert(all.end(), cli_dirs.begin(), cli_dirs.end());
  all.insert(all.end(), env_dirs.begin(), env_dirs.end());
  all.insert(all.end(), flow_dirs.begin(), flow_dirs.end());
  if (!builtin_dir.empty()) all.push_back(builtin_dir);
  return all;
}

std::vector<fs::path> split_plugin_path(const std::string& value) {
  std::vector<fs::path> dirs;
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find(':', start);
    if (end == std::string::npos) end = value.size();
    if (end > start) dirs.emplace_back(value.substr(start, end - start));
    start = end + 1;
  }
  return dirs;
}

fs::path builtin_plugin_dir() {
  boost::dll::fs::error_code ec;
  fs::path exe = boost::dll::program_location(ec);
  if (ec || exe.empty()) return {};
  return (exe.parent_path().parent_path() / SLUICE_BUILTIN_PLUGIN_SUBDIR).lexically_normal();
}

PluginSearchPath make_plugin_search_path(std::vector<fs::path> cli_dirs,
                                         std::vector<fs::path> flow_dirs) {
  PluginSearchPath path;
  path.cli_dirs = std::move(cli_dirs);
  if (const char* env = std::getenv("SLUICE_PLUGIN_PATH")) path.env_dirs = split_plugin_path(env);
  path.flow_dirs = std::move(flow_dirs);
  path.builtin_dir = builtin_plugin_dir();
  return path;
}

}  // namespace sluice::host
