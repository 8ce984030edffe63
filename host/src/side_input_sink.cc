#include "sluice/host/side_input_sink.h"

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>

namespace sluice::host {
namespace {

const sluice_host* g_host = nullptr;
std::atomic<SideInputManager*> g_manager{nullptr};

sluice_status fail(sluice_ctx* ctx, sluice_status status, const std::string& message) {
  g_host->set_error(ctx, message.data(), message.size());
  return status;
}

struct SideInputSink {
  SideInputManager* manager;
  std::string name;
};

sluice_status create(sluice_ctx* ctx, const sluice_create_args* args, void** instance) {
  if (args->kind != SLUICE_KIND_SINK) return fail(ctx, SLUICE_ERROR_CONFIG, "side-input is a sink");
  const nlohmann::json config = nlohmann::json::parse(args->config_json, nullptr, false);
  if (!config.is_object() || !config.contains("name") || !config["name"].is_string())
    return fail(ctx, SLUICE_ERROR_CONFIG, "config.name: name the side input to set, e.g. config: {name: rules}");
  const std::string name = config["name"].get<std::string>();
  SideInputManager* manager = g_manager.load();
  if (manager == nullptr)
    return fail(ctx, SLUICE_ERROR_CONFIG,
                "the side-input sink needs `sluice run` and the flow's sideInputs: "
                "(it sets a side input the flow declares; see docs/side-inputs.md)");
  bool declared = false;
  for (const SideInputManager::Status& s : manager->list()) declared = declared || s.name == name;
  if (!declared)
    return fail(ctx, SLUICE_ERROR_CONFIG,
                "config.name: the flow declares no side input \"" + name + "\" (add it under sideInputs:)");
  *instance = new SideInputSink{manager, name};
  return SLUICE_OK;
}

void destroy(void* instance) { delete static_cast<SideInputSink*>(instance); }

sluice_status process(void* instance, sluice_ctx* ctx, const sluice_batch* batch) {
  auto* s = static_cast<SideInputSink*>(instance);
  if (batch->count == 0) return SLUICE_OK;
  const sluice_bytes v = batch->messages[batch->count - 1]->value;
  try {
    s->manager->set(s->name, std::string(reinterpret_cast<const char*>(v.data), v.size));
  } catch (const std::exception& e) {
    return fail(ctx, SLUICE_ERROR, "setting side input \"" + s->name + "\" failed: " + e.what());
  }
  return SLUICE_OK;
}

const sluice_type kType = {
    .struct_size = sizeof(sluice_type),
    .kinds = SLUICE_KIND_SINK,
    .flags = 0,
    .name = kSideInputSinkType,
    .version = "0.1.0",
    .description = "sets a side input's value from each message (the flow's sideInputs:)",
    .config_schema = R"({"type": "object", "additionalProperties": false, "required": ["name"],
                         "properties": {"name": {"type": "string", "minLength": 1}}})",
    .create = create,
    .destroy = destroy,
    .process = process,
    .ack = nullptr,
    .finish = nullptr,
    .check = nullptr,
    .pending = nullptr,
    .side_input_changed = nullptr,
};
const sluice_type* const kTypes[] = {&kType};

const sluice_library kLibrary = {
    .struct_size = sizeof(sluice_library),
    .abi_major = SLUICE_ABI_VERSION_MAJOR,
    .abi_minor = SLUICE_ABI_VERSION_MINOR,
    .name = "sluice-side-input",
    .types = kTypes,
    .type_count = 1,
    .unload = nullptr,
};

}  // namespace

const sluice_library* side_input_sink_library(const sluice_host* host) {
  g_host = host;
  return &kLibrary;
}

void attach_side_input_manager(SideInputManager* manager) { g_manager.store(manager); }

}  // namespace sluice::host
