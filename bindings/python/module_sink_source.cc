// The `sluice` module's sink and source API (called from define_module in module.cc):
// numaflow-python's names, so sinkers and sourcers port by changing their imports.
//   sink:   Response (as_success / as_failure / as_fallback / as_retry / as_serve),
//           Responses, Sinker (a sink handler receives module_map.cc's Datums);
//   source: Sourcer, ReadRequest, AckRequest, Offset, PendingResponse,
//           PartitionsResponse, get_default_partitions, SourceOutput, END.
// Response/Responses are C++ (the sink stage reads them back for every datum); the rest
// is small Python, read once per call at most.
#include "sink_source_types.h"
#include "types.h"

namespace sluice::python {
namespace {

using Kind = ResponseOut::Kind;

ResponseOut response(std::string id, Kind kind, std::string reason = {}, std::string value = {}) {
  ResponseOut r;
  r.id = std::move(id);
  r.kind = kind;
  r.reason = std::move(reason);
  r.value = std::move(value);
  return r;
}

std::string repr(const ResponseOut& r) {
  const std::string id = py::repr(py::str(r.id)).cast<std::string>();
  switch (r.kind) {
    case Kind::kSuccess: return "Response.as_success(" + id + ")";
    case Kind::kFailure:
      return "Response.as_failure(" + id + ", " + py::repr(py::str(r.reason)).cast<std::string>() + ")";
    case Kind::kFallback: return "Response.as_fallback(" + id + ")";
    case Kind::kRetry:
      return "Response.as_retry(" + id + ", " + py::repr(py::str(r.reason)).cast<std::string>() + ")";
    case Kind::kServe:
      return "Response.as_serve(" + id + ", " + py::repr(py::bytes(r.value)).cast<std::string>() + ")";
  }
  return "Response(?)";
}

constexpr const char* kPythonPart = R"PY(
import abc


# Datums (what a sink handler receives, as a batch map handler does) is module_map.cc's.


class Sinker(metaclass=abc.ABCMeta):
    """Base class of a class sink handler (as in numaflow-python): define
    handler(self, datums) returning Responses (or None: every datum succeeded);
    `async def handler` works too. calling the instance calls it."""

    def __call__(self, *args, **kwargs):
        return self.handler(*args, **kwargs)

    @abc.abstractmethod
    def handler(self, datums):
        """Write the datums; return Responses (one Response per datum.id) or None."""


DEFAULT_PARTITION_ID = 0


class Offset:
    """A source message's offset: Offset(offset: bytes, partition_id=0). Give it as
    Message(offset=...); AckRequest.offsets hands it back (with partition_id 0: Sluice
    keeps only the offset bytes). str and int offsets become their UTF-8 / decimal
    bytes."""

    __slots__ = ("offset", "partition_id")

    def __init__(self, offset, partition_id=DEFAULT_PARTITION_ID):
        if isinstance(offset, str):
            offset = offset.encode()
        elif isinstance(offset, (bytearray, memoryview)):
            offset = bytes(offset)
        elif isinstance(offset, int) and not isinstance(offset, bool):
            offset = str(offset).encode()
        elif not isinstance(offset, bytes):
            raise TypeError("Offset offset must be bytes, str or int, not %s"
                            % type(offset).__name__)
        self.offset = offset
        self.partition_id = partition_id

    @classmethod
    def offset_with_default_partition_id(cls, offset):
        return cls(offset, DEFAULT_PARTITION_ID)

    def as_dict(self):
        return {"offset": self.offset, "partition_id": self.partition_id}

    def __eq__(self, other):
        if not isinstance(other, Offset):
            return NotImplemented
        return self.offset == other.offset and self.partition_id == other.partition_id

    def __hash__(self):
        return hash((self.offset, self.partition_id))

    def __repr__(self):
        return "Offset(%r, partition_id=%r)" % (self.offset, self.partition_id)


class ReadRequest:
    """What read_handler gets: read at most num_records messages and return within
    about timeout_in_ms milliseconds."""

    __slots__ = ("num_records", "timeout_in_ms")

    def __init__(self, num_records, timeout_in_ms):
        self.num_records = num_records
        self.timeout_in_ms = timeout_in_ms

    def __repr__(self):
        return "ReadRequest(num_records=%d, timeout_in_ms=%d)" % (
            self.num_records, self.timeout_in_ms)


class AckRequest:
    """What ack_handler gets: the offsets (a list of Offset) of messages that are done
    downstream (sunk, dropped or failed), each acknowledged exactly once."""

    __slots__ = ("offsets",)

    def __init__(self, offsets):
        self.offsets = offsets

    def __repr__(self):
        return "AckRequest(offsets=%r)" % (self.offsets,)


class PendingResponse:
    """What pending_handler returns: how many messages are still to be read (a negative
    count, like None, means unknown)."""

    __slots__ = ("count",)

    def __init__(self, count=0):
        self.count = count

    def __repr__(self):
        return "PendingResponse(count=%r)" % (self.count,)


class PartitionsResponse:
    """numaflow's partitions_handler result; Sluice does not ask for it (kept so that
    sourcers port unchanged)."""

    __slots__ = ("partitions",)

    def __init__(self, partitions):
        self.partitions = partitions


def get_default_partitions():
    return [DEFAULT_PARTITION_ID]


class _End:
    """sluice.END: returned, yielded or put by a source's read, the source has no more
    data, ever (a job ends when all its sources have). What came before it is emitted."""

    __slots__ = ()

    def __repr__(self):
        return "sluice.END"

    def __reduce__(self):
        return "END"


END = _End()


class _Done:
    __slots__ = ()

    def __await__(self):
        return iter(())


_DONE = _Done()


class SourceOutput:
    """What read_handler(self, request, output) puts its messages into (numaflow's
    NonBlockingIterator): `await output.put(message)`; a plain `output.put(message)`
    works too, from a non-async read_handler."""

    __slots__ = ("_items",)

    def __init__(self):
        self._items = []

    def put(self, item):
        self._items.append(item)
        return _DONE


class Sourcer(metaclass=abc.ABCMeta):
    """Base class of a class source handler (as in numaflow-python).

    read_handler(self, request) returns or yields Messages (a list, a generator, an
    `async def` returning a list, an async generator), or read_handler(self, request,
    output) puts them with `await output.put(message)`. Give each Message an
    offset= to have it acknowledged: ack_handler(self, request) then gets the offsets
    of the messages that are done. pending_handler(self) returns PendingResponse(count)
    (or an int, or None when unknown). To end the source (a job flow), return, yield or
    put sluice.END. Any of them may be `async def`."""

    @abc.abstractmethod
    def read_handler(self, request):
        """Return or yield up to request.num_records Messages (or sluice.END)."""

    def ack_handler(self, request):
        """request.offsets are done downstream: commit them."""

    def pending_handler(self):
        """How many messages are still to be read, or None when unknown."""
        return None

    def partitions_handler(self):
        return PartitionsResponse(partitions=get_default_partitions())
)PY";

}  // namespace

void define_sink_source_api(py::module_& m) {
  py::class_<ResponseOut>(m, "Response",
                          "A sink's verdict on one datum, by its id (Datum.id); made with\n"
                          "Response.as_success(id), as_failure(id, err_msg), as_fallback(id),\n"
                          "as_retry(id, reason) or as_serve(id, value).")
      .def_static("as_success", [](std::string id) { return response(std::move(id), Kind::kSuccess); },
                  py::arg("id"), "The datum was written.")
      .def_static("as_failure",
                  [](std::string id, std::string err) {
                    return response(std::move(id), Kind::kFailure, std::move(err));
                  },
                  py::arg("id"), py::arg("err_msg"),
                  "A permanent failure: the stage's onError `then` applies (no retry).")
      .def_static("as_fallback", [](std::string id) { return response(std::move(id), Kind::kFallback); },
                  py::arg("id"),
                  "Send the datum to the stage's fallback sink (onError: {then: fallback, "
                  "fallback: <sink>}); a failure with reason \"fallback requested\".")
      .def_static("as_retry",
                  [](std::string id, std::string reason) {
                    return response(std::move(id), Kind::kRetry, std::move(reason));
                  },
                  py::arg("id"), py::arg("reason") = "",
                  "A transient failure: the stage's onError retry redelivers the datum.")
      .def_static("as_serve",
                  [](std::string id, py::handle value) {
                    return response(std::move(id), Kind::kServe, {},
                                    value_bytes(value, "Response.as_serve value"));
                  },
                  py::arg("id"), py::arg("value"),
                  "The datum was written and `value` (bytes or str) is the result for its "
                  "request.")
      .def_property_readonly("id", [](const ResponseOut& r) { return r.id; })
      .def_property_readonly("success", [](const ResponseOut& r) {
        return r.kind == Kind::kSuccess || r.kind == Kind::kServe;
      })
      .def_property_readonly("err", [](const ResponseOut& r) -> py::object {
        if (r.kind == Kind::kFailure || r.kind == Kind::kRetry) return py::str(r.reason);
        return py::none();
      })
      .def_property_readonly("fallback", [](const ResponseOut& r) { return r.kind == Kind::kFallback; })
      .def_property_readonly("retry", [](const ResponseOut& r) { return r.kind == Kind::kRetry; })
      .def_property_readonly("serve_value", [](const ResponseOut& r) -> py::object {
        if (r.kind != Kind::kServe) return py::none();
        return py::bytes(r.value);
      })
      .def("__repr__", [](const ResponseOut& r) { return repr(r); });

  py::class_<ResponsesOut>(m, "Responses",
                           "An ordered list of Response: Responses(r1, r2, ...), .append(r).")
      .def(py::init([](py::args items) {
        ResponsesOut rs;
        for (py::handle item : items) rs.items.push_back(item.cast<ResponseOut>());
        return rs;
      }))
      .def("append", [](ResponsesOut& rs, const ResponseOut& r) { rs.items.push_back(r); },
           py::arg("response"))
      .def("items", [](const ResponsesOut& rs) { return rs.items; }, "list[Response]")
      .def("__len__", [](const ResponsesOut& rs) { return rs.items.size(); })
      .def("__getitem__",
           [](const ResponsesOut& rs, py::ssize_t i) {
             const auto n = static_cast<py::ssize_t>(rs.items.size());
             if (i < 0) i += n;
             if (i < 0 || i >= n) throw py::index_error("Responses index out of range");
             return rs.items[static_cast<size_t>(i)];
           })
      .def("__iter__",
           [](const ResponsesOut& rs) { return py::make_iterator(rs.items.begin(), rs.items.end()); },
           py::keep_alive<0, 1>())
      .def("__repr__", [](const ResponsesOut& rs) {
        std::string s = "Responses(";
        for (size_t i = 0; i < rs.items.size(); ++i) s += (i ? ", " : "") + repr(rs.items[i]);
        return s + ")";
      });

  py::exec(kPythonPart, m.attr("__dict__"));
  for (const char* name : {"Sinker", "Offset", "ReadRequest", "AckRequest",
                           "PendingResponse", "PartitionsResponse", "SourceOutput", "Sourcer",
                           "get_default_partitions"})
    m.attr(name).attr("__module__") = "sluice";
}

}  // namespace sluice::python
