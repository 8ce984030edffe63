#include "sluice/serving/serving_source.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "sluice/serving/request_hub.h"

namespace sluice::serving {
namespace {

const sluice_host* g_host = nullptr;
std::atomic<RequestHub*> g_hub{nullptr};

// How long process() waits for a request when none is queued. Short: the runtime acks
// completed requests only between process calls, so a long wait would delay answers.
constexpr std::chrono::microseconds kMaxWait{250};

void set_error(sluice_ctx* ctx, const std::string& message) {
  g_host->set_error(ctx, message.data(), message.size());
}

struct ServingSource {
  RequestHub* hub = nullptr;
  std::string stage;
  std::vector<std::shared_ptr<PendingRequest>> taken;
  std::vector<sluice_header> headers;
};

sluice_status create(sluice_ctx* ctx, const sluice_create_args* args, void** instance) {
  if (args->kind != SLUICE_KIND_SOURCE) {
    set_error(ctx, "serving is a source");
    return SLUICE_ERROR_CONFIG;
  }
  if (std::strcmp(args->config_json, "{}") != 0) {
    set_error(ctx, "config: the serving source takes no config (the serving: block configures it)");
    return SLUICE_ERROR_CONFIG;
  }
  RequestHub* hub = g_hub.load();
  if (hub == nullptr) {
    set_error(ctx,
              "the serving source needs the flow's serving: block and `sluice run` "
              "(it takes its messages from HTTP requests; see docs/serving.md)");
    return SLUICE_ERROR_CONFIG;
  }
  auto* s = new ServingSource();
  s->hub = hub;
  s->stage = args->stage_name;
  *instance = s;
  return SLUICE_OK;
}

void destroy(void* instance) { delete static_cast<ServingSource*>(instance); }

sluice_status process(void* instance, sluice_ctx* ctx, const sluice_batch* batch) {
  auto* s = static_cast<ServingSource*>(instance);
  s->taken.clear();
  const auto wait = std::min<std::chrono::microseconds>(
      kMaxWait, std::chrono::microseconds(std::max<int64_t>(batch->budget_us, 0)));
  s->hub->take(std::max<size_t>(batch->max_messages, 1), wait, &s->taken);
  if (s->taken.empty()) return SLUICE_IDLE;
  const store::Time now = std::chrono::system_clock::now();
  sluice_status status = SLUICE_OK;
  for (size_t i = 0; i < s->taken.size(); ++i) {
    PendingRequest& r = *s->taken[i];
    s->headers.resize(r.headers.size());
    for (size_t h = 0; h < r.headers.size(); ++h)
      s->headers[h] = {{r.headers[h].first.data(), r.headers[h].first.size()},
                       {r.headers[h].second.data(), r.headers[h].second.size()}};
    sluice_output out{};
    out.struct_size = sizeof(out);
    out.value = {reinterpret_cast<const uint8_t*>(r.body.data()), r.body.size()};
    out.headers = s->headers.data();
    out.header_count = s->headers.size();
    out.id = {r.id.data(), r.id.size()};
    if (g_host->emit(ctx, SLUICE_NO_INPUT, &out) != SLUICE_OK) status = SLUICE_ERROR_FATAL;
    s->hub->note_read(r, s->stage, now);
  }
  if (status != SLUICE_OK) {
    set_error(ctx, "the host refused a request's message");
    return status;
  }
  // The host copied every message: the bodies are no longer needed here (the store
  // keeps them for a replay).
  for (auto& r : s->taken) std::string().swap(r->body);
  s->taken.clear();
  return SLUICE_OK;
}

sluice_status ack(void* instance, sluice_ctx*, const sluice_batch* batch) {
  auto* s = static_cast<ServingSource*>(instance);
  for (size_t i = 0; i < batch->count; ++i) {
    const sluice_str id = batch->messages[i]->id;
    s->hub->complete(std::string_view(id.data, id.size));
  }
  return SLUICE_OK;
}

int64_t pending(void* instance) {
  return static_cast<int64_t>(static_cast<ServingSource*>(instance)->hub->queued());
}

const sluice_type kType = {
    .struct_size = sizeof(sluice_type),
    .kinds = SLUICE_KIND_SOURCE,
    .flags = 0,
    .name = kServingSourceType,
    .version = "0.1.0",
    .description = "source of HTTP requests (the flow's serving: block); answer with the serve sink",
    .config_schema = R"({"type": "object", "additionalProperties": false})",
    .create = create,
    .destroy = destroy,
    .process = process,
    .ack = ack,
    .finish = nullptr,
    .check = nullptr,
    .pending = pending,
    .side_input_changed = nullptr,
};
const sluice_type* const kTypes[] = {&kType};

const sluice_library kLibrary = {
    .struct_size = sizeof(sluice_library),
    .abi_major = SLUICE_ABI_VERSION_MAJOR,
    .abi_minor = SLUICE_ABI_VERSION_MINOR,
    .name = "sluice-serving",
    .types = kTypes,
    .type_count = 1,
    .unload = nullptr,
};

}  // namespace

const sluice_library* serving_source_library(const sluice_host* host) {
  g_host = host;
  return &kLibrary;
}

void attach_hub(RequestHub* hub) { g_hub.store(hub); }

}  // namespace sluice::serving
