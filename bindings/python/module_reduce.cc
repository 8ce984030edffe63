// The `sluice` module's classes for the reduce kind (reduce_stage.cc runs them), named
// as numaflow-python names them so its reducers port by changing their imports:
//   Reducer                 handler(keys, datums, md) -> Messages      (pynumaflow.reducer)
//   ReduceStreamer          handler(keys, datums, output, md)          (pynumaflow.reducestreamer)
//   SessionReducer          session_reduce_handler(keys, datums, output),
//                           accumulator(), merge_accumulator(acc)     (pynumaflow.sessionreducer)
//   SessionReduceStreamer   the same class, another name for it
//   Metadata, IntervalWindow  the window a call is about (md.interval_window.start/.end)
//   NonBlockingIterator     the `output` of a streamer: `await output.put(Message(...))`
// Plain Python: the stage reads them once per window, never per message.
#include "types.h"

namespace sluice::python {

void define_reduce_api(py::module_& m) {
  py::exec(R"py(
import abc as _abc
import datetime as _datetime

_EPOCH = _datetime.datetime(1970, 1, 1, tzinfo=_datetime.timezone.utc)


class IntervalWindow:
    """A window [start, end): start and end are timezone-aware UTC datetimes;
    start_ms and end_ms the same in milliseconds since the epoch."""

    __slots__ = ("start", "end", "start_ms", "end_ms")

    def __init__(self, start, end):
        self.start_ms = start if isinstance(start, int) else None
        self.end_ms = end if isinstance(end, int) else None
        self.start = _EPOCH + _datetime.timedelta(milliseconds=start) if isinstance(start, int) else start
        self.end = _EPOCH + _datetime.timedelta(milliseconds=end) if isinstance(end, int) else end

    def __eq__(self, other):
        return isinstance(other, IntervalWindow) and (self.start, self.end) == (other.start, other.end)

    def __repr__(self):
        return f"IntervalWindow(start={self.start!r}, end={self.end!r})"


class Metadata:
    """What a reducer knows of its call (numaflow's Metadata): interval_window, the
    window being reduced."""

    __slots__ = ("interval_window",)

    def __init__(self, interval_window):
        self.interval_window = interval_window

    def __repr__(self):
        return f"Metadata(interval_window={self.interval_window!r})"


class NonBlockingIterator:
    """A reduce streamer's `output`: `await output.put(Message(...))` (or bytes/str)
    adds one result of the window, in order."""

    __slots__ = ("_items",)

    def __init__(self):
        self._items = []

    async def put(self, item):
        self._items.append(item)

    def put_nowait(self, item):
        self._items.append(item)

    def items(self):
        return list(self._items)

    def __len__(self):
        return len(self._items)


class Reducer(_abc.ABC):
    """Base class of a class reducer (numaflow-python's Reducer): define
    handler(self, keys, datums, md), usually `async def`, returning Messages. `datums`
    holds the window's datums (`async for` or `for`); md.interval_window is the window.
    A new instance is made for every window (with the config's args)."""

    def __call__(self, *args, **kwargs):
        return self.handler(*args, **kwargs)

    @_abc.abstractmethod
    def handler(self, keys, datums, md):
        """Return the window's results: Messages, a list, a Message, bytes/str or None."""


class ReduceStreamer(_abc.ABC):
    """Base class of a class reduce streamer (numaflow-python's ReduceStreamer): define
    handler(self, keys, datums, output, md), `async def`, putting results with
    `await output.put(Message(...))` as it goes. A new instance per window."""

    def __call__(self, *args, **kwargs):
        return self.handler(*args, **kwargs)

    @_abc.abstractmethod
    def handler(self, keys, datums, output, md):
        """Put the window's results on output."""


class SessionReducer(_abc.ABC):
    """Base class of a session reducer (numaflow-python's SessionReducer): define
    session_reduce_handler(self, keys, datums, output), and accumulator() /
    merge_accumulator(accumulator) for numaflow's merges. Sluice merges sessions by
    moving the merged session's datums into the other, so one new instance sees every
    datum of the final session; accumulator and merge_accumulator are not called."""

    @_abc.abstractmethod
    def session_reduce_handler(self, keys, datums, output):
        """Put the session's results on output."""

    async def accumulator(self):
        """numaflow's merge state (bytes); Sluice does not call it."""
        return b""

    async def merge_accumulator(self, accumulator):
        """numaflow's merge; Sluice does not call it."""


SessionReduceStreamer = SessionReducer
)py",
           m.attr("__dict__"));
  for (const char* name : {"IntervalWindow", "Metadata", "NonBlockingIterator", "Reducer",
                           "ReduceStreamer", "SessionReducer"})
    m.attr(name).attr("__module__") = "sluice";
}

}  // namespace sluice::python
