// `cat`: the identity map. Each input becomes one output with the same value, keys,
// event time and headers. Useful as a placeholder stage and to measure the host.
#include "config.h"
#include "types.h"

namespace sluice::builtin {
namespace {

class Cat {
 public:
  explicit Cat(const CreateArgs& args) { Config(args.config_json).reject_unknown_keys(); }

  void process(Context& ctx, const Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) ctx.emit(i, batch[i].value());
  }
};

constexpr const char* kSchema = R"({"type": "object", "additionalProperties": false})";

}  // namespace

void add_cat(Library& lib) {
  lib.add<Cat>({"cat", SLUICE_KIND_MAP, "0.1.0",
                "identity map: passes each message through unchanged", kSchema,
                SLUICE_TYPE_THREAD_SAFE});
}

}  // namespace sluice::builtin
