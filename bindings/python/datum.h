// Input messages as handlers see them: a sluice.Datum made from the host's view of one
// message. Shared by every kind that hands datums to Python (map, batch map, sink).
// Call with the GIL held.
#pragma once

#include <sluice/plugin.hpp>

#include <string>
#include <vector>

#include "pybind.h"

namespace sluice::python {

// A sluice.Datum for `m`, with `id` as its id (see batch_ids). When `keys` is given, it
// is set to the Datum's keys list (the one datum.keys returns), for handler(keys, datum)
// without a property lookup per message.
py::object make_datum(const sluice::Message& m, std::string id, py::object* keys = nullptr);

// One id per message of `batch`, unique within it, for kinds whose handlers answer by
// id (sink Responses, batch map results). A message's id is its source message's id,
// which its siblings share (a flat map's outputs); a repeat within the batch gets
// "#2", "#3", ... appended. Unique ids come out unchanged, as text: an id that is not
// valid UTF-8 has its invalid bytes written as \xNN, so datum.id is exactly the id and
// two ids never read alike. Unique within one call only: a retried message may get
// another suffix. Call with the GIL held.
std::vector<std::string> batch_ids(const Batch& batch);

}  // namespace sluice::python
