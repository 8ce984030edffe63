// `count` (reduce): the number of messages in each window. Its state is the count
// itself, kept in the window's state slot (no allocation per window), so it is also the
// engine's baseline in the reduce benchmark.
//
// config: none. Result: {"keys":[...],"start":...,"end":...,"count":N} (window_result.h).
#include <cstdint>

#include "config.h"
#include "types.h"
#include "window_result.h"

namespace sluice::builtin {
namespace {

class Count {
 public:
  explicit Count(const CreateArgs& args) { Config(args.config_json).reject_unknown_keys(); }

  void process(Context& ctx, const Batch& b) {
    void*& slot = b.state_slot();
    const uintptr_t n = reinterpret_cast<uintptr_t>(slot);
    if (b.merges_window()) {  // sessions: add the merged window's count
      slot = reinterpret_cast<void*>(n + reinterpret_cast<uintptr_t>(b.merged_state()));
      return;
    }
    if (b.closes_window()) {
      begin_window_result(out_, b);
      out_ += "\"count\":";
      append_integer(out_, static_cast<int64_t>(n));
      out_ += '}';
      ctx.emit(SLUICE_NO_INPUT, out_);
    }
    if (b.closes_window() || b.discards_window()) {
      slot = nullptr;
      return;
    }
    slot = reinterpret_cast<void*>(n + b.size());
  }

 private:
  std::string out_;  // reused: no allocation per window once warm
};

constexpr const char* kSchema = R"({"type": "object", "additionalProperties": false})";

}  // namespace

void add_count(Library& lib) {
  lib.add<Count>({"count", SLUICE_KIND_REDUCE, "0.1.0",
                  "reduce: the number of messages in each window", kSchema});
}

}  // namespace sluice::builtin
