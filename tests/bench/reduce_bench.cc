// The reduce path's benchmark (issue 7): a keyed count over fixed 1-second windows, in
// the real engine, against a single-thread hash-map loop over the same events.
//
//   flow        generator (N messages, keys: 10000, 100-byte values, event times
//               eventTimeStart + floor(n * step) ms) -> count (reduce, fixed 1 s windows,
//               keyed) -> blackhole, run by FlowRuntime (threads, queues, batches,
//               watermarks, lineage, metrics), default settings.
//   baseline    one thread, no engine: for the same n, the same key string
//               ("key-<n mod keys>", formatted per event as the generator does) and the
//               same event time, counts into std::unordered_map<(key, window start),
//               count>; the watermark is the largest event time seen (the source's
//               default maxDelay is 0), and when it passes a window's end, that window's
//               entries are "emitted" (formatted as the count reducer's result line)
//               and erased.
//   The step: 1 s windows over 10,000 keys are only realistic when a window holds many
//   messages per key. The default 0.001 ms puts 1,000,000 messages in each 1-second
//   window (100 per key), so a run of 20 M messages closes 20 windows' worth of 10,000
//   key-windows each, regularly, during the run. (--step 1 gives the degenerate case:
//   1,000 messages per window, each key-window opened and closed for one message.)
//
// Reports both median rates (of R interleaved rounds), flow/baseline, and checks that
// the engine emitted exactly as many results as the baseline. Then the memory: peak
// resident size while the flow runs N and 4N messages (sampled every 20 ms, against
// the size before): bounded by open windows (about 2 x 10,000 here), not messages.
//
//   usage: reduce_bench [--messages N] [--rounds R] [--keys K] [--step MS]
//                       [--only throughput|rss]
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench_support.h"
#include "sluice/host/flow_loader.h"
#include "sluice/host/flow_plan.h"
#include "sluice/host/flow_runtime.h"
#include "sluice/host/log.h"

namespace {

using namespace sluice::host;
using Clock = std::chrono::steady_clock;

// 2026-11-21T00:00:00Z: a whole second, so windows start at the first message.
constexpr int64_t kEventTimeStart = 1'795'219'200'000;

struct Options {
  uint64_t messages = 20'000'000;
  int rounds = 5;
  uint64_t keys = 10'000;
  double step = 0.001;
  std::string only;
};

PluginRegistry& registry() { return sluice::bench::registry({SLUICE_BUILTIN_DIR}); }

// Plans and binds a flow from YAML text; exits on any error.
FlowPlan plan_of(const std::string& yaml) { return sluice::bench::plan_of(yaml, registry()); }

std::string step_text(double step) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", step);
  return buf;
}

FlowPlan count_flow(const Options& o, uint64_t messages) {
  return plan_of("mode: job\nstages:\n"
                 "  - {name: in, source: generator, config: {count: " + std::to_string(messages) +
                 ", size: 100, keys: " + std::to_string(o.keys) +
                 ", eventTimeStart: " + std::to_string(kEventTimeStart) + ", eventTimeStep: " + step_text(o.step) +
                 "}}\n"
                 "  - {name: count, reduce: count, window: {fixed: 1s}}\n"
                 "  - {name: out, sink: blackhole}\n");
}

struct FlowRun {
  double seconds = 0;
  uint64_t results = 0;  // messages the sink received: one per closed (key, window)
};

FlowRun run_flow(const FlowPlan& plan) {
  FlowRuntime rt(plan);
  if (!rt.start()) {
    std::fprintf(stderr, "flow failed to start: %s\n", rt.result().error.c_str());
    std::exit(1);
  }
  rt.wait();
  if (rt.result().outcome != FlowResult::Outcome::kCompleted) {
    std::fprintf(stderr, "flow failed: %s\n", rt.result().error.c_str());
    std::exit(1);
  }
  FlowRun r;
  r.seconds = std::chrono::duration<double>(rt.elapsed()).count();
  for (const auto& s : rt.metrics().stages())
    if (s->stage == "out") r.results = read(s->in);
  return r;
}

// The baseline's table key: (key, window start).
struct KeyWindow {
  std::string key;
  int64_t start;
  bool operator==(const KeyWindow&) const = default;
};
struct KeyWindowHash {
  size_t operator()(const KeyWindow& k) const {
    return std::hash<std::string>{}(k.key) ^ (std::hash<int64_t>{}(k.start) * 0x9e3779b97f4a7c15ull);
  }
};

std::atomic<uint64_t> g_sink_bytes{0};  // keeps the baseline's "emitted" lines alive

struct BaselineRun {
  double seconds = 0;
  uint64_t results = 0;
};

// The single-thread loop: the same events, counted into a hash map, emitted on close.
BaselineRun run_baseline(const Options& o, uint64_t messages) {
  std::unordered_map<KeyWindow, uint64_t, KeyWindowHash> counts;
  KeyWindow probe{std::string(32, '\0'), 0};
  std::string line;
  uint64_t emitted = 0, bytes = 0;
  int64_t watermark = INT64_MIN, next_close = INT64_MAX;  // the earliest open window's end
  const bool integral = o.step == static_cast<double>(static_cast<int64_t>(o.step));
  auto emit_closed = [&] {
    next_close = INT64_MAX;
    for (auto it = counts.begin(); it != counts.end();) {
      const int64_t end = it->first.start + 1000;
      if (end <= watermark) {
        // What the count reducer writes (window_result.h), less the RFC 3339 formatting.
        line.assign("{\"keys\":[\"").append(it->first.key).append("\"],\"start\":");
        char num[24];
        line.append(num, std::to_chars(num, num + sizeof num, it->first.start).ptr);
        line.append(",\"count\":");
        line.append(num, std::to_chars(num, num + sizeof num, it->second).ptr);
        line += '}';
        bytes += line.size();
        ++emitted;
        it = counts.erase(it);
      } else {
        next_close = std::min(next_close, end);
        ++it;
      }
    }
  };
  const auto t0 = Clock::now();
  char key[32] = "key-";
  for (uint64_t n = 0; n < messages; ++n) {
    const int64_t t = integral ? kEventTimeStart + static_cast<int64_t>(n) * static_cast<int64_t>(o.step)
                               : kEventTimeStart + static_cast<int64_t>(static_cast<double>(n) * o.step);
    char* end = std::to_chars(key + 4, key + sizeof key, n % o.keys).ptr;
    probe.key.assign(key, static_cast<size_t>(end - key));
    probe.start = t - t % 1000;  // t > 0
    auto [it, inserted] = counts.try_emplace(probe, 0);
    ++it->second;
    if (inserted) next_close = std::min(next_close, probe.start + 1000);
    if (t > watermark) {
      watermark = t;
      if (watermark >= next_close) emit_closed();
    }
  }
  watermark = INT64_MAX;  // the end of input closes the rest
  emit_closed();
  BaselineRun r;
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.results = emitted;
  g_sink_bytes += bytes;
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void throughput(const Options& o) {
  const FlowPlan plan = count_flow(o, o.messages);
  std::vector<double> flow_rates, base_rates;
  for (int r = 0; r < o.rounds; ++r) {
    // Interleaved, so both see the same machine conditions.
    const FlowRun f = run_flow(plan);
    const BaselineRun b = run_baseline(o, o.messages);
    if (f.results != b.results) {
      std::fprintf(stderr, "result count differs: flow %llu, baseline %llu\n",
                   static_cast<unsigned long long>(f.results), static_cast<unsigned long long>(b.results));
      std::exit(1);
    }
    flow_rates.push_back(static_cast<double>(o.messages) / f.seconds);
    base_rates.push_back(static_cast<double>(o.messages) / b.seconds);
    if (r == 0)
      std::printf("  (%llu window results per run)\n", static_cast<unsigned long long>(f.results));
  }
  const double f = median(flow_rates), b = median(base_rates);
  std::printf("throughput  generator -> count (keyed, %llu keys, fixed 1 s, step %s ms) -> blackhole, "
              "%llu messages, median of %d\n",
              static_cast<unsigned long long>(o.keys), step_text(o.step).c_str(),
              static_cast<unsigned long long>(o.messages), o.rounds);
  std::printf("  flow (sluice engine)       %8.2f M msg/s   (rounds:", f / 1e6);
  for (double x : flow_rates) std::printf(" %.2f", x / 1e6);
  std::printf(")\n  baseline hash map (1 thr)  %8.2f M msg/s   (rounds:", b / 1e6);
  for (double x : base_rates) std::printf(" %.2f", x / 1e6);
  std::printf(")\n  ratio flow/baseline        %8.2f\n", f / b);
}

long rss_kib() { return sluice::bench::rss_kib(); }

// Runs the flow over `messages` while sampling the resident size; returns the peak of
// each quarter of the run (in time): bounded memory shows as a plateau.
std::vector<long> quarter_peaks(const Options& o, uint64_t messages) {
  const FlowPlan plan = count_flow(o, messages);
  std::atomic<bool> done{false};
  std::vector<long> samples;
  std::thread sampler([&] {
    while (!done.load()) {
      samples.push_back(rss_kib());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  run_flow(plan);
  done = true;
  sampler.join();
  samples.push_back(rss_kib());
  std::vector<long> peaks(4, 0);
  for (size_t i = 0; i < samples.size(); ++i) {
    long& q = peaks[std::min<size_t>(3, i * 4 / samples.size())];
    q = std::max(q, samples[i]);
  }
  return peaks;
}

void rss(const Options& o) {
  // One warm-up run first, so the allocator's arenas and the plugin libraries are in
  // place for both measured runs alike.
  run_flow(count_flow(o, std::min<uint64_t>(o.messages, 1'000'000)));
  const long before = rss_kib();
  std::printf("rss         the same flow, resident size while it runs (sampled every 20 ms), "
              "before the runs %ld KiB\n", before);
  for (const uint64_t n : {o.messages, 4 * o.messages}) {
    const std::vector<long> q = quarter_peaks(o, n);
    std::printf("  %11llu messages: peak %ld KiB (%+ld); peak per quarter of the run:",
                static_cast<unsigned long long>(n), *std::max_element(q.begin(), q.end()),
                *std::max_element(q.begin(), q.end()) - before);
    for (long k : q) std::printf(" %ld", k);
    std::printf(" KiB\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--messages") o.messages = std::stoull(value);
    else if (flag == "--rounds") o.rounds = std::stoi(value);
    else if (flag == "--keys") o.keys = std::stoull(value);
    else if (flag == "--step") o.step = std::stod(value);
    else if (flag == "--only") o.only = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (argc % 2 == 0 || o.messages == 0 || o.rounds < 1 || o.keys == 0 || o.step < 0) {
    std::fprintf(stderr, "usage: reduce_bench [--messages N>0] [--rounds R>0] [--keys K>0] [--step MS>=0] "
                         "[--only throughput|rss]\n");
    return 2;
  }
  set_log_level(LogLevel::kWarn);
  if (o.only.empty() || o.only == "throughput") throughput(o);
  if (o.only.empty() || o.only == "rss") rss(o);
  return 0;
}
