// The `sluice` Python module's definition: what a handler imports. Built into the plugin
// (module_embedded.cc) and as a CPython extension for a plain python3
// (module_extension.cc); see module.h. Kept close to numaflow-python's names (Datum,
// Message, Messages, Message.to_drop) so its handlers port by changing their imports.
#include "module.h"

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
  reducers    Reducer, ReduceStreamer, SessionReducer (= SessionReduceStreamer);
              Metadata / IntervalWindow (the window), NonBlockingIterator (output)
  porting     MapServer, SinkServer, ... : numaflow-python's server names, whose
              start() explains that Sluice runs handlers in-process

Side inputs (docs/side-inputs.md; only inside `sluice run`, during a stage's call)
    side_input(name, parse=None)   the value (bytes), or parse(value) cached per version
    side_input_version(name)       its version

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
    reduce        handler(keys, datums, md) -> Messages, once per closed window
    reduce stream handler(keys, datums, output, md): await output.put(Message(...))
    session       session_reduce_handler(keys, datums, output) (mode: session)

What a map handler returns
    Message                    one output
    Messages, list, tuple      one output per item (Message, bytes or str), in order
    bytes or str               one output with that value (keys, headers, event time
                               inherited from the input)
    None                       none: the message is filtered out
    DROP, Message.to_drop()    none: the message is dropped explicitly
Anything else fails that message (the stage's onError policy decides what happens).

Full guide: docs/python-guide.md.)";

  // Datum and Message: native types (objects.cc).
  define_native_types(m);

  // Messages: a list that holds only Message (checked by its constructor and append).
  py::exec(R"py(
def _type_name(o):
    t = type(o)
    return t.__qualname__ if t.__module__ == "builtins" else t.__module__ + "." + t.__qualname__


class Messages(list):
    """An ordered list of Message, a handler's several outputs (numaflow's Messages):
    Messages(m1, m2, ...), then .append(m). len(), indexing and iteration work as on a
    list (it is one). A plain list of Message may be returned instead."""

    __slots__ = ()

    def __init__(self, *messages):
        """Messages(*messages: Message)

        The given Message objects, in order."""
        for m in messages:
            if not isinstance(m, Message):
                raise TypeError("Messages holds sluice.Message, not " + _type_name(m))
        list.__init__(self, messages)

    def append(self, message):
        """append(message: Message) -> None

        Adds a Message at the end."""
        if not isinstance(message, Message):
            raise TypeError("Messages.append takes a sluice.Message, not " + _type_name(message))
        list.append(self, message)

    def items(self):
        """items() -> list[Message]

        A copy of the messages, in order."""
        return list(self)

    def __repr__(self):
        return "Messages(" + ", ".join([repr(m) for m in self]) + ")"
)py",
           m.attr("__dict__"));
  m.attr("Messages").attr("__module__") = "sluice";

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
  m.attr("DROP") = new_drop_message();

  define_map_api(m);
  define_sink_source_api(m);
  define_reduce_api(m);
  define_numaflow_servers(m);
}

}  // namespace sluice::python
