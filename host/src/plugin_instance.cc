#include "sluice/host/plugin_instance.h"

namespace sluice::host {

const char* status_name(sluice_status s) {
  switch (s) {
    case SLUICE_OK: return "ok";
    case SLUICE_IDLE: return "idle";
    case SLUICE_END: return "end";
    case SLUICE_ERROR: return "error";
    case SLUICE_ERROR_CONFIG: return "config error";
    case SLUICE_ERROR_FATAL: return "fatal error";
  }
  return "unknown status";
}

void PluginInstance::ensure_error(sluice_status s, sluice_ctx* ctx, const char* call) {
  if (s < 0 && ctx->error.empty())
    ctx->error = std::string(call) + " returned " + status_name(s) + " without a message";
}

// What process/ack/finish may return: OK, IDLE and END (sources), ERROR and FATAL.
// Anything else (SLUICE_ERROR_CONFIG belongs to create, or a number the ABI does not
// define) is an error, said so, so the stage's error policy applies.
sluice_status PluginInstance::checked(sluice_status s, sluice_ctx* ctx, const char* call,
                                      bool source_states) const {
  switch (s) {
    case SLUICE_OK:
    case SLUICE_ERROR:
    case SLUICE_ERROR_FATAL:
      return s;
    case SLUICE_IDLE:
    case SLUICE_END:
      if (source_states) return s;
      break;
    case SLUICE_ERROR_CONFIG:
      break;
  }
  std::string was = ctx->error;
  ctx->error = std::string(call) + " returned status " + std::to_string(s) +
               ", which " + call + " may not return" + (was.empty() ? "" : ": " + was);
  return SLUICE_ERROR;
}

namespace {

// What create and check receive; points into `type` and `spec`.
sluice_create_args create_args(const PluginTypeRef& type, const InstanceSpec& spec) {
  sluice_create_args args{};
  args.struct_size = sizeof(args);
  args.kind = spec.kind;
  args.type_name = type.type->name.c_str();
  args.stage_name = spec.stage_name.c_str();
  args.config_json = spec.config_json.c_str();
  args.flow_dir = spec.flow_dir.c_str();
  args.worker_index = spec.worker_index;
  args.worker_count = spec.worker_count;
  args.flow_mode = spec.flow_mode;
  return args;
}

}  // namespace

sluice_status PluginInstance::check(const PluginTypeRef& type, const InstanceSpec& spec,
                                    sluice_ctx* ctx, std::string* error) {
  if (type.type->check == nullptr || !type.type->supports(spec.kind)) return SLUICE_OK;
  const sluice_create_args args = create_args(type, spec);
  CallSink* sink = ctx->sink;  // check may not emit
  ctx->sink = nullptr;
  ctx->begin_call(0);
  sluice_status s = type.type->check(ctx, &args);
  ctx->sink = sink;
  if (s == SLUICE_OK) return s;
  if (s != SLUICE_ERROR_CONFIG && s != SLUICE_ERROR && s != SLUICE_ERROR_FATAL) {
    ctx->error = "check returned status " + std::to_string(s) + ", which check may not return" +
                 (ctx->error.empty() ? "" : ": " + ctx->error);
    s = SLUICE_ERROR;
  }
  ensure_error(s, ctx, "check");
  *error = ctx->error;
  return s;
}

int64_t PluginInstance::pending() {
  if (type_.type->pending == nullptr) return -1;
  const int64_t n = type_.type->pending(instance_);
  return n < 0 ? -1 : n;
}

std::unique_ptr<PluginInstance> PluginInstance::create(const PluginTypeRef& type,
                                                       const InstanceSpec& spec,
                                                       sluice_ctx* ctx, sluice_status* status,
                                                       std::string* error) {
  const sluice_create_args args = create_args(type, spec);

  auto fail = [&](sluice_status s) -> std::unique_ptr<PluginInstance> {
    *status = s;
    *error = spec.stage_name + ": " + type.type->name + " (" +
             type.library->file().string() + "): " + ctx->error;
    return nullptr;
  };
  ctx->begin_call(0);
  if (!type.type->supports(spec.kind) || ctx->kind != spec.kind) {
    ctx->error = "type " + type.type->name + " has kinds " + kinds_to_string(type.type->kinds) +
                 "; it cannot be created as " + kinds_to_string(spec.kind);
    return fail(SLUICE_ERROR_CONFIG);
  }
  // create may not emit: run it with no output sink.
  CallSink* sink = ctx->sink;
  ctx->sink = nullptr;
  void* instance = nullptr;
  sluice_status s = type.type->create(ctx, &args, &instance);
  ctx->sink = sink;
  if (s == SLUICE_OK) return std::unique_ptr<PluginInstance>(new PluginInstance(type, instance));
  if (s != SLUICE_ERROR && s != SLUICE_ERROR_CONFIG && s != SLUICE_ERROR_FATAL) {
    // Not a status create may return: a failure, and whatever it made is released.
    if (instance != nullptr) type.type->destroy(instance);
    ctx->error = "create returned status " + std::to_string(s) + ", which create may not return" +
                 (ctx->error.empty() ? "" : ": " + ctx->error);
    return fail(SLUICE_ERROR);
  }
  ensure_error(s, ctx, "create");
  return fail(s);
}

PluginInstance::~PluginInstance() { type_.type->destroy(instance_); }

sluice_status PluginInstance::process(sluice_ctx* ctx, const sluice_batch& batch) {
  ctx->begin_call(batch.count);
  sluice_status s = checked(type_.type->process(instance_, ctx, &batch), ctx, "process",
                            ctx->kind == SLUICE_KIND_SOURCE);
  ensure_error(s, ctx, "process");
  return s;
}

sluice_status PluginInstance::ack(sluice_ctx* ctx, const sluice_batch& batch) {
  if (type_.type->ack == nullptr) return SLUICE_OK;
  // Acks produce no outputs: any index is refused by making the call input-less
  // and sink-less.
  sluice::host::CallSink* sink = ctx->sink;
  ctx->sink = nullptr;
  ctx->begin_call(0);
  sluice_status s = checked(type_.type->ack(instance_, ctx, &batch), ctx, "ack", false);
  ctx->sink = sink;
  ensure_error(s, ctx, "ack");
  return s;
}

sluice_status PluginInstance::side_input_changed(sluice_ctx* ctx, std::string_view name,
                                                uint64_t version) {
  if (type_.type->side_input_changed == nullptr) return SLUICE_OK;
  // No outputs: the call is input-less and sink-less, as an ack is.
  sluice::host::CallSink* sink = ctx->sink;
  ctx->sink = nullptr;
  ctx->begin_call(0);
  sluice_status s = checked(type_.type->side_input_changed(instance_, ctx, name.data(), name.size(),
                                                           version),
                            ctx, "side_input_changed", false);
  ctx->sink = sink;
  ensure_error(s, ctx, "side_input_changed");
  return s;
}

sluice_status PluginInstance::finish(sluice_ctx* ctx) {
  if (type_.type->finish == nullptr) return SLUICE_OK;
  ctx->begin_call(0, /*finish_call=*/true);
  sluice_status s = checked(type_.type->finish(instance_, ctx), ctx, "finish", false);
  ensure_error(s, ctx, "finish");
  return s;
}

}  // namespace sluice::host
