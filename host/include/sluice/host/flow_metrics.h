// Counters, gauges and latency histograms of a running flow, and their Prometheus text
// rendering.
//
// Workers update counters once per batch (relaxed atomics: no lock and no allocation
// on the hot path); readers (the /metrics endpoint, the progress line, the summary)
// read them at any time. Every metric is labelled with the flow and the stage or edge.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sluice::host {

using Counter = std::atomic<uint64_t>;

inline void bump(Counter& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
inline uint64_t read(const Counter& c) { return c.load(std::memory_order_relaxed); }

// A histogram of durations with fixed exponential buckets (1us .. ~16s, x2 each).
class LatencyHistogram {
 public:
  static constexpr size_t kBuckets = 25;  // upper bounds 1us * 2^i, i in [0, 24]
  void record(std::chrono::nanoseconds d);
  // Cumulative counts per bucket bound (seconds), total count and sum in seconds.
  struct Snapshot {
    std::array<uint64_t, kBuckets> cumulative{};
    uint64_t count = 0;
    double sum_seconds = 0;
  };
  Snapshot snapshot() const;
  static double bound_seconds(size_t i) { return 1e-6 * static_cast<double>(1ull << i); }

 private:
  std::array<Counter, kBuckets + 1> buckets_{};  // the last one is +Inf
  Counter sum_ns_{0};
};

struct StageMetrics {
  std::string stage;
  std::string kind;
  Counter in{0};         // messages delivered to the stage's workers
  Counter out{0};        // messages the stage sent on (copies over every edge)
  Counter dropped{0};    // dropped: drop tag, no matching edge, or onError drop
  Counter failed{0};     // ended in an error: dropped by policy, fallback, or failing the flow
  Counter retried{0};    // messages sent to a retry
  Counter errors{0};     // failed calls (error status or exception)
  Counter fallback{0};   // messages routed to the fallback sink
  Counter acked{0};      // source: messages acknowledged
  Counter produced{0};   // source: messages emitted (before routing: one per message)
  Counter responses{0};  // sink: results handed back (serve)
  Counter late{0};       // reduce: messages later than every window they belong to
  Counter windows_closed{0};              // reduce: windows closed (results emitted)
  std::atomic<int64_t> open_windows{0};   // reduce: windows open now
  std::atomic<int64_t> watermark{INT64_MIN};  // reduce: its input watermark (ms; INT64_MIN: none yet)
  std::atomic<int64_t> in_progress{0};  // taken by a worker, not yet finished
  // Source: the backlog its workers' pending() reported (ABI 1.2), summed over the
  // workers that know theirs; shown only once at least one has reported.
  std::atomic<int64_t> pending{0};
  std::atomic<int32_t> pending_reporters{0};
  LatencyHistogram process_seconds;     // per process() call
  std::function<uint64_t()> queue_depth;     // messages waiting in the input queues
  std::function<uint64_t()> queue_capacity;
};

struct EdgeMetrics {
  std::string from, to;
  Counter messages{0};
};

class FlowMetrics {
 public:
  explicit FlowMetrics(std::string flow) : flow_(std::move(flow)) {}
  StageMetrics& add_stage(const std::string& stage, const std::string& kind);
  EdgeMetrics& add_edge(const std::string& from, const std::string& to);
  const std::vector<std::unique_ptr<StageMetrics>>& stages() const { return stages_; }
  const std::vector<std::unique_ptr<EdgeMetrics>>& edges() const { return edges_; }
  const std::string& flow() const { return flow_; }

  // The Prometheus text exposition format (version 0.0.4).
  std::string prometheus() const;

 private:
  std::string flow_;
  std::vector<std::unique_ptr<StageMetrics>> stages_;
  std::vector<std::unique_ptr<EdgeMetrics>> edges_;
};

}  // namespace sluice::host
