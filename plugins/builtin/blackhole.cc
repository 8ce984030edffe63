// `blackhole`: a sink that counts and discards. Logs the count when the stage finishes.
#include <string>

#include "config.h"
#include "types.h"

namespace sluice::builtin {
namespace {

class Blackhole {
 public:
  explicit Blackhole(const CreateArgs& args) { Config(args.config_json).reject_unknown_keys(); }

  void process(Context&, const Batch& batch) { count_ += batch.size(); }

  void finish(Context& ctx) {
    ctx.log(SLUICE_LOG_INFO, "discarded " + std::to_string(count_) + " messages");
  }

 private:
  uint64_t count_ = 0;
};

constexpr const char* kSchema = R"({"type": "object", "additionalProperties": false})";

}  // namespace

void add_blackhole(Library& lib) {
  lib.add<Blackhole>({"blackhole", SLUICE_KIND_SINK, "0.1.0",
                      "sink that counts and discards every message", kSchema});
}

}  // namespace sluice::builtin
