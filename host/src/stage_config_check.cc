#include "sluice/host/stage_config_check.h"

#include "sluice/host/call_context.h"
#include "sluice/host/plugin_instance.h"
#include "sluice/host/side_input_manager.h"

namespace sluice::host {
namespace {

// "config.module: no module named x" -> "config.module"; "" when the message does not
// start with a config path.
std::string config_path_of(const std::string& message) {
  if (message.rfind("config", 0) != 0) return {};
  const size_t colon = message.find(": ");
  if (colon == std::string::npos) return {};
  const std::string path = message.substr(0, colon);
  if (path.find(' ') != std::string::npos) return {};
  return path;
}

}  // namespace

bool check_stage_configs(const FlowPlan& plan, const LoadedFlow& flow, Diagnostics* diagnostics) {
  const size_t errors_before = diagnostics->size();
  for (const StagePlan& s : plan.stages) {
    if (!s.type) continue;  // unbound: bind_plugins said why
    InstanceSpec spec;
    spec.kind = s.kind;
    spec.stage_name = s.name;
    spec.config_json = s.config_json;
    spec.flow_dir = plan.dir.string();
    spec.worker_index = 0;
    spec.worker_count = s.threads;
    spec.flow_mode = plan.mode == FlowMode::kStreaming ? SLUICE_FLOW_STREAMING : SLUICE_FLOW_JOB;
    sluice_ctx ctx(s.kind, s.name, nullptr);
    std::string error;
    if (PluginInstance::check(s.type, spec, &ctx, &error) == SLUICE_OK) continue;
    const std::string config_path = config_path_of(error);
    diagnostics->add(flow.where(config_path.empty() ? s.path : s.path + "." + config_path),
                     "stage \"" + s.name + "\" (" + s.type_name + ", " +
                         s.type.library->file().string() + "): " + error);
  }
  // Side-input retrievers, the same way (kind side-input, the side input's name).
  for (const SideInputPlan& si : plan.side_inputs) {
    if (!si.type) continue;  // no retriever (a side-input sink sets it), or unbound
    const InstanceSpec spec = retriever_instance_spec(si, plan);
    sluice_ctx ctx(SLUICE_KIND_SIDE_INPUT, si.name, nullptr);
    std::string error;
    if (PluginInstance::check(si.type, spec, &ctx, &error) == SLUICE_OK) continue;
    const std::string config_path = config_path_of(error);
    diagnostics->add(flow.where(config_path.empty() ? si.path : si.path + "." + config_path),
                     "side input \"" + si.name + "\" (retriever " + si.type_name + ", " +
                         si.type.library->file().string() + "): " + error);
  }
  return diagnostics->size() == errors_before;
}

}  // namespace sluice::host
