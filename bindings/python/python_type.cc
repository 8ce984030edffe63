// The `python` stage type the host sees. Each instance is a Stage (stage.h) made for the
// kind the flow gives it; this file only dispatches, so every kind shares one type name,
// one config schema and one set of ABI entry points. It also owns the instance's
// side-input cache and opens a CallScope around each call that may read side inputs
// (side_inputs.h), so no kind has to.
#include <string>

#include "pybind.h"
#include "side_inputs.h"
#include "stage.h"
#include "stage_types.h"

namespace sluice::python {
namespace {

class PythonStage {
 public:
  explicit PythonStage(const CreateArgs& args)
      : stage_(make(args)), reads_side_inputs_(args.kind != SLUICE_KIND_SIDE_INPUT) {}
  ~PythonStage() {
    // The cache's bytes and parse results go with the GIL held, while the stage's
    // thread state (which PyGILState_Ensure finds and reuses) still exists.
    if (cache_.empty()) return;
    const PyGILState_STATE gil = PyGILState_Ensure();
    cache_.clear();
    PyGILState_Release(gil);
  }
  PythonStage(const PythonStage&) = delete;
  PythonStage& operator=(const PythonStage&) = delete;

  sluice_status process(Context& ctx, const Batch& batch) {
    // A retriever is no stage worker: the host has no side inputs for it to read.
    if (!reads_side_inputs_) return stage_->process(ctx, batch);
    CallScope call(ctx, cache_);
    return stage_->process(ctx, batch);
  }
  void ack(Context& ctx, const Batch& batch) {
    CallScope call(ctx, cache_);
    stage_->ack(ctx, batch);
  }
  void finish(Context& ctx) {
    CallScope call(ctx, cache_);
    stage_->finish(ctx);
  }
  void side_input_changed(Context& ctx, std::string_view name, uint64_t version) {
    CallScope call(ctx, cache_);
    stage_->side_input_changed(ctx, name, version);
  }
  // The source's pending_handler, for the host's pending hook (ABI 1.2); -1 unknown.
  int64_t pending() {
    try {
      const std::optional<int64_t> n = stage_->pending();
      return n ? *n : -1;
    } catch (const std::exception& e) {
      // A broken pending_handler does not fail the source, whose reads may be fine. It
      // is asked about once a second: say each new complaint once, not every second.
      if (e.what() != last_pending_error_) {
        last_pending_error_ = e.what();
        sluice::log(SLUICE_LOG_WARN, "python source: " + last_pending_error_ +
                                         " (the backlog gauge reads unknown until it answers)");
      }
      return -1;
    }
  }

  // `sluice check`: import the handler's module and check the handler for this kind,
  // on the main thread (which keeps its Python thread state for the process's life).
  static void check(const CreateArgs& args) {
    py::gil_scoped_acquire gil;
    switch (args.kind) {
      case SLUICE_KIND_MAP: check_map_stage(args); break;
      case SLUICE_KIND_SINK: check_sink_stage(args); break;
      case SLUICE_KIND_SOURCE: check_source_stage(args); break;
      case SLUICE_KIND_SIDE_INPUT: check_retriever_stage(args); break;
      case SLUICE_KIND_REDUCE: check_reduce_stage(args); break;
      default: break;
    }
  }

 private:
  static std::unique_ptr<Stage> make(const CreateArgs& args) {
    switch (args.kind) {
      case SLUICE_KIND_MAP: return make_map_stage(args);
      case SLUICE_KIND_SINK: return make_sink_stage(args);
      case SLUICE_KIND_SOURCE: return make_source_stage(args);
      case SLUICE_KIND_SIDE_INPUT: return make_retriever_stage(args);
      case SLUICE_KIND_REDUCE: return make_reduce_stage(args);
      default: throw ConfigError("the python type cannot be used as this kind of stage");
    }
  }

  std::unique_ptr<Stage> stage_;
  bool reads_side_inputs_;
  SideInputCache cache_;  // sluice.side_input's values, for this instance (worker) only
  std::string last_pending_error_;  // the last pending_handler complaint logged
};

// Shared by every kind; each kind's reader rejects the keys it does not take.
constexpr const char* kSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "required": ["module"],
  "properties": {
    "module":   {"type": "string", "minLength": 1},
    "function": {"type": "string", "minLength": 1},
    "class":    {"type": "string", "minLength": 1},
    "path":     {"type": "array", "items": {"type": "string", "minLength": 1}},
    "args":     {"type": "object"},
    "mode":     {"enum": ["map", "stream", "batch", "reduce", "session"],
                 "description": "a map's kind: map (one call per message), stream (a generator per message), batch (one call per batch); default: from the handler's class base, else stream for a generator, else map. A reducer's: reduce (handler(keys, datums, md)), stream (handler(keys, datums, output, md)), session (session_reduce_handler(keys, datums, output)); default: from the class base, else stream for four arguments, else reduce"}
  },
  "oneOf": [
    {"description": "a function handler", "required": ["function"]},
    {"description": "a class handler", "required": ["class"]}
  ]
})";

}  // namespace

void add_python_type(Library& lib) {
  lib.add<PythonStage>({"python",
                        SLUICE_KIND_MAP | SLUICE_KIND_SINK | SLUICE_KIND_SOURCE |
                            SLUICE_KIND_SIDE_INPUT | SLUICE_KIND_REDUCE,
                        "0.1.0",
                        "runs a Python handler (module + function or class) as a map, a reducer, "
                        "a sink, a source or a side-input retriever",
                        kSchema});
}

}  // namespace sluice::python
