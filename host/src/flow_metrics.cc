#include "sluice/host/flow_metrics.h"

#include <bit>
#include <cstdio>

namespace sluice::host {

void LatencyHistogram::record(std::chrono::nanoseconds d) {
  const uint64_t ns = d.count() < 0 ? 0 : static_cast<uint64_t>(d.count());
  const uint64_t us = ns / 1000;
  // Bucket i holds durations up to 2^i us: the index is the bit width of (us - 1).
  size_t i = us <= 1 ? 0 : static_cast<size_t>(std::bit_width(us - 1));
  if (i > kBuckets) i = kBuckets;
  bump(buckets_[i]);
  bump(sum_ns_, ns);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
  Snapshot s;
  uint64_t running = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    running += read(buckets_[i]);
    s.cumulative[i] = running;
  }
  s.count = running + read(buckets_[kBuckets]);
  s.sum_seconds = static_cast<double>(read(sum_ns_)) / 1e9;
  return s;
}

StageMetrics& FlowMetrics::add_stage(const std::string& stage, const std::string& kind) {
  stages_.push_back(std::make_unique<StageMetrics>());
  stages_.back()->stage = stage;
  stages_.back()->kind = kind;
  return *stages_.back();
}

EdgeMetrics& FlowMetrics::add_edge(const std::string& from, const std::string& to) {
  edges_.push_back(std::make_unique<EdgeMetrics>());
  edges_.back()->from = from;
  edges_.back()->to = to;
  return *edges_.back();
}

namespace {

// Label values: escape backslash, quote and newline (the format's rules).
std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

std::string FlowMetrics::prometheus() const {
  std::string out;
  const std::string flow = "flow=\"" + escape(flow_) + "\"";
  auto stage_family = [&](const char* name, const char* type, const char* help,
                          auto value_of) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& s : stages_)
      out += std::string(name) + "{" + flow + ",stage=\"" + escape(s->stage) + "\",kind=\"" +
             s->kind + "\"} " + std::to_string(value_of(*s)) + "\n";
  };
  stage_family("sluice_stage_messages_in_total", "counter", "Messages delivered to the stage.",
               [](const StageMetrics& s) { return read(s.in); });
  stage_family("sluice_stage_messages_out_total", "counter",
               "Messages the stage sent on, counting each edge's copy.",
               [](const StageMetrics& s) { return read(s.out); });
  stage_family("sluice_stage_messages_dropped_total", "counter",
               "Messages dropped: drop tag, no matching edge, or onError drop.",
               [](const StageMetrics& s) { return read(s.dropped); });
  stage_family("sluice_stage_messages_failed_total", "counter",
               "Messages that ended in an error after retries.",
               [](const StageMetrics& s) { return read(s.failed); });
  stage_family("sluice_stage_messages_retried_total", "counter", "Messages sent to a retry.",
               [](const StageMetrics& s) { return read(s.retried); });
  stage_family("sluice_stage_messages_fallback_total", "counter",
               "Messages routed to the fallback sink.",
               [](const StageMetrics& s) { return read(s.fallback); });
  stage_family("sluice_stage_call_errors_total", "counter",
               "Plugin calls that failed (error status or exception).",
               [](const StageMetrics& s) { return read(s.errors); });
  stage_family("sluice_source_messages_produced_total", "counter",
               "Messages a source emitted (once each, before routing).",
               [](const StageMetrics& s) { return read(s.produced); });
  stage_family("sluice_sink_responses_total", "counter",
               "Results a sink answered requests with (serve).",
               [](const StageMetrics& s) { return read(s.responses); });
  stage_family("sluice_source_messages_acked_total", "counter",
               "Source messages whose every descendant finished.",
               [](const StageMetrics& s) { return read(s.acked); });
  stage_family("sluice_stage_in_progress_messages", "gauge",
               "Messages taken by the stage's workers and not yet finished.",
               [](const StageMetrics& s) { return s.in_progress.load(std::memory_order_relaxed); });
  bool any_pending = false;
  for (const auto& s : stages_) any_pending |= s->pending_reporters.load(std::memory_order_relaxed) > 0;
  if (any_pending) {
    out += "# HELP sluice_source_pending_messages Messages the source has yet to read, as its "
           "pending() says.\n# TYPE sluice_source_pending_messages gauge\n";
    for (const auto& s : stages_)
      if (s->pending_reporters.load(std::memory_order_relaxed) > 0)
        out += "sluice_source_pending_messages{" + flow + ",stage=\"" + escape(s->stage) +
               "\",kind=\"" + s->kind + "\"} " +
               std::to_string(s->pending.load(std::memory_order_relaxed)) + "\n";
  }
  // Reduce stages only.
  auto reduce_family = [&](const char* name, const char* type, const char* help, auto value_of) {
    bool any = false;
    for (const auto& s : stages_) any = any || s->kind == "reduce";
    if (!any) return;
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& s : stages_)
      if (s->kind == "reduce")
        out += std::string(name) + "{" + flow + ",stage=\"" + escape(s->stage) + "\"} " + value_of(*s) + "\n";
  };
  reduce_family("sluice_reduce_late_messages_total", "counter",
                "Messages later than every window they belong to (dropped or routed).",
                [](const StageMetrics& s) { return std::to_string(read(s.late)); });
  reduce_family("sluice_reduce_windows_closed_total", "counter", "Windows closed (their results emitted).",
                [](const StageMetrics& s) { return std::to_string(read(s.windows_closed)); });
  reduce_family("sluice_reduce_open_windows", "gauge", "Windows open now (one per key and window).",
                [](const StageMetrics& s) { return std::to_string(s.open_windows.load(std::memory_order_relaxed)); });
  reduce_family("sluice_reduce_watermark_seconds", "gauge",
                "The reduce stage's input watermark (Unix time; NaN before every input reported one).",
                [](const StageMetrics& s) {
                  const int64_t w = s.watermark.load(std::memory_order_relaxed);
                  return w == INT64_MIN ? std::string("NaN") : num(static_cast<double>(w) / 1000.0);
                });
  stage_family("sluice_stage_queue_depth_messages", "gauge",
               "Messages waiting in the stage's input queue.",
               [](const StageMetrics& s) { return s.queue_depth ? s.queue_depth() : 0; });
  stage_family("sluice_stage_queue_capacity_messages", "gauge",
               "Capacity of the stage's input queue.",
               [](const StageMetrics& s) { return s.queue_capacity ? s.queue_capacity() : 0; });

  out += "# HELP sluice_edge_messages_total Messages sent over the edge.\n"
         "# TYPE sluice_edge_messages_total counter\n";
  for (const auto& e : edges_)
    out += "sluice_edge_messages_total{" + flow + ",from=\"" + escape(e->from) + "\",to=\"" +
           escape(e->to) + "\"} " + std::to_string(read(e->messages)) + "\n";

  out += "# HELP sluice_stage_process_seconds Duration of the stage's process() calls.\n"
         "# TYPE sluice_stage_process_seconds histogram\n";
  for (const auto& s : stages_) {
    const std::string labels = flow + ",stage=\"" + escape(s->stage) + "\"";
    LatencyHistogram::Snapshot h = s->process_seconds.snapshot();
    for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i)
      out += "sluice_stage_process_seconds_bucket{" + labels + ",le=\"" +
             num(LatencyHistogram::bound_seconds(i)) + "\"} " +
             std::to_string(h.cumulative[i]) + "\n";
    out += "sluice_stage_process_seconds_bucket{" + labels + ",le=\"+Inf\"} " +
           std::to_string(h.count) + "\n";
    out += "sluice_stage_process_seconds_sum{" + labels + "} " + num(h.sum_seconds) + "\n";
    out += "sluice_stage_process_seconds_count{" + labels + "} " +
           std::to_string(h.count) + "\n";
  }
  return out;
}

}  // namespace sluice::host
