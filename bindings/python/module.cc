// The `sluice` Python module, built into the plugin (PYBIND11_EMBEDDED_MODULE): what a
// handler imports. Kept close to numaflow-python's names (Datum, Message, Messages,
// Message.to_drop) so its handlers port by changing their imports.
#include <sluice/plugin.h>

#include "python_error.h"
#include "types.h"

namespace sluice::python {

std::string value_bytes(py::handle value, const char* what) {
  if (PyBytes_Check(value.ptr()))
    return std::string(PyBytes_AS_STRING(value.ptr()),
                       static_cast<size_t>(PyBytes_GET_SIZE(value.ptr())));
  if (PyByteArray_Check(value.ptr()))
    return std::string(PyByteArray_AS_STRING(value.ptr()),
                       static_cast<size_t>(PyByteArray_GET_SIZE(value.ptr())));
  if (PyUnicode_Check(value.ptr())) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(value.ptr(), &size);
    if (data == nullptr) throw py::error_already_set();
    return std::string(data, static_cast<size_t>(size));
  }
  throw py::type_error(std::string(what) + " must be bytes or str, not " + type_name(value));
}

py::str text(std::string_view s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

namespace {

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
  if (PyLong_Check(t.ptr()) && !PyBool_Check(t.ptr())) return t.cast<int64_t>();
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

std::vector<std::string> string_list(py::handle list, const char* what) {
  std::vector<std::string> out;
  if (PyUnicode_Check(list.ptr()) || PyBytes_Check(list.ptr()))
    throw py::type_error(std::string(what) + " must be a list of str, not a single " +
                         type_name(list));
  for (py::handle item : py::iter(list)) {
    if (!PyUnicode_Check(item.ptr()))
      throw py::type_error(std::string(what) + " must be a list of str, but it holds " +
                           type_name(item));
    out.push_back(item.cast<std::string>());
  }
  return out;
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

std::string repr_bytes(const std::string& v) { return py::repr(py::bytes(v)).cast<std::string>(); }

std::string repr(const MessageOut& m) {
  std::string s = "Message(" + repr_bytes(m.value);
  if (m.keys) s += ", keys=" + py::repr(py::cast(*m.keys)).cast<std::string>();
  if (!m.tags.empty()) s += ", tags=" + py::repr(py::cast(m.tags)).cast<std::string>();
  if (m.event_time != SLUICE_TIME_UNSET) s += ", event_time_ms=" + std::to_string(m.event_time);
  if (!m.headers.empty()) s += ", headers=" + py::repr(py::cast(m.headers)).cast<std::string>();
  if (!m.id.empty()) s += ", offset=" + repr_bytes(m.id);
  return s + ")";
}

MessageOut drop_message() {
  MessageOut m;
  m.tags.emplace_back(kDropTag);
  return m;
}

void define_module(py::module_& m) {
  m.doc() =
      "Sluice's Python API: the types a Python stage handler receives and returns.\n\n"
      "A map handler is a function `handler(datum)` or, numaflow-style,\n"
      "`handler(keys, datum)`. It returns a Message, Messages (or a list of Message),\n"
      "bytes or str (one output with that value), or None (the input is filtered out).\n"
      "Return DROP (or Message.to_drop()) to drop the message explicitly.";

  py::class_<Datum>(m, "Datum",
                    "One input message: keys, value, event_time, watermark, headers, id.\n"
                    "Times are timezone-aware UTC datetimes (or None); the *_ms properties\n"
                    "give them as integer milliseconds since the epoch.")
      .def(py::init([](py::handle value, py::object keys, py::handle event_time,
                       py::handle watermark, py::object headers, std::string id,
                       py::object tags) {
             Datum d;
             d.value = py::bytes(value_bytes(value, "Datum value"));
             d.keys = keys.is_none() ? py::list()
                                     : py::cast(string_list(keys, "Datum keys")).cast<py::list>();
             d.event_time = from_time(event_time, "Datum event_time");
             d.watermark = from_time(watermark, "Datum watermark");
             if (!headers.is_none())
               for (auto [k, v] : headers.cast<py::dict>())
                 d.headers.emplace_back(k.cast<std::string>(), v.cast<std::string>());
             d.id = std::move(id);
             if (!tags.is_none()) d.tags = string_list(tags, "Datum tags");
             return d;
           }),
           py::arg("value"), py::arg("keys") = py::none(), py::arg("event_time") = py::none(),
           py::arg("watermark") = py::none(), py::arg("headers") = py::none(),
           py::arg("id") = "", py::arg("tags") = py::none(),
           "Make a Datum, to test handlers without the host.")
      .def_property_readonly("keys", [](const Datum& d) { return d.keys; }, "list[str]")
      .def_property_readonly("value", [](const Datum& d) { return d.value; }, "bytes")
      .def_property_readonly("event_time", [](const Datum& d) { return to_datetime(d.event_time); },
                             "datetime (UTC) or None")
      .def_property_readonly("watermark", [](const Datum& d) { return to_datetime(d.watermark); },
                             "datetime (UTC) or None")
      .def_property_readonly(
          "event_time_ms",
          [](const Datum& d) -> py::object {
            if (d.event_time == SLUICE_TIME_UNSET) return py::none();
            return py::int_(d.event_time);
          },
          "int milliseconds since the epoch, or None")
      .def_property_readonly(
          "watermark_ms",
          [](const Datum& d) -> py::object {
            if (d.watermark == SLUICE_TIME_UNSET) return py::none();
            return py::int_(d.watermark);
          },
          "int milliseconds since the epoch, or None")
      .def_property_readonly(
          "headers",
          [](const Datum& d) {
            py::dict h;
            for (const auto& [k, v] : d.headers) h[text(k)] = text(v);
            return h;
          },
          "dict[str, str]")
      .def_property_readonly("id", [](const Datum& d) { return text(d.id); },
                             "str: the id of the source message this one derives from")
      .def_property_readonly(
          "tags",
          [](const Datum& d) {
            py::list l;
            for (const auto& t : d.tags) l.append(text(t));
            return l;
          },
          "list[str]: the tags the previous stage gave this message")
      .def("__repr__", [](const Datum& d) {
        return "Datum(" + py::repr(d.value).cast<std::string>() +
               ", keys=" + py::repr(d.keys).cast<std::string>() + ")";
      });

  py::class_<MessageOut>(m, "Message",
                      "One output: Message(value, keys=None, tags=None, event_time=None,\n"
                      "headers=None, offset=None).\n"
                      "value is bytes or str (UTF-8); `payload` is accepted for it (numaflow's\n"
                      "source Message). keys=None keeps the input's keys; keys=[] means no\n"
                      "keys. tags route the output along edges with `when: {tags: [...]}`.\n"
                      "event_time (a datetime, naive = UTC, or int ms) sets the event time, as\n"
                      "a source transform does; None keeps the input's. headers (dict[str,\n"
                      "str]) are added to the input's. offset (a source's id for the message,\n"
                      "bytes/str/int or an Offset) is handed back to the source's ack.")
      .def(py::init([](py::object value, py::object keys, py::object tags, py::handle event_time,
                       py::object headers, py::object offset, py::object payload) {
             MessageOut msg;
             if (!value.is_none() && !payload.is_none())
               throw py::type_error("Message takes value or payload, not both");
             py::object v = value.is_none() ? payload : value;
             if (v.is_none()) throw py::type_error("Message needs a value (bytes or str)");
             msg.value = value_bytes(v, "Message value");
             if (!keys.is_none()) msg.keys = string_list(keys, "Message keys");
             if (!tags.is_none()) msg.tags = string_list(tags, "Message tags");
             msg.event_time = from_time(event_time, "Message event_time");
             if (!headers.is_none()) {
               if (!PyDict_Check(headers.ptr()))
                 throw py::type_error("Message headers must be a dict of str, not " +
                                      type_name(headers));
               for (auto [k, hv] : headers.cast<py::dict>()) {
                 if (!PyUnicode_Check(k.ptr()) || !PyUnicode_Check(hv.ptr()))
                   throw py::type_error("Message headers must map str to str");
                 msg.headers.emplace_back(k.cast<std::string>(), hv.cast<std::string>());
               }
             }
             if (!offset.is_none()) msg.id = offset_id(offset);
             return msg;
           }),
           py::arg("value") = py::none(), py::arg("keys") = py::none(),
           py::arg("tags") = py::none(), py::arg("event_time") = py::none(),
           py::arg("headers") = py::none(), py::arg("offset") = py::none(),
           py::kw_only(), py::arg("payload") = py::none())
      .def_static("to_drop", &drop_message, "A message that drops its input (numaflow's to_drop).")
      .def_property_readonly("value", [](const MessageOut& msg) { return py::bytes(msg.value); })
      .def_property_readonly("keys", [](const MessageOut& msg) { return msg.keys; })
      .def_property_readonly("tags", [](const MessageOut& msg) { return msg.tags; })
      .def_property_readonly("event_time",
                             [](const MessageOut& msg) { return to_datetime(msg.event_time); },
                             "datetime (UTC) or None (the input's)")
      .def_property_readonly("event_time_ms",
                             [](const MessageOut& msg) -> py::object {
                               if (msg.event_time == SLUICE_TIME_UNSET) return py::none();
                               return py::int_(msg.event_time);
                             })
      .def_property_readonly("headers",
                             [](const MessageOut& msg) {
                               py::dict h;
                               for (const auto& [k, v] : msg.headers) h[py::str(k)] = py::str(v);
                               return h;
                             })
      .def_property_readonly("offset", [](const MessageOut& msg) -> py::object {
        if (msg.id.empty()) return py::none();
        return py::bytes(msg.id);
      })
      .def_property_readonly("is_drop", [](const MessageOut& msg) {
        for (const auto& t : msg.tags)
          if (t == kDropTag) return true;
        return false;
      })
      .def("__repr__", [](const MessageOut& msg) { return repr(msg); });

  py::class_<MessagesOut>(m, "Messages",
                       "An ordered list of Message: Messages(m1, m2, ...), .append(m).")
      .def(py::init([](py::args items) {
        MessagesOut ms;
        for (py::handle item : items) ms.items.push_back(item.cast<MessageOut>());
        return ms;
      }))
      .def("append", [](MessagesOut& ms, const MessageOut& msg) { ms.items.push_back(msg); },
           py::arg("message"))
      .def("items", [](const MessagesOut& ms) { return ms.items; }, "list[Message]")
      .def("__len__", [](const MessagesOut& ms) { return ms.items.size(); })
      .def("__getitem__",
           [](const MessagesOut& ms, py::ssize_t i) {
             const auto n = static_cast<py::ssize_t>(ms.items.size());
             if (i < 0) i += n;
             if (i < 0 || i >= n) throw py::index_error("Messages index out of range");
             return ms.items[static_cast<size_t>(i)];
           })
      .def("__iter__",
           [](const MessagesOut& ms) { return py::make_iterator(ms.items.begin(), ms.items.end()); },
           py::keep_alive<0, 1>())
      .def("__repr__", [](const MessagesOut& ms) {
        std::string s = "Messages(";
        for (size_t i = 0; i < ms.items.size(); ++i) s += (i ? ", " : "") + repr(ms.items[i]);
        return s + ")";
      });

  // numaflow-python's Mapper base class, so its class handlers port unchanged: calling
  // the instance calls handler(keys, datum).
  py::exec(R"(
import abc

class Mapper(metaclass=abc.ABCMeta):
    """Base class of a class map handler (as in numaflow-python): define
    handler(self, keys, datum); calling the instance calls it."""

    def __call__(self, *args, **kwargs):
        return self.handler(*args, **kwargs)

    @abc.abstractmethod
    def handler(self, keys, datum):
        """Return a Message, Messages, bytes, str or None for one datum."""
)",
           m.attr("__dict__"));
  m.attr("Mapper").attr("__module__") = "sluice";

  m.attr("DROP_TAG") = py::str(std::string(kDropTag));
  m.attr("DROP") = py::cast(drop_message());
  define_sink_source_api(m);
}

}  // namespace

}  // namespace sluice::python

PYBIND11_EMBEDDED_MODULE(sluice, m) { sluice::python::define_module(m); }
