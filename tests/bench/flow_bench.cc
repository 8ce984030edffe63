// The flow engine's benchmark: throughput, latency at light load, and memory over time,
// each against something measured in the same run (the machines are shared and noisy).
//
//   throughput  generator -> cat -> blackhole, 100-byte values, default settings, run
//               by the real engine (FlowRuntime: threads, queues, batches), against a
//               single-thread loop calling the same three plugins' process() directly
//               with the same message copies. Reports both rates and flow/direct.
//   latency     bench-stamp (10,000 msg/s) -> cat -> bench-latency, default settings:
//               p50 / p99 / max from the source's emit to the sink's process().
//   rss         generator (unbounded) -> cat -> blackhole for N seconds: resident size
//               sampled every second; reports the first sample after warm-up, the last,
//               the peak and messages moved.
//
//   usage: flow_bench [--messages N] [--rounds R] [--latency-seconds S] [--rss-seconds S]
//                     [--only throughput|latency|rss]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "sluice/host/flow_loader.h"
#include "sluice/host/flow_plan.h"
#include "sluice/host/flow_runtime.h"
#include "sluice/host/log.h"
#include "sluice/host/message_batch.h"
#include "sluice/host/plugin_instance.h"

namespace {

using namespace sluice::host;
using Clock = std::chrono::steady_clock;

struct Options {
  uint64_t messages = 5'000'000;
  int rounds = 3;
  int latency_seconds = 5;
  int rss_seconds = 60;
  std::string only;
};

PluginRegistry& registry() { return sluice::bench::registry({SLUICE_BUILTIN_DIR, SLUICE_BENCH_PLUGIN_DIR}); }

// Plans and binds a flow from YAML text; exits on any error.
FlowPlan plan_of(const std::string& yaml) { return sluice::bench::plan_of(yaml, registry()); }

double run_flow_seconds(const FlowPlan& plan) {
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
  return std::chrono::duration<double>(rt.elapsed()).count();
}

// Appends every output to a MessageBatch, as the engine's emitter does.
class BatchSink : public CallSink {
 public:
  MessageBatch* batch = nullptr;
  const sluice_message* const* parents = nullptr;
  void on_emit(size_t i, const sluice_output& out) override {
    const sluice_message* parent = i == SLUICE_NO_INPUT ? nullptr : parents[i];
    batch->append(out, parent, parent ? std::string_view(parent->id.data, parent->id.size) : "id", 0,
                  nullptr);
  }
  void on_respond(size_t, sluice_bytes) override {}
  void on_outcome(size_t, sluice_outcome, std::string_view) override {}
};

// generator -> cat -> blackhole on one thread, calling process() directly.
double direct_loop_seconds(uint64_t messages) {
  auto make = [](const char* type, sluice_kind kind, const std::string& config, sluice_ctx* ctx) {
    InstanceSpec spec;
    spec.kind = kind;
    spec.stage_name = type;
    spec.config_json = config;
    sluice_status status;
    std::string error;
    auto inst = PluginInstance::create(registry().find(type), spec, ctx, &status, &error);
    if (!inst) {
      std::fprintf(stderr, "%s\n", error.c_str());
      std::exit(1);
    }
    return inst;
  };
  BatchSink gen_sink, cat_sink;
  sluice_ctx gen_ctx(SLUICE_KIND_SOURCE, "in", &gen_sink), cat_ctx(SLUICE_KIND_MAP, "copy", &cat_sink),
      out_ctx(SLUICE_KIND_SINK, "out", nullptr);
  auto gen = make("generator", SLUICE_KIND_SOURCE,
                  "{\"count\":" + std::to_string(messages) + ",\"size\":100}", &gen_ctx);
  auto cat = make("cat", SLUICE_KIND_MAP, "{}", &cat_ctx);
  auto out = make("blackhole", SLUICE_KIND_SINK, "{}", &out_ctx);
  MessageBatch a, b;
  gen_sink.batch = &a;
  cat_sink.batch = &b;
  sluice_batch req{};
  req.struct_size = sizeof req;
  req.max_messages = kDefaultBatch;
  req.budget_us = 1000;
  const auto t0 = Clock::now();
  for (;;) {
    a.clear();
    b.clear();
    const sluice_status s = gen->process(&gen_ctx, req);
    if (!a.empty()) {
      sluice_batch in{};
      in.struct_size = sizeof in;
      in.messages = a.view();
      in.count = a.size();
      cat_sink.parents = in.messages;
      cat->process(&cat_ctx, in);
      sluice_batch sink_in{};
      sink_in.struct_size = sizeof sink_in;
      sink_in.messages = b.view();
      sink_in.count = b.size();
      out->process(&out_ctx, sink_in);
    }
    if (s == SLUICE_END) break;
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void throughput(const Options& o) {
  const FlowPlan plan = plan_of(
      "mode: job\nstages:\n"
      "  - {name: in, source: generator, config: {count: " + std::to_string(o.messages) + ", size: 100}}\n"
      "  - {name: copy, map: cat}\n"
      "  - {name: out, sink: blackhole}\n");
  std::vector<double> flow_rates, direct_rates;
  for (int r = 0; r < o.rounds; ++r) {
    // Interleaved, so both see the same machine conditions.
    flow_rates.push_back(static_cast<double>(o.messages) / run_flow_seconds(plan));
    direct_rates.push_back(static_cast<double>(o.messages) / direct_loop_seconds(o.messages));
  }
  const double f = median(flow_rates), d = median(direct_rates);
  std::printf("throughput  generator -> cat -> blackhole, 100 B values, %llu messages, median of %d\n",
              static_cast<unsigned long long>(o.messages), o.rounds);
  std::printf("  flow (sluice engine)     %8.2f M msg/s\n", f / 1e6);
  std::printf("  direct loop (1 thread)   %8.2f M msg/s\n", d / 1e6);
  std::printf("  ratio flow/direct        %8.2f\n", f / d);
}

void latency(const Options& o) {
  const std::string out = "/tmp/sluice-bench-latency-" + std::to_string(getpid()) + ".txt";
  const int rate = 10000;
  const FlowPlan plan = plan_of(
      "mode: job\nstages:\n"
      "  - {name: in, source: bench-stamp, config: {rate: " + std::to_string(rate) +
      ", count: " + std::to_string(rate * o.latency_seconds) + ", size: 100}}\n"
      "  - {name: copy, map: cat}\n"
      "  - {name: out, sink: bench-latency, config: {out: \"" + out + "\"}}\n");
  run_flow_seconds(plan);
  std::ifstream in(out);
  unsigned long long n = 0;
  long long p50 = 0, p99 = 0, max = 0;
  in >> n >> p50 >> p99 >> max;
  std::remove(out.c_str());
  std::printf("latency     bench-stamp (%d msg/s) -> cat -> bench-latency, emit to sink, %llu messages\n",
              rate, n);
  std::printf("  p50 %8.1f us   p99 %8.1f us   max %8.1f us\n", static_cast<double>(p50) / 1e3,
              static_cast<double>(p99) / 1e3, static_cast<double>(max) / 1e3);
}

long rss_kib() { return sluice::bench::rss_kib(); }

void rss(const Options& o) {
  const FlowPlan plan = plan_of(
      "mode: streaming\ngracePeriod: 10s\nstages:\n"
      "  - {name: in, source: generator, config: {size: 100}}\n"
      "  - {name: copy, map: cat}\n"
      "  - {name: out, sink: blackhole}\n");
  FlowRuntime rt(plan);
  if (!rt.start()) std::exit(1);
  std::vector<long> samples;
  std::thread sampler([&] {
    for (int s = 0; s < o.rss_seconds; ++s) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      samples.push_back(rss_kib());
    }
    rt.request_stop();
  });
  rt.wait();
  sampler.join();
  uint64_t moved = 0;
  for (const auto& s : rt.metrics().stages())
    if (s->stage == "out") moved = read(s->in);
  const size_t warm = std::min<size_t>(4, samples.size() - 1);
  std::printf("rss         generator (unbounded) -> cat -> blackhole for %d s, %.1f M messages\n",
              o.rss_seconds, static_cast<double>(moved) / 1e6);
  std::printf("  after %zu s %ld KiB   at end %ld KiB   peak %ld KiB   growth after warm-up %+ld KiB\n",
              warm + 1, samples[warm], samples.back(), *std::max_element(samples.begin(), samples.end()),
              samples.back() - samples[warm]);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--messages") o.messages = std::stoull(value);
    else if (flag == "--rounds") o.rounds = std::stoi(value);
    else if (flag == "--latency-seconds") o.latency_seconds = std::stoi(value);
    else if (flag == "--rss-seconds") o.rss_seconds = std::stoi(value);
    else if (flag == "--only") o.only = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  set_log_level(LogLevel::kWarn);
  if (o.only.empty() || o.only == "throughput") throughput(o);
  if (o.only.empty() || o.only == "latency") latency(o);
  if (o.only.empty() || o.only == "rss") rss(o);
  return 0;
}
