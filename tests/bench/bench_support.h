// What the engine benchmarks share: a plugin registry loaded once from the given folders,
// a bound flow plan from YAML text (a mistake in a benchmark's own flow exits 2 with the
// diagnostics: there is nothing to measure then), and the process's resident size.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <string>

#include "sluice/host/diagnostics.h"
#include "sluice/host/flow_loader.h"
#include "sluice/host/flow_plan.h"
#include "sluice/host/plugin_registry.h"

namespace sluice::bench {

// The registry of the first call's folders, for the process's life.
inline host::PluginRegistry& registry(std::initializer_list<const char*> folders) {
  static host::PluginRegistry reg = [&] {
    host::PluginRegistry r;
    for (const char* folder : folders) r.load_folder(folder);
    return r;
  }();
  return reg;
}

inline host::FlowPlan plan_of(const std::string& yaml, const host::PluginRegistry& registry) {
  host::Diagnostics d;
  std::optional<host::LoadedFlow> loaded = host::load_flow_text(yaml, "bench.yaml", "/tmp", {}, &d);
  std::optional<host::FlowPlan> plan;
  if (loaded) plan = host::plan_flow(*loaded, &d);
  if (!plan || !host::bind_plugins(&*plan, *loaded, registry, &d)) {
    std::fprintf(stderr, "%s", d.format().c_str());
    std::exit(2);
  }
  return *plan;
}

// This process's resident size (VmRSS) in KiB; -1 when /proc cannot tell.
inline long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace sluice::bench
