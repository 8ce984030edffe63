// Handler results to host outputs: a sluice.Message (value, keys, tags, event time,
// headers, offset) or a bare bytes/str value becomes one emit(). Shared by every kind
// that emits (map, batch map, source). Call with the GIL held.
#pragma once

#include <sluice/plugin.hpp>

#include <vector>

#include "pybind.h"
#include "types.h"

namespace sluice::python {

class OutputWriter {
 public:
  // Emits `m` for input `input` (SLUICE_NO_INPUT for a source): views into the
  // Message's own objects, nothing copied.
  void emit(Context& ctx, size_t input, const MessageObject& m);
  // Emits a Message, bytes, bytearray or str; false (nothing emitted) for anything else.
  bool emit_one(Context& ctx, size_t input, py::handle item);

 private:
  std::vector<sluice_str> keys_, tags_;  // views into the Message, reused
  std::vector<sluice_header> headers_;
};

}  // namespace sluice::python
