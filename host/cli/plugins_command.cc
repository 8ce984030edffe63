// `sluice plugins`: lists every stage type the loader finds, and every library it
// rejected (with the reason), as a table or as JSON.
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "exit_codes.h"
#include "flow_setup.h"
#include "sluice/host/plugin_registry.h"

namespace sluice::cli {
namespace {

namespace fs = std::filesystem;
using host::PluginRegistry;

void print_table(const PluginRegistry& reg) {
  struct Row { std::string type, kinds, version, file, description; };
  std::vector<Row> rows{{"TYPE", "KINDS", "VERSION", "FILE", "DESCRIPTION"}};
  for (const auto& ref : reg.types()) {
    const auto& t = *ref.type;
    rows.push_back({t.name, host::kinds_to_string(t.kinds) + (t.thread_safe() ? " (mt)" : ""),
                    t.version.empty() ? "-" : t.version, ref.library->file().string(),
                    t.description});
  }
  size_t w[4] = {0, 0, 0, 0};
  for (const Row& r : rows) {
    w[0] = std::max(w[0], r.type.size());
    w[1] = std::max(w[1], r.kinds.size());
    w[2] = std::max(w[2], r.version.size());
    w[3] = std::max(w[3], r.file.size());
  }
  auto pad = [](const std::string& s, size_t n) { return s + std::string(n - s.size() + 2, ' '); };
  for (const Row& r : rows) {
    std::cout << pad(r.type, w[0]) << pad(r.kinds, w[1]) << pad(r.version, w[2])
              << pad(r.file, w[3]) << r.description << '\n';
  }
  if (reg.types().empty()) std::cout << "(no plugins found)\n";
}

nlohmann::json to_json(const PluginRegistry& reg) {
  nlohmann::json out;
  out["types"] = nlohmann::json::array();
  for (const auto& ref : reg.types()) {
    const auto& t = *ref.type;
    nlohmann::json kinds = nlohmann::json::array();
    for (uint32_t bit = 1; bit <= SLUICE_KIND_SIDE_INPUT; bit <<= 1)
      if (t.kinds & bit) kinds.push_back(host::kind_name(static_cast<sluice_kind>(bit)));
    nlohmann::json schema = nullptr;
    if (!t.config_schema.empty()) {
      schema = nlohmann::json::parse(t.config_schema, nullptr, /*allow_exceptions=*/false);
      if (schema.is_discarded()) schema = t.config_schema;  // shown as text if not JSON
    }
    out["types"].push_back({{"name", t.name},
                            {"kinds", kinds},
                            {"thread_safe", t.thread_safe()},
                            {"version", t.version},
                            {"description", t.description},
                            {"config_schema", schema},
                            {"file", ref.library->file().string()},
                            {"library", ref.library->name()},
                            {"abi", std::to_string(ref.library->abi_major()) + "." +
                                        std::to_string(ref.library->abi_minor())}});
  }
  out["errors"] = nlohmann::json::array();
  for (const auto& e : reg.errors())
    out["errors"].push_back({{"file", e.file.string()}, {"message", e.message}});
  out["folders"] = nlohmann::json::array();
  for (const auto& f : reg.folders()) out["folders"].push_back(f.string());
  return out;
}

}  // namespace

Command add_plugins_command(CLI::App& app) {
  struct Options {
    std::vector<std::string> dirs;
    bool json = false;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "plugins",
      "List the stage types found in the plugin folders (--plugin-dir, SLUICE_PLUGIN_PATH, "
      "built-ins) and every library that was rejected, with the reason. Exits 3 when a "
      "library was rejected.");
  cmd->add_option("--plugin-dir", opts->dirs, "Extra plugin folder (repeatable; searched first)")
      ->allow_extra_args(false);  // one folder per --plugin-dir
  cmd->add_flag("--json", opts->json, "Print JSON for scripts");
  return {cmd, [opts]() {
    PluginRegistry reg;
    add_linked_types(reg);
    reg.load(host::make_plugin_search_path({opts->dirs.begin(), opts->dirs.end()}));
    if (opts->json) {
      std::cout << to_json(reg).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                << '\n';
    } else {
      print_table(reg);
      for (const auto& e : reg.errors()) std::cerr << "sluice: error: " << e.message << '\n';
    }
    return reg.errors().empty() ? kExitOk : kExitPluginErrors;
  }};
}

}  // namespace sluice::cli
