// What the plugin boundary costs per message.
//
// Runs the same work two ways in one process and reports the ratio:
//   baseline: a plain loop that copies each 100-byte value into an output arena
//             (what the identity map amounts to, with no ABI in between);
//   abi:      the built-in `cat` plugin, loaded from its .so through the real loader,
//             called with process() on batches of 256, emitting through the host's
//             emit callback into a CallSink that does the same copy.
// and the `generator` source through the ABI (emit from a plugin-owned buffer).
// Each measurement is the median of several rounds; the machine is shared and noisy,
// so read the ratio, not the absolute numbers.
//
//   usage: abi_overhead_bench [messages per round, default 20000000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "sluice/host/plugin_instance.h"

namespace {

using namespace sluice::host;
using Clock = std::chrono::steady_clock;

constexpr size_t kBatch = 256;
constexpr size_t kValueSize = 100;

// Copies every emitted value into a reused arena: the least a real runner must do.
class CopyingSink : public CallSink {
 public:
  CopyingSink() : arena_(kBatch * kValueSize * 2) {}
  void reset() { used_ = 0; }
  void on_emit(size_t, const sluice_output& out) override {
    if (used_ + out.value.size > arena_.size()) used_ = 0;
    std::memcpy(arena_.data() + used_, out.value.data, out.value.size);
    used_ += out.value.size;
    ++count;
  }
  void on_respond(size_t, sluice_bytes) override {}
  void on_outcome(size_t, sluice_outcome, std::string_view) override {}
  size_t count = 0;

 private:
  std::vector<uint8_t> arena_;
  size_t used_ = 0;
};

struct Input {
  std::vector<std::string> values;
  std::vector<sluice_message> messages;
  std::vector<const sluice_message*> pointers;
  sluice_batch batch{};
  Input() : values(kBatch, std::string(kValueSize, 'v')), messages(kBatch) {
    for (size_t i = 0; i < kBatch; ++i) {
      messages[i] = sluice_message{};
      messages[i].struct_size = sizeof(sluice_message);
      messages[i].value = {reinterpret_cast<const uint8_t*>(values[i].data()), kValueSize};
      messages[i].event_time = messages[i].watermark = SLUICE_TIME_UNSET;
      pointers.push_back(&messages[i]);
    }
    batch.struct_size = sizeof(batch);
    batch.messages = pointers.data();
    batch.count = kBatch;
    batch.max_messages = kBatch;
    batch.budget_us = 1000;
  }
};

template <class F>
double median_rate(size_t messages, F&& run_round) {
  std::vector<double> rates;
  for (int round = 0; round < 5; ++round) {
    auto t0 = Clock::now();
    run_round();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    rates.push_back(static_cast<double>(messages) / s);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

std::unique_ptr<PluginInstance> make(const PluginRegistry& reg, const char* type,
                                     sluice_kind kind, const std::string& config,
                                     sluice_ctx* ctx) {
  InstanceSpec spec;
  spec.kind = kind;
  spec.stage_name = type;
  spec.config_json = config;
  sluice_status status;
  std::string error;
  auto inst = PluginInstance::create(reg.find(type), spec, ctx, &status, &error);
  if (!inst) std::fprintf(stderr, "cannot create %s: %s\n", type, error.c_str());
  return inst;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t messages = argc > 1 ? std::stoull(argv[1]) : 20'000'000;
  const size_t rounds = messages / kBatch;
  PluginRegistry reg;
  reg.load_folder(builtin_plugin_dir());
  if (!reg.find("cat") || !reg.find("generator")) {
    std::fprintf(stderr, "built-in plugins not found in %s\n", builtin_plugin_dir().c_str());
    return 1;
  }
  Input in;
  CopyingSink sink;

  // Baseline: the same copies, no plugin boundary.
  double baseline = median_rate(messages, [&] {
    for (size_t r = 0; r < rounds; ++r) {
      sink.reset();
      for (size_t i = 0; i < kBatch; ++i) {
        sluice_output out{};
        out.value = in.messages[i].value;
        sink.on_emit(i, out);
      }
    }
  });

  sluice_ctx map_ctx(SLUICE_KIND_MAP, "cat", &sink);
  auto cat = make(reg, "cat", SLUICE_KIND_MAP, "{}", &map_ctx);
  double abi_map = median_rate(messages, [&] {
    for (size_t r = 0; r < rounds; ++r) {
      sink.reset();
      cat->process(&map_ctx, in.batch);
    }
  });

  sluice_ctx source_ctx(SLUICE_KIND_SOURCE, "generator", &sink);
  auto gen = make(reg, "generator", SLUICE_KIND_SOURCE, "{\"size\": 100}", &source_ctx);
  sluice_batch pull{};
  pull.struct_size = sizeof(pull);
  pull.max_messages = kBatch;
  pull.budget_us = 1000;
  double abi_source = median_rate(messages, [&] {
    for (size_t r = 0; r < rounds; ++r) {
      sink.reset();
      gen->process(&source_ctx, pull);
    }
  });
  if (!cat || !gen || sink.count == 0) return 1;

  std::printf("abi_overhead_bench: %zu messages per round, batches of %zu, %zu-byte values\n",
              messages, kBatch, kValueSize);
  std::printf("  baseline copy loop         %8.1f M msg/s\n", baseline / 1e6);
  std::printf("  cat map through the ABI    %8.1f M msg/s   ratio to baseline %.2f   %.1f ns/msg over it\n",
              abi_map / 1e6, abi_map / baseline, 1e9 / abi_map - 1e9 / baseline);
  std::printf("  generator through the ABI  %8.1f M msg/s   ratio to baseline %.2f\n",
              abi_source / 1e6, abi_source / baseline);
  return 0;
}
