// The asyncio event loop of one stage instance, for `async def` handlers (the runtime
// owns the loop; handlers never start or stop one). Made lazily on the instance's worker
// thread the first time an awaitable shows up, run there with the GIL held, closed by
// close(). Never shared between threads or instances.
//
// Every member must be called with the GIL held.
#pragma once

#include "pybind.h"

namespace sluice::python {

class EventLoop {
 public:
  EventLoop() = default;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  // Call close() first (with the GIL held); the destructor then has nothing to drop.
  ~EventLoop() = default;

  // Runs one awaitable to completion and returns its result; a Python exception it
  // raises comes out as py::error_already_set.
  py::object run(py::handle awaitable);

  // Runs the awaitables concurrently (asyncio.gather, return_exceptions=True) and
  // returns one entry per awaitable, in order: its result, or the exception it raised
  // (an instance of BaseException). One failing awaitable does not cancel the others.
  py::list gather(const py::list& awaitables);

  // Drains an async iterator (an async generator's yields) into a list.
  py::list collect(py::handle async_iterable);

  // Runs the awaitables concurrently and returns one (ok, value) tuple per awaitable,
  // in order: (True, its result) or (False, the exception it raised). Every exception,
  // SystemExit and KeyboardInterrupt too, settles only its own awaitable (gather with
  // return_exceptions lets those two out of the loop).
  py::list settle(const py::list& awaitables);

  // A coroutine draining an async iterable into a list: collect() for settle().
  py::object collecting(py::handle async_iterable);

  // The asyncio loop itself (made on first use), for tasks that outlive one call (a
  // streaming reducer's window runs across the host's calls).
  py::object loop();

  // Shuts down async generators and closes the loop, if one was made. Idempotent.
  void close() noexcept;

  // inspect.isawaitable(o): a coroutine, a Future, anything with __await__.
  static bool is_awaitable(py::handle o);
  // Whether o is an async iterator/iterable (has __aiter__).
  static bool is_async_iterable(py::handle o);

 private:
  void ensure();

  py::object loop_;     // asyncio event loop, or None/null until first use
  py::object helpers_;    // the helper coroutine functions (_gather, _collect, _settle)
};

}  // namespace sluice::python
