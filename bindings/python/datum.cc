#include "datum.h"

#include <algorithm>

#include <unordered_map>

#include "types.h"

namespace sluice::python {

namespace {

PyObject* checked(PyObject* o) {
  if (o == nullptr) throw py::error_already_set();
  return o;
}

}  // namespace

py::object make_datum(const sluice::Message& m, std::string id, py::object* keys) {
  DatumObject* d = nullptr;
  py::object datum = new_datum(&d);
  const std::string_view value = m.value();
  d->value = checked(PyBytes_FromStringAndSize(value.data(), static_cast<Py_ssize_t>(value.size())));
  const size_t key_count = m.key_count();
  if (key_count > 0 || keys != nullptr) {  // otherwise datum.keys makes [] when asked
    d->keys = checked(PyList_New(static_cast<Py_ssize_t>(key_count)));
    for (size_t k = 0; k < key_count; ++k)
      PyList_SET_ITEM(d->keys, static_cast<Py_ssize_t>(k), text(m.key(k)).release().ptr());
    if (keys != nullptr) *keys = py::reinterpret_borrow<py::object>(d->keys);
  }
  d->event_time = m.event_time();
  d->watermark = m.watermark();
  d->id = std::move(id);
  // Headers and tags stay C++ (copied: the host's memory is valid only during the call)
  // until a property asks for them.
  for (size_t h = 0; h < m.header_count(); ++h)
    d->headers.emplace_back(detail::view(m.header_at(h).key), detail::view(m.header_at(h).value));
  for (size_t t = 0; t < m.tag_count(); ++t) d->tags.emplace_back(m.tag(t));
  return datum;
}

namespace {

// `raw` as text that decodes back to one string only: valid UTF-8 as it is, else with
// each invalid byte written as \xNN (Python's backslashreplace). Handlers answer by
// this text; replacing bad bytes with U+FFFD instead would make two ids one.
std::string text_id(std::string_view raw) {
  if (std::all_of(raw.begin(), raw.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
    return std::string(raw);
  const auto size = static_cast<Py_ssize_t>(raw.size());
  PyObject* strict = PyUnicode_DecodeUTF8(raw.data(), size, "strict");
  if (strict != nullptr) {
    Py_DECREF(strict);
    return std::string(raw);
  }
  PyErr_Clear();
  py::object escaped = py::reinterpret_steal<py::object>(
      PyUnicode_DecodeUTF8(raw.data(), size, "backslashreplace"));
  if (!escaped) throw py::error_already_set();
  Py_ssize_t n = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(escaped.ptr(), &n);
  if (utf8 == nullptr) throw py::error_already_set();
  return std::string(utf8, static_cast<size_t>(n));
}

}  // namespace

std::vector<std::string> batch_ids(const Batch& batch) {
  std::vector<std::string> ids;
  ids.reserve(batch.size());
  std::unordered_map<std::string_view, int> seen;
  seen.reserve(batch.size());  // one table per batch, never rehashed
  for (size_t i = 0; i < batch.size(); ++i) {
    const std::string_view id = batch[i].id();
    const int n = ++seen[id];
    ids.push_back(n == 1 ? text_id(id) : text_id(id) + "#" + std::to_string(n));
  }
  return ids;
}

}  // namespace sluice::python
