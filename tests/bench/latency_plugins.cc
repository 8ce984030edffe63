// Plugins for the latency benchmark (flow_bench), built as their own .so so they go
// through the real loader like any plugin:
//   bench-stamp (source):   config {rate, count, size}: emits `count` messages at about
//                           `rate` per second; each value starts with the steady-clock
//                           time of its emit (8 bytes, ns) and is padded to `size`.
//   bench-latency (sink):   config {out}: records now - stamp per message; in finish it
//                           writes "<count> <p50_ns> <p99_ns> <max_ns>" to the file `out`.
#include <sluice/plugin.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

class StampSource {
 public:
  explicit StampSource(const sluice::CreateArgs& args) {
    auto c = nlohmann::json::parse(args.config_json);
    rate_ = c.value("rate", 10000.0);
    count_ = c.value("count", uint64_t{50000});
    value_.assign(c.value("size", size_t{100}), 'x');
  }
  sluice_status process(sluice::Context& ctx, const sluice::Batch& batch) {
    if (sent_ >= count_) return SLUICE_END;
    const int64_t now = now_ns();
    if (start_ == 0) start_ = now;
    // Messages due by now on a fixed schedule (no catch-up bursts beyond the budget).
    const uint64_t due = static_cast<uint64_t>(static_cast<double>(now - start_) * rate_ / 1e9) + 1;
    uint64_t n = std::min<uint64_t>({due > sent_ ? due - sent_ : 0, batch.max_messages(), count_ - sent_});
    if (n == 0) return SLUICE_IDLE;
    for (uint64_t i = 0; i < n; ++i) {
      const int64_t stamp = now_ns();
      std::memcpy(value_.data(), &stamp, sizeof stamp);
      ctx.emit(SLUICE_NO_INPUT, std::string_view(value_));
    }
    sent_ += n;
    return sent_ >= count_ ? SLUICE_END : SLUICE_OK;
  }

 private:
  double rate_;
  uint64_t count_, sent_ = 0;
  int64_t start_ = 0;
  std::string value_;
};

class LatencySink {
 public:
  explicit LatencySink(const sluice::CreateArgs& args) {
    out_ = nlohmann::json::parse(args.config_json).value("out", std::string());
    samples_.reserve(1 << 20);
  }
  void process(sluice::Context&, const sluice::Batch& batch) {
    const int64_t now = now_ns();
    for (size_t i = 0; i < batch.size(); ++i) {
      std::string_view v = batch[i].value();
      int64_t stamp = 0;
      if (v.size() >= sizeof stamp) std::memcpy(&stamp, v.data(), sizeof stamp);
      samples_.push_back(now - stamp);
    }
  }
  void finish(sluice::Context&) {
    std::sort(samples_.begin(), samples_.end());
    auto at = [&](double q) {
      return samples_.empty() ? 0 : samples_[static_cast<size_t>(q * static_cast<double>(samples_.size() - 1))];
    };
    if (FILE* f = std::fopen(out_.c_str(), "w")) {
      std::fprintf(f, "%zu %lld %lld %lld\n", samples_.size(), static_cast<long long>(at(0.5)),
                   static_cast<long long>(at(0.99)), static_cast<long long>(at(1.0)));
      std::fclose(f);
    }
  }

 private:
  std::string out_;
  std::vector<int64_t> samples_;
};

}  // namespace

SLUICE_PLUGIN("sluice-bench", lib) {
  lib.add<StampSource>({"bench-stamp", SLUICE_KIND_SOURCE, "0.1.0", "timestamped messages at a fixed rate"});
  lib.add<LatencySink>({"bench-latency", SLUICE_KIND_SINK, "0.1.0", "records emit-to-sink latency"});
}
