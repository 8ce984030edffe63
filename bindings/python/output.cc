#include "output.h"

namespace sluice::python {

void OutputWriter::emit(Context& ctx, size_t input, const MessageOut& m) {
  sluice_output out{};
  out.struct_size = sizeof(sluice_output);
  out.value = {reinterpret_cast<const uint8_t*>(m.value.data()), m.value.size()};
  keys_.clear();
  if (m.keys) {
    for (const std::string& k : *m.keys) keys_.push_back(detail::str(k));
    if (m.keys->empty()) out.flags |= SLUICE_OUTPUT_NO_KEYS;
  }
  out.keys = keys_.empty() ? nullptr : keys_.data();
  out.key_count = keys_.size();
  tags_.clear();
  for (const std::string& t : m.tags) tags_.push_back(detail::str(t));
  out.tags = tags_.empty() ? nullptr : tags_.data();
  out.tag_count = tags_.size();
  headers_.clear();
  for (const auto& [k, v] : m.headers) headers_.push_back({detail::str(k), detail::str(v)});
  out.headers = headers_.empty() ? nullptr : headers_.data();
  out.header_count = headers_.size();
  out.event_time = m.event_time;
  out.id = detail::str(m.id);
  ctx.emit_raw(input, out);
}

bool OutputWriter::emit_one(Context& ctx, size_t input, py::handle item) {
  const char* data = nullptr;
  Py_ssize_t size = 0;
  PyObject* o = item.ptr();
  if (PyBytes_Check(o)) {
    data = PyBytes_AS_STRING(o);
    size = PyBytes_GET_SIZE(o);
  } else if (PyByteArray_Check(o)) {
    data = PyByteArray_AS_STRING(o);
    size = PyByteArray_GET_SIZE(o);
  } else if (PyUnicode_Check(o)) {
    data = PyUnicode_AsUTF8AndSize(o, &size);
    if (data == nullptr) throw py::error_already_set();
  } else {
    // A Message: one type lookup (the caster's), not an isinstance and then a cast.
    py::detail::make_caster<MessageOut> message;
    if (!message.load(item, /*convert=*/false)) return false;
    emit(ctx, input, py::detail::cast_op<const MessageOut&>(message));
    return true;
  }
  ctx.emit(input, std::string_view(data, static_cast<size_t>(size)));
  return true;
}

}  // namespace sluice::python
