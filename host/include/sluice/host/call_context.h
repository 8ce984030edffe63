// The host's side of `sluice_ctx`: what one plugin call may do, and where its outputs go.
//
// The C ABI hands plugins an opaque `sluice_ctx*`; the host defines it here. Every call
// into a plugin (create, process, ack, finish) gets a fresh or reset CallContext on the
// calling thread's stack. The host callbacks in `host_api()` check each request against
// the call (kind, input index) and forward accepted ones to the CallSink, which is
// whatever the caller wants to do with outputs (a stage runner's output batch, a test's
// vector). Nothing here allocates on the emit path except what the sink does.
#pragma once

#include <sluice/plugin.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/host/side_input_registry.h"

namespace sluice::host {

// Receives what a plugin hands the host during one call. Views are valid only during
// the callback: copy what you keep. Must not throw (a throw is turned into a refused
// call, but the output is then lost).
class CallSink {
 public:
  virtual ~CallSink() = default;
  // `out` is complete (read up to the plugin's struct_size, the rest zeroed) and
  // checked (no NULL pointer with a count); event_time 0 is already TIME_UNSET.
  virtual void on_emit(size_t input_index, const sluice_output& out) = 0;
  virtual void on_respond(size_t input_index, sluice_bytes value) = 0;
  virtual void on_outcome(size_t input_index, sluice_outcome outcome,
                          std::string_view reason) = 0;
};

// The service table every loaded plugin receives (static; lives for the process).
const sluice_host* host_api();

// While alive, log lines a plugin writes without a ctx on this thread (from its entry
// function, while being loaded) are held here instead of printed, so that the loader
// can put a refusing plugin's reason into its one-line error, or replay them with the
// library's path when it loads.
class LoadLogCapture {
 public:
  LoadLogCapture();
  ~LoadLogCapture();
  LoadLogCapture(const LoadLogCapture&) = delete;
  LoadLogCapture& operator=(const LoadLogCapture&) = delete;

  struct Line {
    sluice_log_level level;
    std::string message;
  };
  const std::vector<Line>& lines() const { return lines_; }
  void add(sluice_log_level level, std::string message) {
    lines_.push_back({level, std::move(message)});
  }

 private:
  std::vector<Line> lines_;
  LoadLogCapture* previous_;
};

}  // namespace sluice::host

// The definition of the ABI's opaque context (global namespace, as declared in the C
// header). Owned by the host; lives on the stack of the thread making the call.
struct sluice_ctx {
  sluice_ctx(sluice_kind kind, std::string_view stage, sluice::host::CallSink* sink)
      : kind(kind), stage(stage), sink(sink) {}

  // Prepares for the next call: `inputs` input messages, error cleared.
  void begin_call(size_t inputs, bool finish_call = false) {
    input_count = inputs;
    finishing = finish_call;
    error.clear();
  }

  sluice_kind kind;
  std::string_view stage;           // for log lines
  sluice::host::CallSink* sink;     // may be null: outputs are then refused
  size_t input_count = 0;           // valid input indexes are [0, input_count)
  bool finishing = false;           // in finish(): SLUICE_NO_INPUT is allowed
  // The side inputs this call may read (the worker's snapshot); null when the stage
  // lists none, and in create and check.
  const sluice::host::SideInputSnapshot* side_inputs = nullptr;
  std::string error;                // the last set_error message of this call
};
