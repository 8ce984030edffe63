// Built twice WITHOUT hidden visibility (as a user compiling by hand might), once with
// VIS_NAME "vis-a" and once "vis-b". Inline-function statics in plugin.hpp would become
// process-wide STB_GNU_UNIQUE symbols in such builds, and the second library would get
// the first one's descriptor; the loader test checks that both keep their own types.
#include <sluice/plugin.hpp>

namespace {
class Echo {
 public:
  explicit Echo(const sluice::CreateArgs&) {}
  void process(sluice::Context& ctx, const sluice::Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) ctx.emit(i, std::string(VIS_NAME ":") += batch[i].value());
  }
};
}  // namespace

SLUICE_PLUGIN(VIS_NAME, lib) { lib.add<Echo>({VIS_NAME, SLUICE_KIND_MAP, "1.0.0", "default visibility"}); }
