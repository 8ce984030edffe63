// The `sluice` Python module's definition: what a handler imports. Built into the plugin
// (module_embedded.cc) and as a CPython extension for a plain python3
// (module_extension.cc); see module.h. Kept close to numaflow-python's names (Datum,
// Message, Messages, Message.to_drop) so its handlers port by changing their imports.
#include "module.h"

#include <sluice/plugin.h>

#include <optional>

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
  if (PyLong_Check(t.ptr()) && !PyBool_Check(t.ptr())) {
    int overflow = 0;
    const long long ms = PyLong_AsLongLongAndOverflow(t.ptr(), &overflow);
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

// A dict of str to str, in its order.
std::vector<std::pair<std::string, std::string>> header_list(py::handle headers,
                                                             const char* what) {
  if (!PyDict_Check(headers.ptr()))
    throw py::type_error(std::string(what) + " must be a dict of str to str, not " +
                         type_name(headers));
  std::vector<std::pair<std::string, std::string>> out;
  for (auto [k, v] : py::reinterpret_borrow<py::dict>(headers)) {
    if (!PyUnicode_Check(k.ptr()) || !PyUnicode_Check(v.ptr()))
      throw py::type_error(std::string(what) + " must map str to str, but it holds " +
                           type_name(k) + ": " + type_name(v));
    out.emplace_back(k.cast<std::string>(), v.cast<std::string>());
  }
  return out;
}

std::vector<std::string> string_list(py::handle list, const char* what) {
  std::vector<std::string> out;
  if (PyUnicode_Check(list.ptr()) || PyBytes_Check(list.ptr()))
    throw py::type_error(std::string(what) + " must be a list of str, not a single " +
                         type_name(list));
  if (!py::isinstance<py::iterable>(list))
    throw py::type_error(std::string(what) + " must be a list of str, not " + type_name(list));
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

}  // namespace

void define_module(py::module_& m) {
  m.doc() = R"(Sluice's Python API: the types a Python stage handler receives and returns.

The same module is built into `sluice` (what handlers import when a flow runs) and
installed as an extension module for a plain python3, so handlers can be unit-tested
without the host:

    from sluice import Datum, Message
    from handlers import upper
    assert upper(Datum(b"hi")) == b"HI"

Classes
    Datum     one input message: value, keys, event_time, watermark, headers, id, tags
    Message   one output: value, keys, tags, event_time, headers, offset
    Messages  an ordered list of Message
  maps        Mapper, MapStreamer, BatchMapper, SourceTransformer (numaflow-python's
              base classes); BatchResponses / BatchResponse (batch map results);
              Datums (a batch's datums: `for` and `async for`)
  sinks       Sinker (base class); Responses / Response: as_success(id),
              as_failure(id, reason), as_fallback(id), as_retry(id, reason),
              as_serve(id, value)
  sources     Sourcer (base class: read_handler, ack_handler, pending_handler);
              ReadRequest, AckRequest, Offset, PendingResponse, SourceOutput, END
  porting     MapServer, SinkServer, ... : numaflow-python's server names, whose
              start() explains that Sluice runs handlers in-process

Constants
    DROP      a Message that drops its input (the same as Message.to_drop())
    DROP_TAG  the tag that marks such a Message
    END       returned or yielded by a source: its input has ended

Handler shapes (a stage's config names module + function, or module + class; a class
is instantiated once per worker with the config's args; any handler may be async def)
    map           handler(datum) or, numaflow-style, handler(keys, datum)
    map-stream    the same as a generator: each yield is an output
    batch map     handler(datums) -> BatchResponses, or a list (one entry per datum)
    sink          handler(datums) -> Responses, or None (every datum written)
    source        a generator function, or a Sourcer: read_handler(request) yields
                  Message(value, offset=...), ack_handler(request), pending_handler()

What a map handler returns
    Message                    one output
    Messages, list, tuple      one output per item (Message, bytes or str), in order
    bytes or str               one output with that value (keys, headers, event time
                               inherited from the input)
    None                       none: the message is filtered out
    DROP, Message.to_drop()    none: the message is dropped explicitly
Anything else fails that message (the stage's onError policy decides what happens).

Full guide: docs/python-guide.md.)";

  // The constructors take loosely typed arguments (py::object, checked by hand for clear
  // TypeErrors), so their docstrings carry the signature instead of pybind11's.
  std::optional<py::options> signature;  // while set: no generated signatures
  auto own_signature = [&signature] {
    signature.emplace();
    signature->disable_function_signatures();
  };

  py::class_<Datum> datum(m, "Datum",
                    R"(One input message, as a handler receives it (read-only).

Attributes: value (bytes), keys (list[str]), event_time and watermark (timezone-aware
UTC datetimes, or None when unset), event_time_ms and watermark_ms (the same as int
milliseconds since the epoch), headers (dict[str, str]), id (str), tags (list[str]).

Datum(value, keys=None, event_time=None, watermark=None, headers=None, id="",
tags=None) makes one, to test a handler without the host.)");
  own_signature();
  datum.def(py::init([](py::handle value, py::object keys, py::handle event_time,
                       py::handle watermark, py::object headers, py::handle id,
                       py::object tags) {
             Datum d;
             d.value = py::bytes(value_bytes(value, "Datum value"));
             d.keys = keys.is_none() ? py::list()
                                     : py::cast(string_list(keys, "Datum keys")).cast<py::list>();
             d.event_time = from_time(event_time, "Datum event_time");
             d.watermark = from_time(watermark, "Datum watermark");
             if (!headers.is_none()) d.headers = header_list(headers, "Datum headers");
             if (!PyUnicode_Check(id.ptr()) && !PyBytes_Check(id.ptr()))
               throw py::type_error("Datum id must be str, not " + type_name(id));
             d.id = value_bytes(id, "Datum id");
             if (!tags.is_none()) d.tags = string_list(tags, "Datum tags");
             return d;
           }),
           py::arg("value"), py::arg("keys") = py::none(), py::arg("event_time") = py::none(),
           py::arg("watermark") = py::none(), py::arg("headers") = py::none(),
           py::arg("id") = "", py::arg("tags") = py::none(),
           R"(Datum(value: bytes | str, keys: list[str] | None = None, event_time: datetime | int | None = None, watermark: datetime | int | None = None, headers: dict[str, str] | None = None, id: str = "", tags: list[str] | None = None)

Make a Datum, to test a handler without the host.

value: bytes or str (UTF-8); keys, tags: lists of str; event_time, watermark: a
datetime (naive ones are UTC) or int milliseconds since the epoch, None for unset;
headers: dict of str to str; id: str. Wrong types raise TypeError.)");
  signature.reset();
  datum.def_property_readonly("keys", [](const Datum& d) { return d.keys; },
                             "list[str]: the message's keys (the same list a numaflow-style "
                             "handler(keys, datum) receives)")
      .def_property_readonly("value", [](const Datum& d) { return d.value; },
                             "bytes: the message's value")
      .def_property_readonly("event_time", [](const Datum& d) { return to_datetime(d.event_time); },
                             "datetime (timezone-aware, UTC) or None: when the event happened")
      .def_property_readonly("watermark", [](const Datum& d) { return to_datetime(d.watermark); },
                             "datetime (timezone-aware, UTC) or None: the stage's input "
                             "watermark when the message was read")
      .def_property_readonly(
          "event_time_ms",
          [](const Datum& d) -> py::object {
            if (d.event_time == SLUICE_TIME_UNSET) return py::none();
            return py::int_(d.event_time);
          },
          "int milliseconds since the epoch, or None: event_time as a number")
      .def_property_readonly(
          "watermark_ms",
          [](const Datum& d) -> py::object {
            if (d.watermark == SLUICE_TIME_UNSET) return py::none();
            return py::int_(d.watermark);
          },
          "int milliseconds since the epoch, or None: watermark as a number")
      .def_property_readonly(
          "headers",
          [](const Datum& d) {
            py::dict h;
            for (const auto& [k, v] : d.headers) h[text(k)] = text(v);
            return h;
          },
          "dict[str, str]: the message's headers (a new dict on each access)")
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

  py::class_<MessageOut> message(m, "Message",
                         R"(One output of a handler.

Message(value, keys=None, tags=None, event_time=None, headers=None, offset=None)
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
input instead.)");
  own_signature();
  message.def(py::init([](py::object value, py::object keys, py::object tags, py::handle event_time,
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
             if (!headers.is_none()) msg.headers = header_list(headers, "Message headers");
             if (!offset.is_none()) msg.id = offset_id(offset);
             return msg;
           }),
           py::arg("value") = py::none(), py::arg("keys") = py::none(),
           py::arg("tags") = py::none(), py::arg("event_time") = py::none(),
           py::arg("headers") = py::none(), py::arg("offset") = py::none(),
           py::kw_only(), py::arg("payload") = py::none(),
           "Message(value: bytes | str, keys: list[str] | None = None, tags: list[str] | None "
           "= None, event_time: datetime | int | None = None, headers: dict[str, str] | None "
           "= None, offset: bytes | str | int | None = None, *, payload: bytes | str | None = "
           "None)\n\nMake a Message (see help(sluice.Message) for the arguments).");
  signature.reset();
  message.def_static("to_drop", &drop_message,
                  "A Message that drops its input (numaflow's Message.to_drop()); the same "
                  "as sluice.DROP.")
      .def_property_readonly("value", [](const MessageOut& msg) { return py::bytes(msg.value); },
                             "bytes: the output's value (a str given is UTF-8 encoded)")
      .def_property_readonly("keys", [](const MessageOut& msg) { return msg.keys; },
                             "list[str], or None: the input's keys are kept")
      .def_property_readonly("tags", [](const MessageOut& msg) { return msg.tags; },
                             "list[str]: the tags that route this output")
      .def_property_readonly("event_time",
                             [](const MessageOut& msg) { return to_datetime(msg.event_time); },
                             "datetime (UTC), or None: the input's is kept")
      .def_property_readonly("event_time_ms",
                             [](const MessageOut& msg) -> py::object {
                               if (msg.event_time == SLUICE_TIME_UNSET) return py::none();
                               return py::int_(msg.event_time);
                             },
                             "int milliseconds since the epoch, or None: event_time as a "
                             "number")
      .def_property_readonly("headers",
                             [](const MessageOut& msg) {
                               py::dict h;
                               for (const auto& [k, v] : msg.headers) h[py::str(k)] = py::str(v);
                               return h;
                             },
                             "dict[str, str]: headers added to the input's")
      .def_property_readonly("offset",
                             [](const MessageOut& msg) -> py::object {
                               if (msg.id.empty()) return py::none();
                               return py::bytes(msg.id);
                             },
                             "bytes or None: the source's id for the message (int and str "
                             "offsets are given as their text)")
      .def_property_readonly("is_drop",
                             [](const MessageOut& msg) {
                               for (const auto& t : msg.tags)
                                 if (t == kDropTag) return true;
                               return false;
                             },
                             "bool: this Message drops its input (DROP, Message.to_drop())")
      .def("__repr__", [](const MessageOut& msg) { return repr(msg); });

  own_signature();
  py::class_<MessagesOut>(m, "Messages",
                          R"(An ordered list of Message, a handler's several outputs
(numaflow's Messages): Messages(m1, m2, ...), then .append(m). len(), indexing and
iteration work as on a list. A plain list of Message may be returned instead.)")
      .def(py::init([](py::args items) {
             MessagesOut ms;
             for (py::handle item : items) {
               if (!py::isinstance<MessageOut>(item))
                 throw py::type_error("Messages holds sluice.Message, not " + type_name(item));
               ms.items.push_back(item.cast<MessageOut>());
             }
             return ms;
           }),
           "Messages(*messages: Message)\n\nThe given Message objects, in order.")
      .def(
          "append",
          [](MessagesOut& ms, py::handle item) {
            if (!py::isinstance<MessageOut>(item))
              throw py::type_error("Messages.append takes a sluice.Message, not " +
                                   type_name(item));
            ms.items.push_back(item.cast<MessageOut>());
          },
          py::arg("message"), "append(message: Message) -> None\n\nAdds a Message at the end.")
      .def("items", [](const MessagesOut& ms) { return ms.items; },
           "items() -> list[Message]\n\nA copy of the messages, in order.")
      .def("__len__", [](const MessagesOut& ms) { return ms.items.size(); }, "len(messages)")
      .def("__getitem__",
           [](const MessagesOut& ms, py::ssize_t i) {
             const auto n = static_cast<py::ssize_t>(ms.items.size());
             if (i < 0) i += n;
             if (i < 0 || i >= n) throw py::index_error("Messages index out of range");
             return ms.items[static_cast<size_t>(i)];
           },
           "messages[i] -> Message (negative i counts from the end)")
      .def("__iter__",
           [](const MessagesOut& ms) { return py::make_iterator(ms.items.begin(), ms.items.end()); },
           py::keep_alive<0, 1>(), "iter(messages): the Message objects, in order")
      .def("__repr__", [](const MessagesOut& ms) {
        std::string s = "Messages(";
        for (size_t i = 0; i < ms.items.size(); ++i) s += (i ? ", " : "") + repr(ms.items[i]);
        return s + ")";
      });
  signature.reset();

  // numaflow-python's Mapper base class, so its class handlers port unchanged: calling
  // the instance calls handler(keys, datum).
  py::exec(R"(
import abc

class Mapper(metaclass=abc.ABCMeta):
    """Base class of a class map handler (as in numaflow-python).

    Subclass it and define handler(self, keys, datum); calling the instance calls
    handler. In a flow: {map: python, config: {module: m, class: MyMapper}}; the class
    is instantiated once per worker (with the config's args as keyword arguments).
    """

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

  define_map_api(m);
  define_sink_source_api(m);
  define_numaflow_servers(m);
}

}  // namespace sluice::python
