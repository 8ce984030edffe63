#include "event_loop.h"

namespace sluice::python {
namespace {

// Small coroutines the loop runs; Python is the clearest way to say them.
constexpr const char* kHelpers = R"(
import asyncio

async def _gather(awaitables):
    return await asyncio.gather(*awaitables, return_exceptions=True)

async def _collect(iterable):
    return [item async for item in iterable]

async def _settle_one(awaitable):
    try:
        return True, await awaitable
    except BaseException as e:
        return False, e

async def _settle(awaitables):
    return await asyncio.gather(*[_settle_one(a) for a in awaitables])
)";

}  // namespace

void EventLoop::ensure() {
  if (loop_) return;
  py::dict helpers;
  py::exec(kHelpers, helpers);
  helpers_ = helpers;
  // A new loop of our own, never set as the thread's "current" loop for other code:
  // asyncio.get_running_loop() inside a handler still finds it while it runs.
  loop_ = py::module_::import("asyncio").attr("new_event_loop")();
}

py::object EventLoop::run(py::handle awaitable) {
  ensure();
  return loop_.attr("run_until_complete")(awaitable);
}

py::list EventLoop::gather(const py::list& awaitables) {
  ensure();
  return loop_.attr("run_until_complete")(helpers_["_gather"](awaitables));
}

py::list EventLoop::collect(py::handle async_iterable) {
  ensure();
  return loop_.attr("run_until_complete")(helpers_["_collect"](async_iterable));
}

py::list EventLoop::settle(const py::list& awaitables) {
  ensure();
  return loop_.attr("run_until_complete")(helpers_["_settle"](awaitables));
}

py::object EventLoop::collecting(py::handle async_iterable) {
  ensure();
  return helpers_["_collect"](async_iterable);
}

py::object EventLoop::loop() {
  ensure();
  return loop_;
}

void EventLoop::close() noexcept {
  if (!loop_) return;
  try {
    loop_.attr("run_until_complete")(loop_.attr("shutdown_asyncgens")());
    loop_.attr("close")();
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("closing a python stage's event loop");
  } catch (...) {
  }
  loop_ = py::object();
  helpers_ = py::object();
}

bool EventLoop::is_awaitable(py::handle o) {
  if (PyCoro_CheckExact(o.ptr())) return true;
  // Not cached in a static: the interpreter may be finalized and started again.
  return py::module_::import("inspect").attr("isawaitable")(o).cast<bool>();
}

bool EventLoop::is_async_iterable(py::handle o) { return py::hasattr(o, "__aiter__"); }

}  // namespace sluice::python
