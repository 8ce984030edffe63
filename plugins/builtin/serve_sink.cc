// `serve`: the sink that answers HTTP requests. Each message's value becomes a result
// of the request the message derives from (the ABI's respond, the "serve" outcome).
// In a flow without `serving:`, or for messages that are not from a request, the
// results go nowhere (the host counts them as responses and moves on).
#include "config.h"
#include "types.h"

namespace sluice::builtin {
namespace {

class ServeSink {
 public:
  explicit ServeSink(const CreateArgs& args) { Config(args.config_json).reject_unknown_keys(); }

  void process(Context& ctx, const Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) ctx.respond(i, batch[i].value());
  }
};

constexpr const char* kSchema = R"({"type": "object", "additionalProperties": false})";

}  // namespace

void add_serve(Library& lib) {
  lib.add<ServeSink>({"serve", SLUICE_KIND_SINK, "0.1.0",
                      "sink that answers each message's HTTP request with the message value",
                      kSchema});
}

}  // namespace sluice::builtin
