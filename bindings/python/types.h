// The C++ side of the `sluice` Python module's classes (module.cc binds them):
//   Datum        one input message, as a handler sees it (read-only);
//   MessageOut   Python's `Message`: one output (value, optional keys, tags);
//   MessagesOut  Python's `Messages`: an ordered list of Message (numaflow's container).
// (Named ...Out in C++ so they never mix with sluice::Message, the input view.)
// Python objects inside these are only touched with the GIL held (Python itself owns
// the instances).
#pragma once

#include <sluice/plugin.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pybind.h"

namespace sluice::python {

struct Datum {
  py::list keys;                 // list[str]
  py::bytes value;
  int64_t event_time = SLUICE_TIME_UNSET;  // ms since the epoch
  int64_t watermark = SLUICE_TIME_UNSET;   // ms since the epoch
  std::vector<std::pair<std::string, std::string>> headers;
  std::string id;
  std::vector<std::string> tags;  // the tags the previous stage gave the message
};

// The drop tag (SLUICE_TAG_DROP): an output carrying it goes nowhere.
inline constexpr std::string_view kDropTag = SLUICE_TAG_DROP;

struct MessageOut {
  std::string value;
  std::optional<std::vector<std::string>> keys;  // nullopt: the input's keys
  std::vector<std::string> tags;
  int64_t event_time = SLUICE_TIME_UNSET;        // unset: the input's (a source: now)
  std::vector<std::pair<std::string, std::string>> headers;  // added to the input's
  std::string id;                                // a source's offset for ack(); "" otherwise
};

struct MessagesOut {
  std::vector<MessageOut> items;
};

// The bytes of a value a handler gave: bytes, bytearray or str (UTF-8). Throws
// py::type_error naming `what` and the expected types otherwise.
std::string value_bytes(py::handle value, const char* what);

// Text (keys, headers, tags) from the host's bytes: UTF-8, invalid bytes replaced.
py::str text(std::string_view s);

// Adds the map kinds' classes (MapStreamer, BatchMapper, SourceTransformer,
// BatchResponse, BatchResponses, Datums) to the `sluice` module (module_map.cc).
void define_map_api(py::module_& m);
// Adds the sink and source classes (Response, Responses, Sinker, Datums, Sourcer,
// ReadRequest, AckRequest, Offset, PendingResponse, END, ...) to the `sluice` module
// (module_sink_source.cc).
void define_sink_source_api(py::module_& m);

}  // namespace sluice::python
