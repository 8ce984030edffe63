// sluice.Datum and sluice.Message as native CPython types (types.h): the two objects a
// handler meets once per message, so they are made and read without pybind11 (no
// holder, no caster, no std::string copies). Heap types (PyType_FromSpec), made again at
// each define_native_types: the embedded interpreter may be finalized and started
// again, and each .so (plugin, extension) keeps its own pointers.
//
// Message's constructor has a vectorcall fast path (Message(value), Message(value,
// keys=..., tags=...)) and validates everything once, so OutputWriter reads it without
// checks. Neither type takes part in the cycle GC: a Message holds only its own tuples,
// dict, bytes and str; a Datum's keys list could only join a cycle if a handler put the
// datum into it (then both leak, as with the pybind11 classes before).
#include <memory>
#include <new>

#include "python_error.h"
#include "types.h"

#include <structmember.h>  // after Python.h (types.h)

namespace sluice::python {

PyTypeObject* message_type = nullptr;
PyTypeObject* datum_type = nullptr;

namespace {

// --- helpers ----------------------------------------------------------------------------

// Runs f (which may throw pybind11's exceptions) inside a C API function: an exception
// becomes the Python error, and the result null.
template <class F>
PyObject* guarded(F&& f) {
  try {
    return f();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

PyObject* type_error(const std::string& message) {
  PyErr_SetString(PyExc_TypeError, message.c_str());
  return nullptr;
}

std::string tname(PyObject* o) { return type_name(py::handle(o)); }

// Times cross as milliseconds since the epoch; Python sees aware UTC datetimes (as
// numaflow-python's Datum does), None when unset.
py::object to_datetime(int64_t ms) {
  if (ms == SLUICE_TIME_UNSET) return py::none();
  py::module_ dt = py::module_::import("datetime");
  py::object epoch = dt.attr("datetime")(1970, 1, 1, py::arg("tzinfo") = dt.attr("timezone").attr("utc"));
  return epoch + dt.attr("timedelta")(py::arg("milliseconds") = ms);
}

// A datetime (naive ones are taken as UTC) or an int of milliseconds; None is unset.
int64_t from_time(py::handle t, const char* what) {
  if (t.is_none()) return SLUICE_TIME_UNSET;
  if (PyLong_Check(t.ptr()) && !PyBool_Check(t.ptr())) {
    int overflow = 0;
    const long long ms = PyLong_AsLongLongAndOverflow(t.ptr(), &overflow);
    if (ms == -1 && PyErr_Occurred()) throw py::error_already_set();
    if (overflow != 0 || ms == SLUICE_TIME_UNSET)
      throw py::value_error(std::string(what) + " is out of range (int milliseconds since the epoch)");
    return static_cast<int64_t>(ms);
  }
  py::module_ dt = py::module_::import("datetime");
  if (!py::isinstance(t, dt.attr("datetime")))
    throw py::type_error(std::string(what) + " must be a datetime or an int (ms), not " +
                         type_name(t));
  py::object utc = dt.attr("timezone").attr("utc");
  py::object aware = t.attr("tzinfo").is_none() ? t.attr("replace")(py::arg("tzinfo") = utc)
                                                 : py::reinterpret_borrow<py::object>(t);
  py::object epoch = dt.attr("datetime")(1970, 1, 1, py::arg("tzinfo") = utc);
  return (aware - epoch).attr("__floordiv__")(dt.attr("timedelta")(py::arg("milliseconds") = 1))
      .cast<int64_t>();
}

// from_time for the C API: 0, or -1 with the error set.
int time_arg(PyObject* t, const char* what, int64_t* out) {
  if (PyLong_CheckExact(t)) {  // the fast path: int milliseconds
    int overflow = 0;
    const long long ms = PyLong_AsLongLongAndOverflow(t, &overflow);
    if (ms == -1 && PyErr_Occurred()) return -1;
    if (overflow == 0 && ms != SLUICE_TIME_UNSET) {
      *out = static_cast<int64_t>(ms);
      return 0;
    }
  }
  PyObject* ok = guarded([&]() -> PyObject* {
    *out = from_time(t, what);
    Py_RETURN_NONE;
  });
  if (ok == nullptr) return -1;
  Py_DECREF(ok);
  return 0;
}

// A list (or any iterable) of str as a new tuple, each item's UTF-8 cached; null with a
// TypeError naming `what` otherwise.
PyObject* str_tuple(PyObject* o, const char* what) {
  if (PyUnicode_Check(o) || PyBytes_Check(o))
    return type_error(std::string(what) + " must be a list of str, not a single " + tname(o));
  PyObject* t = nullptr;
  if (PyTuple_CheckExact(o)) {
    Py_INCREF(o);
    t = o;
  } else if (PyList_CheckExact(o)) {
    t = PyList_AsTuple(o);
  } else {
    PyObject* it = PyObject_GetIter(o);
    if (it == nullptr) {
      if (!PyErr_ExceptionMatches(PyExc_TypeError)) return nullptr;
      PyErr_Clear();
      return type_error(std::string(what) + " must be a list of str, not " + tname(o));
    }
    t = PySequence_Tuple(it);
    Py_DECREF(it);
  }
  if (t == nullptr) return nullptr;
  for (Py_ssize_t i = 0, n = PyTuple_GET_SIZE(t); i < n; ++i) {
    PyObject* item = PyTuple_GET_ITEM(t, i);
    if (!PyUnicode_Check(item)) {
      Py_DECREF(t);
      return type_error(std::string(what) + " must be a list of str, but it holds " + tname(item));
    }
    if (PyUnicode_AsUTF8AndSize(item, nullptr) == nullptr) {
      Py_DECREF(t);
      return nullptr;
    }
  }
  return t;
}

// A dict of str to str as a new dict (its order kept, each UTF-8 cached); null with a
// TypeError naming `what` otherwise.
PyObject* header_dict(PyObject* o, const char* what) {
  if (!PyDict_Check(o))
    return type_error(std::string(what) + " must be a dict of str to str, not " + tname(o));
  Py_ssize_t pos = 0;
  PyObject *k, *v;
  while (PyDict_Next(o, &pos, &k, &v)) {
    if (!PyUnicode_Check(k) || !PyUnicode_Check(v))
      return type_error(std::string(what) + " must map str to str, but it holds " + tname(k) +
                        ": " + tname(v));
    if (PyUnicode_AsUTF8AndSize(k, nullptr) == nullptr ||
        PyUnicode_AsUTF8AndSize(v, nullptr) == nullptr)
      return nullptr;
  }
  return PyDict_Copy(o);
}

// A source message's offset as the id the host hands back to ack(): bytes or str as they
// are, an int in decimal, or an object with an `offset` attribute (numaflow's Offset).
std::string offset_id(py::handle offset) {
  if (py::hasattr(offset, "offset")) return offset_id(offset.attr("offset"));
  if (PyLong_Check(offset.ptr()) && !PyBool_Check(offset.ptr()))
    return py::str(offset).cast<std::string>();
  if (PyBytes_Check(offset.ptr()) || PyByteArray_Check(offset.ptr()) ||
      PyUnicode_Check(offset.ptr()))
    return value_bytes(offset, "Message offset");
  throw py::type_error("Message offset must be bytes, str, int or an Offset, not " +
                       type_name(offset));
}

// A new list of the tuple's items (an empty list for null).
PyObject* as_list(PyObject* tuple) {
  return tuple == nullptr ? PyList_New(0) : PySequence_List(tuple);
}

std::string repr_of(py::handle o) { return py::repr(o).cast<std::string>(); }

// --- Message --------------------------------------------------------------------------

constexpr int kArgCount = 7;  // value, keys, tags, event_time, headers, offset, payload
constexpr int kPositional = 6;
const char* const kArgNames[kArgCount] = {"value",   "keys",   "tags",   "event_time",
                                          "headers", "offset", "payload"};
PyObject* arg_names[kArgCount];  // interned, made with the type

// Puts keyword argument `name` into its slot of `a`: 0, or -1 with a TypeError.
int put_keyword(PyObject** a, PyObject* name, PyObject* value) {
  int slot = -1;
  for (int i = 0; i < kArgCount && slot < 0; ++i)
    if (name == arg_names[i]) slot = i;
  for (int i = 0; i < kArgCount && slot < 0; ++i)
    if (PyUnicode_Check(name) && PyUnicode_Compare(name, arg_names[i]) == 0) slot = i;
  if (slot < 0) {
    PyErr_Format(PyExc_TypeError, "Message() got an unexpected keyword argument '%S'", name);
    return -1;
  }
  if (a[slot] != nullptr) {
    PyErr_Format(PyExc_TypeError, "Message() got multiple values for argument '%s'",
                 kArgNames[slot]);
    return -1;
  }
  a[slot] = value;
  return 0;
}

int positional(PyObject** a, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs > kPositional) {
    PyErr_Format(PyExc_TypeError,
                 "Message() takes at most %d positional arguments (%zd given)", kPositional,
                 nargs);
    return -1;
  }
  for (Py_ssize_t i = 0; i < nargs; ++i) a[i] = args[i];
  return 0;
}

void message_dealloc(PyObject* self) {
  auto* m = reinterpret_cast<MessageObject*>(self);
  PyTypeObject* type = Py_TYPE(self);
  Py_XDECREF(m->value);
  Py_XDECREF(m->keys);
  Py_XDECREF(m->tags);
  Py_XDECREF(m->headers);
  Py_XDECREF(m->offset);
  type->tp_free(self);
  Py_DECREF(type);
}

// A new Message of `type` from its arguments (null or None: not given).
PyObject* build_message(PyTypeObject* type, PyObject* const* a) {
  auto given = [](PyObject* o) { return o != nullptr && o != Py_None; };
  PyObject* value = a[0];
  if (given(value) && given(a[6])) return type_error("Message takes value or payload, not both");
  if (!given(value)) value = a[6];
  if (!given(value)) return type_error("Message needs a value (bytes or str)");

  MessageObject* m;
  if (type == message_type) {  // no subclass: nothing to zero but the fields
    m = static_cast<MessageObject*>(PyObject_Malloc(sizeof(MessageObject)));
    if (m == nullptr) return PyErr_NoMemory();
    PyObject_Init(reinterpret_cast<PyObject*>(m), type);
  } else {
    m = reinterpret_cast<MessageObject*>(type->tp_alloc(type, 0));
    if (m == nullptr) return nullptr;
  }
  m->value = m->keys = m->tags = m->headers = m->offset = nullptr;
  m->event_time = SLUICE_TIME_UNSET;
  PyObject* self = reinterpret_cast<PyObject*>(m);

  if (PyBytes_Check(value)) {
    Py_INCREF(value);
    m->value = value;
  } else if (PyUnicode_Check(value)) {
    if (PyUnicode_AsUTF8AndSize(value, nullptr) == nullptr) goto fail;
    Py_INCREF(value);
    m->value = value;
  } else if (PyByteArray_Check(value)) {
    m->value = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(value), PyByteArray_GET_SIZE(value));
    if (m->value == nullptr) goto fail;
  } else {
    type_error("Message value must be bytes or str, not " + tname(value));
    goto fail;
  }
  if (given(a[1]) && (m->keys = str_tuple(a[1], "Message keys")) == nullptr) goto fail;
  if (given(a[2])) {
    if ((m->tags = str_tuple(a[2], "Message tags")) == nullptr) goto fail;
    if (PyTuple_GET_SIZE(m->tags) == 0) Py_CLEAR(m->tags);
  }
  if (given(a[3]) && time_arg(a[3], "Message event_time", &m->event_time) < 0) goto fail;
  if (given(a[4])) {
    if ((m->headers = header_dict(a[4], "Message headers")) == nullptr) goto fail;
    if (PyDict_GET_SIZE(m->headers) == 0) Py_CLEAR(m->headers);
  }
  if (given(a[5])) {
    PyObject* offset = a[5];
    if (PyBytes_CheckExact(offset)) {
      Py_INCREF(offset);
      m->offset = offset;
    } else {
      m->offset = guarded([offset] { return py::bytes(offset_id(offset)).release().ptr(); });
      if (m->offset == nullptr) goto fail;
    }
    if (PyBytes_GET_SIZE(m->offset) == 0) Py_CLEAR(m->offset);
  }
  return self;

fail:
  Py_DECREF(self);
  return nullptr;
}

PyObject* message_vectorcall(PyObject* callable, PyObject* const* args, size_t nargsf,
                             PyObject* kwnames) {
  PyObject* a[kArgCount] = {};
  const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  if (positional(a, args, nargs) < 0) return nullptr;
  if (kwnames != nullptr)
    for (Py_ssize_t j = 0, n = PyTuple_GET_SIZE(kwnames); j < n; ++j)
      if (put_keyword(a, PyTuple_GET_ITEM(kwnames, j), args[nargs + j]) < 0) return nullptr;
  return build_message(reinterpret_cast<PyTypeObject*>(callable), a);
}

PyObject* message_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
  PyObject* a[kArgCount] = {};
  if (positional(a, &PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args)) < 0) return nullptr;
  if (kwds != nullptr) {
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(kwds, &pos, &k, &v))
      if (put_keyword(a, k, v) < 0) return nullptr;
  }
  return build_message(type, a);
}

PyObject* drop_message() {
  PyObject* a[kArgCount] = {};
  PyObject* empty = PyBytes_FromStringAndSize("", 0);
  PyObject* tag = PyUnicode_FromStringAndSize(kDropTag.data(), static_cast<Py_ssize_t>(kDropTag.size()));
  PyObject* tags = tag == nullptr ? nullptr : PyTuple_Pack(1, tag);
  Py_XDECREF(tag);
  PyObject* m = nullptr;
  if (empty != nullptr && tags != nullptr) {
    a[0] = empty;
    a[2] = tags;
    m = build_message(message_type, a);
  }
  Py_XDECREF(empty);
  Py_XDECREF(tags);
  return m;
}

PyObject* message_to_drop(PyObject*, PyObject*) { return drop_message(); }

const MessageObject* msg(PyObject* self) { return reinterpret_cast<const MessageObject*>(self); }

PyObject* message_value(PyObject* self, void*) {
  PyObject* v = msg(self)->value;
  if (PyBytes_Check(v)) {
    Py_INCREF(v);
    return v;
  }
  const std::string_view s = utf8(v);
  return PyBytes_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
}

PyObject* message_keys(PyObject* self, void*) {
  if (msg(self)->keys == nullptr) Py_RETURN_NONE;
  return as_list(msg(self)->keys);
}

PyObject* message_tags(PyObject* self, void*) { return as_list(msg(self)->tags); }

PyObject* message_event_time(PyObject* self, void*) {
  return guarded([self] { return to_datetime(msg(self)->event_time).release().ptr(); });
}

PyObject* message_event_time_ms(PyObject* self, void*) {
  if (msg(self)->event_time == SLUICE_TIME_UNSET) Py_RETURN_NONE;
  return PyLong_FromLongLong(msg(self)->event_time);
}

PyObject* message_headers(PyObject* self, void*) {
  return msg(self)->headers == nullptr ? PyDict_New() : PyDict_Copy(msg(self)->headers);
}

PyObject* message_offset(PyObject* self, void*) {
  PyObject* o = msg(self)->offset;
  if (o == nullptr) Py_RETURN_NONE;
  Py_INCREF(o);
  return o;
}

PyObject* message_is_drop(PyObject* self, void*) {
  PyObject* tags = msg(self)->tags;
  if (tags != nullptr)
    for (Py_ssize_t i = 0, n = PyTuple_GET_SIZE(tags); i < n; ++i)
      if (utf8(PyTuple_GET_ITEM(tags, i)) == kDropTag) Py_RETURN_TRUE;
  Py_RETURN_FALSE;
}

PyObject* message_repr(PyObject* self) {
  return guarded([self] {
    const MessageObject* m = msg(self);
    py::object value = py::reinterpret_steal<py::object>(message_value(self, nullptr));
    if (!value) throw py::error_already_set();
    std::string s = "Message(" + repr_of(value);
    if (m->keys != nullptr) s += ", keys=" + repr_of(py::reinterpret_steal<py::object>(as_list(m->keys)));
    if (m->tags != nullptr) s += ", tags=" + repr_of(py::reinterpret_steal<py::object>(as_list(m->tags)));
    if (m->event_time != SLUICE_TIME_UNSET) s += ", event_time_ms=" + std::to_string(m->event_time);
    if (m->headers != nullptr) {
      py::list pairs;
      Py_ssize_t pos = 0;
      PyObject *k, *v;
      while (PyDict_Next(m->headers, &pos, &k, &v))
        pairs.append(py::make_tuple(py::handle(k), py::handle(v)));
      s += ", headers=" + repr_of(pairs);
    }
    if (m->offset != nullptr) s += ", offset=" + repr_of(py::handle(m->offset));
    return py::str(s + ")").release().ptr();
  });
}

PyMethodDef message_methods[] = {
    {"to_drop", message_to_drop, METH_NOARGS | METH_STATIC,
     "A Message that drops its input (numaflow's Message.to_drop()); the same as sluice.DROP."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef message_getset[] = {
    {"value", message_value, nullptr, "bytes: the output's value (a str given is UTF-8 encoded)",
     nullptr},
    {"keys", message_keys, nullptr, "list[str], or None: the input's keys are kept", nullptr},
    {"tags", message_tags, nullptr, "list[str]: the tags that route this output", nullptr},
    {"event_time", message_event_time, nullptr, "datetime (UTC), or None: the input's is kept",
     nullptr},
    {"event_time_ms", message_event_time_ms, nullptr,
     "int milliseconds since the epoch, or None: event_time as a number", nullptr},
    {"headers", message_headers, nullptr, "dict[str, str]: headers added to the input's", nullptr},
    {"offset", message_offset, nullptr,
     "bytes or None: the source's id for the message (int and str offsets are given as their "
     "text)",
     nullptr},
    {"is_drop", message_is_drop, nullptr,
     "bool: this Message drops its input (DROP, Message.to_drop())", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

// The first line (up to "--") is the signature help() and inspect show.
const char kMessageDoc[] =
    R"(Message(value=None, keys=None, tags=None, event_time=None, headers=None, offset=None, *, payload=None)
--

One output of a handler.

Message(value: bytes | str, keys: list[str] | None = None, tags: list[str] | None = None, event_time: datetime | int | None = None, headers: dict[str, str] | None = None, offset: bytes | str | int | None = None, *, payload: bytes | str | None = None)
  value       bytes or str (UTF-8); `payload=` is accepted instead (numaflow's source
              Message)
  keys        list[str]; None keeps the input's keys, [] means no keys
  tags        list[str]; route the output along edges with `when: {tags: [...]}`
  event_time  a datetime (naive = UTC) or int milliseconds; None keeps the input's
              (a source transform sets it)
  headers     dict[str, str], added to the input's
  offset      a source's id for the message (bytes, str, int, or an object with an
              `offset` attribute, numaflow's Offset), handed back to the source's ack
Wrong types raise TypeError naming the argument. Message.to_drop() (or DROP) drops the
input instead.)";

PyType_Slot message_slots[] = {
    {Py_tp_doc, const_cast<char*>(kMessageDoc)},
    {Py_tp_new, reinterpret_cast<void*>(message_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(message_dealloc)},
    {Py_tp_free, reinterpret_cast<void*>(PyObject_Free)},
    {Py_tp_repr, reinterpret_cast<void*>(message_repr)},
    {Py_tp_methods, message_methods},
    {Py_tp_getset, message_getset},
    {0, nullptr}};

PyType_Spec message_spec = {"sluice.Message", sizeof(MessageObject), 0,
                            Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, message_slots};

// --- Datum ----------------------------------------------------------------------------

DatumObject* init_datum(PyObject* o) {
  auto* d = reinterpret_cast<DatumObject*>(o);
  d->value = nullptr;
  d->keys = nullptr;
  d->event_time = SLUICE_TIME_UNSET;
  d->watermark = SLUICE_TIME_UNSET;
  new (&d->id) std::string();
  new (&d->headers) std::vector<std::pair<std::string, std::string>>();
  new (&d->tags) std::vector<std::string>();
  return d;
}

void datum_dealloc(PyObject* self) {
  auto* d = reinterpret_cast<DatumObject*>(self);
  PyTypeObject* type = Py_TYPE(self);
  Py_XDECREF(d->value);
  Py_XDECREF(d->keys);
  std::destroy_at(&d->id);
  std::destroy_at(&d->headers);
  std::destroy_at(&d->tags);
  type->tp_free(self);
  Py_DECREF(type);
}

DatumObject* dat(PyObject* self) { return reinterpret_cast<DatumObject*>(self); }

PyObject* datum_new(PyTypeObject* type, PyObject* args, PyObject* kwds) {
  static const char* kwlist[] = {"value",   "keys", "event_time", "watermark",
                                 "headers", "id",   "tags",       nullptr};
  PyObject *value, *keys = Py_None, *event_time = Py_None, *watermark = Py_None,
                   *headers = Py_None, *id = nullptr, *tags = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOOOOO:Datum", const_cast<char**>(kwlist),
                                   &value, &keys, &event_time, &watermark, &headers, &id, &tags))
    return nullptr;
  PyObject* self = type->tp_alloc(type, 0);
  if (self == nullptr) return nullptr;
  DatumObject* d = init_datum(self);
  PyObject* ok = guarded([&]() -> PyObject* {
    d->value = py::bytes(value_bytes(value, "Datum value")).release().ptr();
    if (keys != Py_None) {
      py::object t = py::reinterpret_steal<py::object>(str_tuple(keys, "Datum keys"));
      if (!t) throw py::error_already_set();
      d->keys = PySequence_List(t.ptr());
      if (d->keys == nullptr) throw py::error_already_set();
    }
    d->event_time = from_time(event_time, "Datum event_time");
    d->watermark = from_time(watermark, "Datum watermark");
    if (headers != Py_None) {
      py::object h = py::reinterpret_steal<py::object>(header_dict(headers, "Datum headers"));
      if (!h) throw py::error_already_set();
      Py_ssize_t pos = 0;
      PyObject *k, *v;
      while (PyDict_Next(h.ptr(), &pos, &k, &v)) d->headers.emplace_back(utf8(k), utf8(v));
    }
    if (id != nullptr) {
      if (!PyUnicode_Check(id) && !PyBytes_Check(id))
        throw py::type_error("Datum id must be str, not " + tname(id));
      d->id = value_bytes(id, "Datum id");
    }
    if (tags != Py_None) {
      py::object t = py::reinterpret_steal<py::object>(str_tuple(tags, "Datum tags"));
      if (!t) throw py::error_already_set();
      for (py::handle tag : t) d->tags.emplace_back(utf8(tag.ptr()));
    }
    Py_RETURN_NONE;
  });
  if (ok == nullptr) {
    Py_DECREF(self);
    return nullptr;
  }
  Py_DECREF(ok);
  return self;
}

PyObject* datum_keys(PyObject* self, void*) {
  DatumObject* d = dat(self);
  if (d->keys == nullptr && (d->keys = PyList_New(0)) == nullptr) return nullptr;
  Py_INCREF(d->keys);
  return d->keys;
}

PyObject* datum_event_time(PyObject* self, void*) {
  return guarded([self] { return to_datetime(dat(self)->event_time).release().ptr(); });
}

PyObject* datum_watermark(PyObject* self, void*) {
  return guarded([self] { return to_datetime(dat(self)->watermark).release().ptr(); });
}

PyObject* ms_or_none(int64_t ms) {
  if (ms == SLUICE_TIME_UNSET) Py_RETURN_NONE;
  return PyLong_FromLongLong(ms);
}

PyObject* datum_event_time_ms(PyObject* self, void*) { return ms_or_none(dat(self)->event_time); }
PyObject* datum_watermark_ms(PyObject* self, void*) { return ms_or_none(dat(self)->watermark); }

PyObject* datum_headers(PyObject* self, void*) {
  return guarded([self] {
    py::dict h;
    for (const auto& [k, v] : dat(self)->headers) h[text(k)] = text(v);
    return h.release().ptr();
  });
}

PyObject* datum_id(PyObject* self, void*) {
  return guarded([self] { return text(dat(self)->id).release().ptr(); });
}

PyObject* datum_tags(PyObject* self, void*) {
  return guarded([self] {
    py::list l;
    for (const auto& t : dat(self)->tags) l.append(text(t));
    return l.release().ptr();
  });
}

PyObject* datum_repr(PyObject* self) {
  return guarded([self] {
    py::object keys = py::reinterpret_steal<py::object>(datum_keys(self, nullptr));
    if (!keys) throw py::error_already_set();
    PyObject* value = dat(self)->value;
    return py::str("Datum(" + (value ? repr_of(value) : std::string("None")) +
                   ", keys=" + repr_of(keys) + ")")
        .release()
        .ptr();
  });
}

PyMemberDef datum_members[] = {
    {"value", T_OBJECT_EX, offsetof(DatumObject, value), READONLY,
     "bytes: the message's value"},
    {nullptr, 0, 0, 0, nullptr}};


PyGetSetDef datum_getset[] = {
    {"keys", datum_keys, nullptr,
     "list[str]: the message's keys (the same list a numaflow-style handler(keys, datum) "
     "receives)",
     nullptr},
    {"event_time", datum_event_time, nullptr,
     "datetime (timezone-aware, UTC) or None: when the event happened", nullptr},
    {"watermark", datum_watermark, nullptr,
     "datetime (timezone-aware, UTC) or None: the stage's input watermark when the message "
     "was read",
     nullptr},
    {"event_time_ms", datum_event_time_ms, nullptr,
     "int milliseconds since the epoch, or None: event_time as a number", nullptr},
    {"watermark_ms", datum_watermark_ms, nullptr,
     "int milliseconds since the epoch, or None: watermark as a number", nullptr},
    {"headers", datum_headers, nullptr,
     "dict[str, str]: the message's headers (a new dict on each access)", nullptr},
    {"id", datum_id, nullptr, "str: the id of the source message this one derives from",
     nullptr},
    {"tags", datum_tags, nullptr, "list[str]: the tags the previous stage gave this message",
     nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

const char kDatumDoc[] =
    R"(Datum(value, keys=None, event_time=None, watermark=None, headers=None, id='', tags=None)
--

One input message, as a handler receives it (read-only).

Attributes: value (bytes), keys (list[str]), event_time and watermark (timezone-aware
UTC datetimes, or None when unset), event_time_ms and watermark_ms (the same as int
milliseconds since the epoch), headers (dict[str, str]), id (str), tags (list[str]).

Datum(value: bytes | str, keys: list[str] | None = None, event_time: datetime | int | None = None, watermark: datetime | int | None = None, headers: dict[str, str] | None = None, id: str = "", tags: list[str] | None = None)
makes one, to test a handler without the host.

value: bytes or str (UTF-8); keys, tags: lists of str; event_time, watermark: a
datetime (naive ones are UTC) or int milliseconds since the epoch, None for unset;
headers: dict of str to str; id: str. Wrong types raise TypeError.)";

PyType_Slot datum_slots[] = {
    {Py_tp_doc, const_cast<char*>(kDatumDoc)},
    {Py_tp_new, reinterpret_cast<void*>(datum_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(datum_dealloc)},
    {Py_tp_free, reinterpret_cast<void*>(PyObject_Free)},
    {Py_tp_repr, reinterpret_cast<void*>(datum_repr)},
    {Py_tp_members, datum_members},
    {Py_tp_getset, datum_getset},
    {0, nullptr}};

PyType_Spec datum_spec = {"sluice.Datum", sizeof(DatumObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, datum_slots};

}  // namespace

py::object new_datum(DatumObject** datum) {
  auto* o = static_cast<PyObject*>(PyObject_Malloc(sizeof(DatumObject)));
  if (o == nullptr) {
    PyErr_NoMemory();
    throw py::error_already_set();
  }
  PyObject_Init(o, datum_type);
  *datum = init_datum(o);
  return py::reinterpret_steal<py::object>(o);
}

void define_native_types(py::module_& m) {
  // A new interpreter: the previous one's objects are gone (never released here).
  for (int i = 0; i < kArgCount; ++i) {
    arg_names[i] = PyUnicode_InternFromString(kArgNames[i]);
    if (arg_names[i] == nullptr) throw py::error_already_set();
  }
  PyObject* message = PyType_FromSpec(&message_spec);
  if (message == nullptr) throw py::error_already_set();
  message_type = reinterpret_cast<PyTypeObject*>(message);
  // Calls of the type itself (Message(...)) skip type.__call__'s tuple and dict; a
  // subclass does not inherit it (tp_vectorcall never is) and goes through tp_new.
  message_type->tp_vectorcall = message_vectorcall;
  PyObject* datum = PyType_FromSpec(&datum_spec);
  if (datum == nullptr) throw py::error_already_set();
  datum_type = reinterpret_cast<PyTypeObject*>(datum);
  // The module holds them too; these pointers keep their own reference for the
  // interpreter's life.
  m.attr("Datum") = py::handle(datum);
  m.attr("Message") = py::handle(message);
}

py::object new_drop_message() {
  PyObject* d = drop_message();
  if (d == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(d);
}

}  // namespace sluice::python
