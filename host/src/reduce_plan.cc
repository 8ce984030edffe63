#include "sluice/host/reduce_plan.h"

#include "sluice/host/flow_plan.h"
#include "sluice/host/window_assigner.h"

namespace sluice::host {
namespace {

int64_t to_ms(const google::protobuf::Duration& d) { return d.seconds() * 1000 + d.nanos() / 1'000'000; }

std::string ms_text(int64_t ms) {
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace

std::string ReducePlan::describe() const {
  std::string s;
  switch (window) {
    case Window::kFixed: s = "fixed " + ms_text(length_ms); break;
    case Window::kSliding: s = "sliding " + ms_text(length_ms) + " every " + ms_text(slide_ms); break;
    case Window::kSession: s = "session gap " + ms_text(gap_ms); break;
  }
  if (!keyed) s += ", unkeyed";
  if (allowed_lateness_ms > 0) s += ", lateness " + ms_text(allowed_lateness_ms);
  return s;
}

bool plan_reduce(const LoadedFlow& flow, int i, sluice_kind kind, std::optional<ReducePlan>* reduce,
                 SourceWatermarkPlan* watermark, Diagnostics* diagnostics) {
  const size_t errors_before = diagnostics->size();
  const flow::Stage& s = flow.spec.stages(i);
  const std::string path = "stages[" + std::to_string(i) + "]";
  auto error = [&](const std::string& key, std::string message, std::string hint = {}) {
    diagnostics->add(flow.where(path + "." + key), std::move(message), std::move(hint));
  };

  if (kind != SLUICE_KIND_REDUCE) {
    for (const char* key : {"window", "keyed", "allowedLateness", "late"}) {
      const bool set = std::string(key) == "window"            ? s.has_window()
                       : std::string(key) == "keyed"           ? s.has_keyed()
                       : std::string(key) == "allowedLateness" ? s.has_allowed_lateness()
                                                               : s.late() != flow::LATE_ACTION_UNSPECIFIED;
      if (set)
        error(key, std::string(key) + " applies to reduce stages only; stage \"" + s.name() + "\" is not one",
              "remove it, or make the stage reduce: <type>");
    }
  }
  if (kind != SLUICE_KIND_SOURCE && s.has_watermark())
    error("watermark", "watermark applies to source stages only; stage \"" + s.name() + "\" is not one",
          "set it on the source that reads the events");

  if (kind == SLUICE_KIND_SOURCE && s.has_watermark()) {
    const flow::SourceWatermark& w = s.watermark();
    watermark->max_delay_ms = to_ms(w.max_delay());
    watermark->idle_timeout_ms = to_ms(w.idle_timeout());
    if (watermark->max_delay_ms < 0) error("watermark.maxDelay", "maxDelay must not be negative");
    if (w.has_idle_timeout() && watermark->idle_timeout_ms <= 0)
      error("watermark.idleTimeout", "idleTimeout must be at least 1ms", "or remove it: no idle progress");
  }

  if (kind != SLUICE_KIND_REDUCE) return diagnostics->size() == errors_before;

  ReducePlan p;
  p.keyed = s.has_keyed() ? s.keyed() : true;
  p.route_late = s.late() == flow::LATE_ACTION_ROUTE;
  if (s.has_allowed_lateness()) {
    p.allowed_lateness_ms = to_ms(s.allowed_lateness());
    if (p.allowed_lateness_ms < 0) error("allowedLateness", "allowedLateness must not be negative");
  }
  const flow::Window& w = s.window();
  std::string why;
  switch (s.has_window() ? w.kind_case() : flow::Window::KIND_NOT_SET) {
    case flow::Window::kFixed:
      p.window = ReducePlan::Window::kFixed;
      p.length_ms = to_ms(w.fixed());
      if (!WindowAssigner::fixed(p.length_ms, &why)) error("window.fixed", "window: " + why, "e.g. fixed: 10s");
      break;
    case flow::Window::kSliding:
      p.window = ReducePlan::Window::kSliding;
      p.length_ms = to_ms(w.sliding().length());
      p.slide_ms = to_ms(w.sliding().slide());
      if (!WindowAssigner::sliding(p.length_ms, p.slide_ms, &why))
        error("window.sliding", "window: " + why, "e.g. sliding: {length: 10s, slide: 5s}");
      break;
    case flow::Window::kSession:
      p.window = ReducePlan::Window::kSession;
      p.gap_ms = to_ms(w.session().gap());
      if (p.gap_ms <= 0) error("window.session", "window: a session's gap must be at least 1ms", "e.g. session: {gap: 30s}");
      break;
    case flow::Window::KIND_NOT_SET:
      error(s.has_window() ? "window" : "reduce", "reduce stage \"" + s.name() + "\" has no window",
            "add window: {fixed: 10s}, {sliding: {length: 10s, slide: 5s}} or {session: {gap: 30s}}");
      break;
  }
  if (s.has_threads() && s.threads() != 1)
    error("threads", "a reduce stage runs on one worker (threads: 1) in this version of sluice",
          "remove threads; key-partitioned reduce workers are planned");
  if (s.ordered()) error("ordered", "ordered does not apply to a reduce stage (it sees every key in order)");
  if (s.has_on_error())
    error("onError", "onError does not apply to a reduce stage: a failed reducer call fails the flow, "
                     "because a window's state cannot be replayed",
          "remove onError; handle bad input in the reducer (or a map before it)");
  *reduce = p;
  return diagnostics->size() == errors_before;
}

bool plan_reduce_paths(std::vector<StagePlan>* stages, const std::vector<EdgePlan>& edges,
                       const LoadedFlow& flow, Diagnostics* diagnostics) {
  const size_t errors_before = diagnostics->size();
  // Walk upstream from every reduce.
  std::vector<int> todo;
  for (size_t i = 0; i < stages->size(); ++i)
    if ((*stages)[i].kind == SLUICE_KIND_REDUCE) todo.push_back(static_cast<int>(i));
  std::vector<std::string> feeds(stages->size());  // the reduce each stage feeds (first found)
  while (!todo.empty()) {
    const int v = todo.back();
    todo.pop_back();
    for (int e : (*stages)[v].in_edges) {
      const int u = edges[e].from;
      if (u < 0 || (*stages)[u].feeds_reduce) continue;
      (*stages)[u].feeds_reduce = true;
      feeds[u] = (*stages)[v].kind == SLUICE_KIND_REDUCE ? (*stages)[v].name : feeds[v];
      todo.push_back(u);
    }
  }
  for (size_t i = 0; i < stages->size(); ++i) {
    const StagePlan& s = (*stages)[i];
    if (!s.feeds_reduce || s.threads == 1) continue;
    diagnostics->add(flow.where(s.path + ".threads"),
                     "stage \"" + s.name + "\" feeds reduce stage \"" + feeds[i] + "\" and has threads: " +
                         std::to_string(s.threads) +
                         "; stages upstream of a reduce run one worker in this version of sluice, so "
                         "that watermarks arrive in order",
                     "remove threads (or set threads: 1) on this stage");
  }
  return diagnostics->size() == errors_before;
}

}  // namespace sluice::host
