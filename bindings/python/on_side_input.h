// A class handler's `on_side_input(self, name, value[, version])` method, called through
// the type's side_input_changed (ABI 1.3): once per side input before the stage's first
// call, then once per new version, on the worker's thread between calls. Every kind
// (map, sink, source) finds it the same way; a function handler has none.
//
// Its errors are logged by the host (a warning naming the side input and version, with
// the Python exception and where it was raised) and otherwise ignored, as the ABI says:
// the stage goes on, and sluice.side_input already returns the new value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pybind.h"

namespace sluice::python {

class OnSideInput {
 public:
  // `method`: the handler's on_side_input as method_of (handler.h) gives it, or None /
  // null when it has none. Checks it is a plain def taking (name, value) or (name,
  // value, version); a ConfigError naming `owner`'s method otherwise. GIL held.
  void set(py::object method, const std::string& owner);

  // Calls it with the side input's value of the current call (side_inputs.h); nothing
  // when there is no method. Throws std::runtime_error with the Python error said in one
  // line. GIL held, inside a CallScope.
  void call(std::string_view name, uint64_t version);

  // Drops the method. GIL held.
  void release() noexcept { method_ = py::object(); }

 private:
  py::object method_;
  bool with_version_ = false;  // (name, value, version), else (name, value)
  std::string name_;           // "handlers.Screen.on_side_input", for messages
};

}  // namespace sluice::python
