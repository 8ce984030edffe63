// The cost of reading a side input per message, in a real flow.
//
//   generator (100-byte values) -> bench-si-check -> blackhole, run by the engine
//   (FlowRuntime: threads, queues, batches), twice per round, interleaved:
//     with read   bench-si-check reads the side input `allow` through host->side_input
//                 for every message, a 512-byte table published in a real
//                 SideInputRegistry (as the side-input manager publishes it);
//     without     the same map with the same 512 bytes given in its config.
//   Both hash the message and look it up in the table (side_input_plugins.c), so the
//   difference is the read. Reports both median rates, the ratio with/without (the goal:
//   at least 0.95) and the difference per message in ns. The messages that reach the
//   sink must be the same number in both: proof the read variant checked each message.
//
//   usage: side_input_bench [--messages N] [--rounds R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench_support.h"
#include "sluice/host/flow_loader.h"
#include "sluice/host/flow_plan.h"
#include "sluice/host/flow_runtime.h"
#include "sluice/host/log.h"
#include "sluice/host/side_input_registry.h"

namespace {

using namespace sluice::host;

struct Options {
  uint64_t messages = 5'000'000;
  int rounds = 5;
};

PluginRegistry& registry() { return sluice::bench::registry({SLUICE_BUILTIN_DIR, SLUICE_BENCH_PLUGIN_DIR}); }

// Plans and binds a flow from YAML text; exits on any error.
FlowPlan plan_of(const std::string& yaml) { return sluice::bench::plan_of(yaml, registry()); }

// The table: '1' except every 8th entry, so about 1 in 8 messages is dropped.
std::string make_table() {
  std::string t(512, '1');
  for (size_t i = 0; i < t.size(); i += 8) t[i] = '0';
  return t;
}

struct Run {
  double rate = 0;       // messages per second through the flow
  uint64_t kept = 0;     // messages that reached the sink
};

Run run(const FlowPlan& plan, const SideInputRegistry& side_inputs, uint64_t messages) {
  FlowRuntime rt(plan);
  rt.set_side_inputs(&side_inputs);
  if (!rt.start()) {
    std::fprintf(stderr, "flow failed to start: %s\n", rt.result().error.c_str());
    std::exit(1);
  }
  rt.wait();
  if (rt.result().outcome != FlowResult::Outcome::kCompleted) {
    std::fprintf(stderr, "flow failed: %s\n", rt.result().error.c_str());
    std::exit(1);
  }
  Run r;
  r.rate = static_cast<double>(messages) / std::chrono::duration<double>(rt.elapsed()).count();
  for (const auto& s : rt.metrics().stages())
    if (s->stage == "out") r.kept = read(s->in);
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--messages") o.messages = std::stoull(value);
    else if (flag == "--rounds") o.rounds = std::stoi(value);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  set_log_level(LogLevel::kWarn);

  const std::string table = make_table();
  // Both flows declare the side input (the retriever is not run here: the registry is
  // filled directly); only the map's config and its sideInputs: differ.
  const std::string head = "mode: job\nsideInputs:\n  - {name: allow, retriever: file, config: {path: /dev/null}}\n"
                           "stages:\n  - {name: in, source: generator, config: {count: " +
                           std::to_string(o.messages) + ", size: 100}}\n";
  const std::string tail = "  - {name: out, sink: blackhole}\n";
  const FlowPlan with_read = plan_of(
      head + "  - {name: check, map: bench-si-check, config: {side_input: allow}, sideInputs: [allow]}\n" + tail);
  const FlowPlan without = plan_of(head + "  - {name: check, map: bench-si-check, config: {table: \"" + table +
                                   "\"}}\n" + tail);

  SideInputRegistry side_inputs({"allow"});
  side_inputs.publish(std::make_shared<SideInputValue>(
      SideInputValue{"allow", 1, table, std::chrono::system_clock::now()}));

  std::vector<double> with_rates, without_rates, ratios;
  uint64_t kept_with = 0, kept_without = 0;
  for (int r = 0; r < o.rounds; ++r) {
    // Interleaved, so both see the same machine conditions; the order alternates.
    Run a, b;
    if (r % 2 == 0) {
      a = run(with_read, side_inputs, o.messages);
      b = run(without, side_inputs, o.messages);
    } else {
      b = run(without, side_inputs, o.messages);
      a = run(with_read, side_inputs, o.messages);
    }
    with_rates.push_back(a.rate);
    without_rates.push_back(b.rate);
    ratios.push_back(a.rate / b.rate);
    kept_with = a.kept;
    kept_without = b.kept;
    std::printf("  round %d: with read %.2f M msg/s, without %.2f M msg/s, ratio %.3f\n", r + 1,
                a.rate / 1e6, b.rate / 1e6, a.rate / b.rate);
  }
  const double w = median(with_rates), n = median(without_rates);
  std::printf("side input  generator -> bench-si-check (C) -> blackhole, 100 B values, 512 B side input, "
              "%llu messages, median of %d\n",
              static_cast<unsigned long long>(o.messages), o.rounds);
  std::printf("  with a read per message      %8.2f M msg/s\n", w / 1e6);
  std::printf("  without (table in config)    %8.2f M msg/s\n", n / 1e6);
  std::printf("  ratio with/without           %8.3f   (median of the rounds' ratios %.3f; goal >= 0.95)\n",
              w / n, median(ratios));
  std::printf("  difference per message       %8.1f ns\n", (1 / w - 1 / n) * 1e9);
  std::printf("  messages kept                %llu with, %llu without\n",
              static_cast<unsigned long long>(kept_with), static_cast<unsigned long long>(kept_without));
  if (kept_with != kept_without || kept_with == 0) {
    std::fprintf(stderr, "the two variants kept different numbers of messages\n");
    return 1;
  }
  return 0;
}
