// The `sluice` module's classes for the map kinds beyond the plain map (map_stage.cc runs
// them): numaflow-python's base classes MapStreamer, BatchMapper and SourceTransformer,
// the batch map's BatchResponse / BatchResponses, and Datums (what a batch map handler
// receives). Plain Python: only the stage reads them, once per batch, so nothing here is
// on a per-message C++ path. Named as numaflow-python names them, so its handlers port
// by changing their imports.
#include "types.h"

namespace sluice::python {

void define_map_api(py::module_& m) {
  py::exec(R"py(
import abc


class MapStreamer(metaclass=abc.ABCMeta):
    """Base class of a class map-stream handler (numaflow-python's MapStreamer): define
    handler(self, keys, datum) as a generator, `def` or `async def` with `yield`; each
    yielded Message (or bytes/str) is one output. Calling the instance calls it."""

    def __call__(self, *args, **kwargs):
        return self.handler(*args, **kwargs)

    @abc.abstractmethod
    def handler(self, keys, datum):
        """Yield the outputs of one datum."""


class BatchMapper(metaclass=abc.ABCMeta):
    """Base class of a class batch map handler (numaflow-python's BatchMapper): define
    handler(self, datums), `def` or `async def`, getting every datum of a batch (a
    Datums: iterate it with `for` or `async for`) and returning BatchResponses (one
    BatchResponse per datum id) or a list with one entry per datum, in order."""

    def __call__(self, *args, **kwargs):
        return self.handler(*args, **kwargs)

    @abc.abstractmethod
    def handler(self, datums):
        """Return the outputs of a batch of datums."""


class SourceTransformer(metaclass=abc.ABCMeta):
    """Base class of a class source transform handler (numaflow-python's
    SourceTransformer): a map, handler(self, keys, datum), whose Messages usually set
    event_time (Message(value, event_time=...)). Calling the instance calls it."""

    def __call__(self, *args, **kwargs):
        return self.handler(*args, **kwargs)

    @abc.abstractmethod
    def handler(self, keys, datum):
        """Return the outputs of one datum, with their event times."""


class BatchResponse:
    """The outputs of one datum of a batch, by the datum's id:
    BatchResponse.from_id(datum.id).append(Message(...)). No Message: the datum is
    filtered out."""

    __slots__ = ("id", "messages")

    def __init__(self, id, messages=None):
        self.id = id
        self.messages = [] if messages is None else list(messages)

    @classmethod
    def from_id(cls, id):
        return cls(id)

    new_batch_response = from_id  # the name older numaflow-python releases use

    def append(self, message):
        self.messages.append(message)
        return self

    def items(self):
        return self.messages

    def __len__(self):
        return len(self.messages)

    def __iter__(self):
        return iter(self.messages)

    def __repr__(self):
        return f"BatchResponse({self.id!r}, {self.messages!r})"


class BatchResponses:
    """What a batch map handler returns: BatchResponses(r1, r2, ...), .append(r), one
    BatchResponse per datum of the batch (in any order)."""

    __slots__ = ("_responses",)

    def __init__(self, *responses):
        self._responses = list(responses)

    def append(self, response):
        self._responses.append(response)
        return self

    def items(self):
        return self._responses

    def __len__(self):
        return len(self._responses)

    def __iter__(self):
        return iter(self._responses)

    def __getitem__(self, i):
        return self._responses[i]

    def __repr__(self):
        return f"BatchResponses({', '.join(repr(r) for r in self._responses)})"


class _DatumsAsyncIterator:
    __slots__ = ("_it",)

    def __init__(self, it):
        self._it = it

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return next(self._it)
        except StopIteration:
            raise StopAsyncIteration from None


class Datums(list):
    """The datums of one batch, in order: a list that `async for` also iterates (a
    numaflow-python batch handler's AsyncIterable[Datum]). Ids are unique within it."""

    __slots__ = ()

    def __aiter__(self):
        return _DatumsAsyncIterator(iter(self))
)py",
           m.attr("__dict__"));
  for (const char* name : {"MapStreamer", "BatchMapper", "SourceTransformer", "BatchResponse",
                           "BatchResponses", "Datums", "_DatumsAsyncIterator"})
    m.attr(name).attr("__module__") = "sluice";

  // A source transform's Message.to_drop takes the dropped message's event time
  // (numaflow-python's sourcetransformer.Message.to_drop(event_time)); a dropped message
  // goes nowhere, so it is accepted and not needed.
  py::exec(R"py(
def _with_event_time(to_drop):
    def to_drop_at(event_time=None):
        """A message that drops its input (numaflow's to_drop; the event_time a source
        transform's to_drop takes is accepted and unused)."""
        return to_drop()
    return staticmethod(to_drop_at)

Message.to_drop = _with_event_time(Message.to_drop)
del _with_event_time
)py",
           m.attr("__dict__"));
}

}  // namespace sluice::python
