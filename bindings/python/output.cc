#include "output.h"

namespace sluice::python {

namespace {

sluice_str str_of(PyObject* o) { return detail::str(utf8(o)); }

// The views of a tuple of str into `out` (cleared first).
void views(PyObject* tuple, std::vector<sluice_str>& out) {
  out.clear();
  if (tuple == nullptr) return;
  for (Py_ssize_t i = 0, n = PyTuple_GET_SIZE(tuple); i < n; ++i)
    out.push_back(str_of(PyTuple_GET_ITEM(tuple, i)));
}

}  // namespace

void OutputWriter::emit(Context& ctx, size_t input, const MessageObject& m) {
  sluice_output out{};
  out.struct_size = sizeof(sluice_output);
  const std::string_view value = utf8(m.value);
  out.value = {reinterpret_cast<const uint8_t*>(value.data()), value.size()};
  views(m.keys, keys_);
  if (m.keys != nullptr && keys_.empty()) out.flags |= SLUICE_OUTPUT_NO_KEYS;
  out.keys = keys_.empty() ? nullptr : keys_.data();
  out.key_count = keys_.size();
  views(m.tags, tags_);
  out.tags = tags_.empty() ? nullptr : tags_.data();
  out.tag_count = tags_.size();
  headers_.clear();
  if (m.headers != nullptr) {
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(m.headers, &pos, &k, &v)) headers_.push_back({str_of(k), str_of(v)});
  }
  out.headers = headers_.empty() ? nullptr : headers_.data();
  out.header_count = headers_.size();
  out.event_time = m.event_time;
  out.id = m.offset == nullptr ? sluice_str{"", 0} : str_of(m.offset);
  ctx.emit_raw(input, out);
}

bool OutputWriter::emit_one(Context& ctx, size_t input, py::handle item) {
  PyObject* o = item.ptr();
  if (Py_TYPE(o) == message_type) {  // the common case first: no subtype walk
    emit(ctx, input, *reinterpret_cast<const MessageObject*>(o));
    return true;
  }
  const char* data = nullptr;
  Py_ssize_t size = 0;
  if (PyBytes_Check(o)) {
    data = PyBytes_AS_STRING(o);
    size = PyBytes_GET_SIZE(o);
  } else if (PyByteArray_Check(o)) {
    data = PyByteArray_AS_STRING(o);
    size = PyByteArray_GET_SIZE(o);
  } else if (PyUnicode_Check(o)) {
    data = PyUnicode_AsUTF8AndSize(o, &size);
    if (data == nullptr) throw py::error_already_set();
  } else if (const MessageObject* m = as_message(item)) {  // a Message subclass's
    emit(ctx, input, *m);
    return true;
  } else {
    return false;
  }
  ctx.emit(input, std::string_view(data, static_cast<size_t>(size)));
  return true;
}

}  // namespace sluice::python
