// The host service table (`sluice_host`) and its callbacks. Each callback validates
// what the plugin asks against the current call, so a buggy plugin gets a refused call
// and a log line rather than corrupting the flow.
#include <cstring>
#include <string>

#include "abi_read.h"
#include "sluice/host/call_context.h"
#include "sluice/host/log.h"
#include "sluice/host/version.h"

namespace sluice::host {
namespace {

// Where ctx-less log lines of a library being loaded on this thread go.
thread_local LoadLogCapture* t_load_capture = nullptr;

sluice_status refuse(sluice_ctx* ctx, const std::string& why) {
  log(LogLevel::kError, ctx ? ctx->stage : std::string_view("plugin"), why);
  return SLUICE_ERROR;
}

// Whether an emitted output may name no parent message (see sluice_host.emit).
bool may_emit_without_input(const sluice_ctx* ctx) {
  return ctx->kind == SLUICE_KIND_SOURCE || ctx->kind == SLUICE_KIND_SIDE_INPUT ||
         ctx->kind == SLUICE_KIND_REDUCE || ctx->finishing;
}

bool input_index_ok(const sluice_ctx* ctx, size_t i, bool allow_no_input) {
  if (i == SLUICE_NO_INPUT) return allow_no_input;
  return i < ctx->input_count;
}

std::string bad_index(const sluice_ctx* ctx, const char* fn, size_t i) {
  if (i == SLUICE_NO_INPUT)
    return std::string(fn) + (std::string_view(fn) == "emit"
                                  ? ": SLUICE_NO_INPUT is only for sources, side-input "
                                    "retrievers, reduces and finish()"
                                  : ": needs the index of a message in the batch, not "
                                    "SLUICE_NO_INPUT");
  return std::string(fn) + ": input index " + std::to_string(i) + " is out of range (batch of " +
         std::to_string(ctx->input_count) + ")";
}

// Pointers with counts: NULL only with a count of 0; string data NULL only when empty.
bool valid_strs(const sluice_str* p, size_t n) {
  if (p == nullptr) return n == 0;
  for (size_t i = 0; i < n; ++i)
    if (p[i].data == nullptr && p[i].size != 0) return false;
  return true;
}

// Why an output is malformed, or nullptr (a literal: nothing is built on the hot path).
const char* invalid_output(const sluice_output& o) {
  if (o.value.data == nullptr && o.value.size != 0) return "value.data is NULL with a size";
  if (!valid_strs(o.keys, o.key_count)) return "keys is NULL (or holds a NULL string) with a count";
  if (!valid_strs(o.tags, o.tag_count)) return "tags is NULL (or holds a NULL string) with a count";
  if (o.headers == nullptr && o.header_count != 0) return "headers is NULL with a count";
  for (size_t i = 0; i < o.header_count; ++i)
    if (!valid_strs(&o.headers[i].key, 1) || !valid_strs(&o.headers[i].value, 1))
      return "a header holds a NULL string with a size";
  if (o.id.data == nullptr && o.id.size != 0) return "id.data is NULL with a size";
  return nullptr;
}

sluice_status do_emit(sluice_ctx* ctx, size_t input_index, const sluice_output* out) {
  if (ctx == nullptr) return refuse(ctx, "emit: ctx is NULL");
  if (ctx->kind == SLUICE_KIND_SINK) return refuse(ctx, "emit: a sink cannot emit; use respond");
  if (!input_index_ok(ctx, input_index, may_emit_without_input(ctx)))
    return refuse(ctx, bad_index(ctx, "emit", input_index));
  sluice_output copy;
  // struct_size must at least cover the value; later fields default to "inherit".
  if (!read_sized(out, &copy, SLUICE_SIZE_THROUGH(sluice_output, value)))
    return refuse(ctx, "emit: output is NULL or its struct_size is too small");
  if (const char* why = invalid_output(copy)) return refuse(ctx, std::string("emit: ") + why);
  if (ctx->sink == nullptr) return refuse(ctx, "emit: not allowed in this call");
  // Zero is the default of every output field, event time included: inherit.
  if (copy.event_time == 0) copy.event_time = SLUICE_TIME_UNSET;
  ctx->sink->on_emit(input_index, copy);
  return SLUICE_OK;
}

sluice_status do_respond(sluice_ctx* ctx, size_t input_index, sluice_bytes value) {
  if (ctx == nullptr) return refuse(ctx, "respond: ctx is NULL");
  if (ctx->kind != SLUICE_KIND_SINK) return refuse(ctx, "respond: only sinks respond");
  if (!input_index_ok(ctx, input_index, false))
    return refuse(ctx, bad_index(ctx, "respond", input_index));
  if (value.data == nullptr && value.size != 0)
    return refuse(ctx, "respond: value.data is NULL with a non-zero size");
  if (ctx->sink == nullptr) return refuse(ctx, "respond: not allowed in this call");
  ctx->sink->on_respond(input_index, value);
  return SLUICE_OK;
}

sluice_status do_set_outcome(sluice_ctx* ctx, size_t input_index, sluice_outcome outcome,
                             const char* reason, size_t reason_size) {
  if (ctx == nullptr) return refuse(ctx, "set_outcome: ctx is NULL");
  if (ctx->kind != SLUICE_KIND_SINK && ctx->kind != SLUICE_KIND_MAP)
    return refuse(ctx, "set_outcome: only sinks and maps set outcomes");
  if (outcome != SLUICE_OUTCOME_OK && outcome != SLUICE_OUTCOME_RETRY &&
      outcome != SLUICE_OUTCOME_FAILED)
    return refuse(ctx, "set_outcome: unknown outcome " + std::to_string(outcome));
  if (ctx->kind == SLUICE_KIND_MAP && outcome == SLUICE_OUTCOME_RETRY)
    return refuse(ctx, "set_outcome: a map fails a message (FAILED); RETRY is for sinks");
  if (!input_index_ok(ctx, input_index, false))
    return refuse(ctx, bad_index(ctx, "set_outcome", input_index));
  if (ctx->sink == nullptr) return refuse(ctx, "set_outcome: not allowed in this call");
  ctx->sink->on_outcome(input_index, outcome,
                        reason ? std::string_view(reason, reason_size) : std::string_view());
  return SLUICE_OK;
}

sluice_status do_side_input(sluice_ctx* ctx, const char* name, size_t name_size,
                            sluice_bytes* value, uint64_t* version) {
  if (ctx == nullptr) return refuse(ctx, "side_input: ctx is NULL");
  if (value == nullptr) return refuse(ctx, "side_input: value is NULL");
  if (name == nullptr && name_size != 0) return refuse(ctx, "side_input: name is NULL with a size");
  const std::string_view n(name ? name : "", name_size);
  const SideInputValue* v = ctx->side_inputs ? ctx->side_inputs->find(n) : nullptr;
  if (v == nullptr) {
    if (ctx->side_inputs == nullptr || !ctx->side_inputs->declares(n))
      return refuse(ctx, "side_input: the stage does not list side input '" + std::string(n) +
                             "'; add it to the stage's sideInputs: in the flow");
    return refuse(ctx, "side_input: '" + std::string(n) + "' has no value yet");
  }
  value->data = reinterpret_cast<const uint8_t*>(v->bytes.data());
  value->size = v->bytes.size();
  if (version) *version = v->version;
  return SLUICE_OK;
}

// The callbacks the table holds. No C++ exception may cross into plugin code (it would
// unwind through C frames and skip the plugin's cleanup), so each is a wall: anything
// thrown below (a CallSink, an allocation) becomes SLUICE_ERROR or is swallowed.
sluice_status cb_emit(sluice_ctx* ctx, size_t input_index, const sluice_output* out) noexcept {
  try {
    return do_emit(ctx, input_index, out);
  } catch (...) {
    return SLUICE_ERROR;
  }
}

sluice_status cb_respond(sluice_ctx* ctx, size_t input_index, sluice_bytes value) noexcept {
  try {
    return do_respond(ctx, input_index, value);
  } catch (...) {
    return SLUICE_ERROR;
  }
}

sluice_status cb_set_outcome(sluice_ctx* ctx, size_t input_index, sluice_outcome outcome,
                             const char* reason, size_t reason_size) noexcept {
  try {
    return do_set_outcome(ctx, input_index, outcome, reason, reason_size);
  } catch (...) {
    return SLUICE_ERROR;
  }
}

sluice_status cb_side_input(sluice_ctx* ctx, const char* name, size_t name_size,
                            sluice_bytes* value, uint64_t* version) noexcept {
  try {
    return do_side_input(ctx, name, name_size, value, version);
  } catch (...) {
    return SLUICE_ERROR;
  }
}

void cb_set_error(sluice_ctx* ctx, const char* message, size_t message_size) noexcept {
  if (ctx == nullptr) return;
  try {
    ctx->error.assign(message ? message : "", message ? message_size : 0);
  } catch (...) {
  }
}

void cb_log(sluice_ctx* ctx, sluice_log_level level, const char* message,
            size_t message_size) noexcept {
  try {
    std::string_view text(message ? message : "", message ? message_size : 0);
    if (ctx == nullptr && t_load_capture != nullptr) {
      t_load_capture->add(level, std::string(text));
      return;
    }
    log(from_abi(level), ctx ? ctx->stage : std::string_view("plugin"), text);
  } catch (...) {
  }
}

const sluice_host kHostApi = {
    sizeof(sluice_host),
    SLUICE_ABI_VERSION_MAJOR,
    SLUICE_ABI_VERSION_MINOR,
    SLUICE_VERSION,
    &cb_emit,
    &cb_respond,
    &cb_set_outcome,
    &cb_set_error,
    &cb_log,
    &cb_side_input,
};

}  // namespace

const sluice_host* host_api() { return &kHostApi; }

LoadLogCapture::LoadLogCapture() : previous_(t_load_capture) { t_load_capture = this; }
LoadLogCapture::~LoadLogCapture() { t_load_capture = previous_; }

}  // namespace sluice::host
