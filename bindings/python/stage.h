// One instance of the `python` stage type, whatever role it plays. python_type.cc is the
// type the host sees; it makes the implementation for the instance's kind (map, sink,
// source) through the make_*_stage functions below and forwards every call to it.
//
// Contract for implementations:
//   - Constructed, called and destroyed on one worker thread (the type is not
//     thread-safe, so the host pins each instance to its worker).
//   - Each owns a PythonThread (python_thread.h) and takes the GIL once per call, never
//     per message. Its destructor drops its Python objects with the GIL held.
//   - Errors in the config or in loading the handler are sluice::ConfigError (the run
//     exits 2 naming the stage); an exception a handler raises for one message fails
//     that message only (Context::fail / a sink outcome), never the whole call.
#pragma once

#include <sluice/plugin.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace sluice::python {

class Stage {
 public:
  virtual ~Stage() = default;
  // Maps and sinks return SLUICE_OK; a source also SLUICE_IDLE or SLUICE_END.
  virtual sluice_status process(Context& ctx, const Batch& batch) = 0;
  // Sources only: the messages of `batch` (ids only) are done downstream.
  virtual void ack(Context&, const Batch&) {}
  // End of input (a sink flushes; a map may emit what it buffered).
  virtual void finish(Context&) {}
  // Sources only: how many messages the source still has to read, if it knows
  // (numaflow's pending handler). Called on the worker thread between process calls.
  virtual std::optional<int64_t> pending() { return std::nullopt; }
  // A side input the stage lists is at `version` (ABI 1.3 side_input_changed): a class
  // handler's on_side_input (on_side_input.h). Called inside a CallScope (side_inputs.h).
  virtual void side_input_changed(Context&, std::string_view /*name*/, uint64_t /*version*/) {}
};

// One per kind, each in its own file (map_stage.cc, ...). Throw ConfigError for a bad
// config or a handler that cannot be loaded.
std::unique_ptr<Stage> make_map_stage(const CreateArgs& args);
std::unique_ptr<Stage> make_sink_stage(const CreateArgs& args);    // sink_stage.cc
std::unique_ptr<Stage> make_source_stage(const CreateArgs& args);  // source_stage.cc
// A side-input retriever (retriever: python): a function or class returning the value.
std::unique_ptr<Stage> make_retriever_stage(const CreateArgs& args);  // retriever_stage.cc
void check_retriever_stage(const CreateArgs& args);                   // `sluice check`
// A reducer (reduce: python): buffers each window's datums, runs the handler at close.
std::unique_ptr<Stage> make_reduce_stage(const CreateArgs& args);  // reduce_stage.cc
void check_reduce_stage(const CreateArgs& args);                   // `sluice check`

// `sluice check` (ABI 1.2 check): the same config reading and handler checks as the
// make_* function, without making an instance (a class handler is not constructed).
// Called on the main thread with the GIL held. Throw ConfigError.
void check_map_stage(const CreateArgs& args);
void check_sink_stage(const CreateArgs& args);    // sink_stage.cc
void check_source_stage(const CreateArgs& args);  // source_stage.cc

}  // namespace sluice::python
