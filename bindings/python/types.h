// The `sluice` Python module's two hot-path classes as native CPython types (C API, not
// pybind11; objects.cc defines them, define_native_types adds them to the module):
//   DatumObject    Python's `Datum`: one input message, as a handler sees it (read-only);
//   MessageObject  Python's `Message`: one output (value, optional keys, tags, ...).
// `Messages` is a list subclass defined in Python (module.cc). Both types are heap types
// made again at each module init (the embedded interpreter can be finalized and started
// again in one process); each .so (plugin, extension) has its own. Python objects inside
// these are only touched with the GIL held.
#pragma once

#include <sluice/plugin.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pybind.h"

namespace sluice::python {

// The drop tag (SLUICE_TAG_DROP): an output carrying it goes nowhere.
inline constexpr std::string_view kDropTag = SLUICE_TAG_DROP;

// A sluice.Message. Every field is validated at construction, so reading it never
// fails: value, keys, tags and headers hold bytes or str whose UTF-8 is cached (see
// utf8()).
struct MessageObject {
  PyObject_HEAD
  PyObject* value;    // bytes, or str (its UTF-8 cached): never null
  PyObject* keys;     // tuple of str; null: the input's keys (a () means no keys)
  PyObject* tags;     // tuple of str, or null (none)
  PyObject* headers;  // dict of str to str (a copy, not empty), or null (none)
  PyObject* offset;   // bytes (not empty), or null: a source's id for ack()
  int64_t event_time;  // ms since the epoch; SLUICE_TIME_UNSET: the input's
};

// A sluice.Datum. value and the keys list are Python objects; the rest stays C++ until
// a property builds it (a new dict/list/datetime on each access, as before).
struct DatumObject {
  PyObject_HEAD
  PyObject* value;  // bytes, never null
  PyObject* keys;   // list of str; null: none yet (an empty list is made on access)
  int64_t event_time;  // ms since the epoch, SLUICE_TIME_UNSET when unset
  int64_t watermark;
  std::string id;  // the source message's id (UTF-8 by convention)
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> tags;  // the tags the previous stage gave the message
};

// The module's types in this .so (null before define_native_types ran).
extern PyTypeObject* message_type;
extern PyTypeObject* datum_type;

// `o` as a Message (a sluice.Message or a subclass's instance), or nullptr.
inline const MessageObject* as_message(py::handle o) {
  PyObject* p = o.ptr();
  if (p == nullptr || message_type == nullptr) return nullptr;
  if (Py_TYPE(p) == message_type || PyType_IsSubtype(Py_TYPE(p), message_type))
    return reinterpret_cast<const MessageObject*>(p);
  return nullptr;
}

// The UTF-8 of a bytes or str object a Message holds (validated when it was made).
inline std::string_view utf8(PyObject* o) {
  if (PyBytes_Check(o))
    return {PyBytes_AS_STRING(o), static_cast<size_t>(PyBytes_GET_SIZE(o))};
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(o, &size);  // cached: cannot fail here
  return {data, static_cast<size_t>(size)};
}

// A new, empty Datum (value b"", no keys, times unset); throws py::error_already_set.
py::object new_datum(DatumObject** datum);

// A new Message.to_drop() (value b"", the drop tag); throws py::error_already_set.
py::object new_drop_message();

// The bytes of a value a handler gave: bytes, bytearray or str (UTF-8). Throws
// py::type_error naming `what` and the expected types otherwise.
std::string value_bytes(py::handle value, const char* what);

// Text (keys, headers, tags) from the host's bytes: UTF-8, invalid bytes replaced.
py::str text(std::string_view s);

// Creates the Datum and Message types and adds them to the module (objects.cc).
void define_native_types(py::module_& m);

// Adds the map kinds' classes (MapStreamer, BatchMapper, SourceTransformer,
// BatchResponse, BatchResponses, Datums) to the `sluice` module (module_map.cc).
void define_map_api(py::module_& m);
// Adds the sink and source classes (Response, Responses, Sinker, Datums, Sourcer,
// ReadRequest, AckRequest, Offset, PendingResponse, END, ...) to the `sluice` module
// (module_sink_source.cc).
void define_sink_source_api(py::module_& m);
// Adds the reduce kind's classes (Reducer, ReduceStreamer, SessionReducer, Metadata,
// IntervalWindow, NonBlockingIterator) to the `sluice` module (module_reduce.cc).
void define_reduce_api(py::module_& m);

}  // namespace sluice::python
