// One plugin instance: the void* a type's create() returned, with its type and a
// reference that keeps the library loaded, destroyed exactly once.
//
// Each call takes the calling thread's sluice_ctx (see call_context.h), resets it for
// the call and returns the plugin's status; when the status is an error the context's
// `error` holds the plugin's message (or a generic one if it set none).
//
// Thread-safety: as the type declares. A non-thread-safe instance must be used by one
// thread at a time; this class adds no locking (the stage runner owns that decision).
#pragma once

#include <sluice/plugin.h>

#include <memory>
#include <string>

#include "sluice/host/call_context.h"
#include "sluice/host/plugin_registry.h"

namespace sluice::host {

struct InstanceSpec {
  sluice_kind kind = SLUICE_KIND_MAP;
  std::string stage_name;
  std::string config_json = "{}";
  std::string flow_dir;
  uint32_t worker_index = 0;
  uint32_t worker_count = 1;
  uint32_t flow_mode = SLUICE_FLOW_JOB;
};

class PluginInstance {
 public:
  // Calls the type's create(). On failure returns null, sets *status to the plugin's
  // status and *error to "<stage>: <type> (<file>): <message>".
  static std::unique_ptr<PluginInstance> create(const PluginTypeRef& type,
                                                const InstanceSpec& spec, sluice_ctx* ctx,
                                                sluice_status* status, std::string* error);

  // Calls the type's optional check() (ABI 1.2) for a stage that would be created with
  // `spec`. SLUICE_OK when the type has none; otherwise the plugin's status, with its
  // message in *error (no "<stage>: <type>" prefix: the caller places it).
  static sluice_status check(const PluginTypeRef& type, const InstanceSpec& spec,
                             sluice_ctx* ctx, std::string* error);

  ~PluginInstance();
  PluginInstance(const PluginInstance&) = delete;
  PluginInstance& operator=(const PluginInstance&) = delete;

  sluice_status process(sluice_ctx* ctx, const sluice_batch& batch);
  // Returns SLUICE_OK without calling when the type has no ack / finish.
  sluice_status ack(sluice_ctx* ctx, const sluice_batch& batch);
  sluice_status finish(sluice_ctx* ctx);

  // A source's backlog from the type's optional pending() (ABI 1.2); -1 when unknown.
  // On the instance's thread (as process), between calls.
  int64_t pending();

  // Tells the instance a side input it reads has a new version (the type's optional
  // side_input_changed, ABI 1.3; SLUICE_OK without a call when it has none). No outputs.
  sluice_status side_input_changed(sluice_ctx* ctx, std::string_view name, uint64_t version);
  bool wants_side_input_changes() const { return type_.type->side_input_changed != nullptr; }

  const PluginType& type() const { return *type_.type; }
  bool has_ack() const { return type_.type->ack != nullptr; }

 private:
  PluginInstance(PluginTypeRef type, void* instance)
      : type_(std::move(type)), instance_(instance) {}
  static void ensure_error(sluice_status s, sluice_ctx* ctx, const char* call);
  sluice_status checked(sluice_status s, sluice_ctx* ctx, const char* call,
                        bool source_states) const;

  PluginTypeRef type_;  // declared first: destroyed last, after destroy() ran
  void* instance_;
};

// A one-line description of a status for messages ("error", "config error", ...).
const char* status_name(sluice_status s);

}  // namespace sluice::host
