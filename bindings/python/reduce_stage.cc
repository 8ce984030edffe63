// The `python` stage type as a reducer (`reduce: python`; docs/python-reducers.md), in
// one of three modes, numaflow-python's reducer shapes:
//   reduce   handler(keys, datums, md) -> Messages (a sluice.Reducer, or a function)
//   stream   handler(keys, datums, output, md), putting results on output
//            (a sluice.ReduceStreamer, or a function of four arguments)
//   session  session_reduce_handler(keys, datums, output) (a sluice.SessionReducer, or a
//            function with mode: session)
//
// Streaming (mode stream with an `async def` handler, on fixed and sliding windows): the
// window's first append starts the handler as a task on the instance's event loop, with
// an async iterator of datums that each append feeds; after feeding, the loop runs until
// the handler waits for the next datum (or ends), and what it put on `output` so far is
// emitted in that call. The close ends the iterator and waits for the handler; a discard
// cancels it. Session windows cannot merge two running handlers: a merge fails the call
// (use mode: session). A plain `def` streamer runs buffered, as below.
//
// Buffer, then run (every other case): the host's calls for one window (ABI 1.4 reduce contract) append
// its messages as sluice.Datum objects to a Python list kept in the window's state slot
// (a strong reference to a `sluice.Datums`); a merge (sessions) moves the merged
// window's datums into the surviving window; a close runs the handler once over the
// window's datums with the window's metadata and emits what it gave; a discard drops
// the list. A class handler gets a new instance per window (numaflow-python makes one
// per window too), with the config's args. An exception from the handler (or its
// constructor, or a result that is no Message) fails the call, and so the flow.
//
// Not thread-safe: the host runs a reduce on one worker; the instance keeps its own
// Python thread state there and takes the GIL once per call.
#include <optional>
#include <stdexcept>
#include <string>

#include "builtin/config.h"
#include "datum.h"
#include "event_loop.h"
#include "handler.h"
#include "output.h"
#include "python_error.h"
#include "python_thread.h"
#include "stage.h"
#include "stage_loading.h"
#include "types.h"

namespace sluice::python {
namespace {

enum class Mode { reduce, stream, session };

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::reduce: return "reduce";
    case Mode::stream: return "stream";
    case Mode::session: return "session";
  }
  return "?";
}

const char* expected_signature(Mode m) {
  switch (m) {
    case Mode::reduce: return "a reducer is handler(keys, datums, md)";
    case Mode::stream: return "a reduce streamer is handler(keys, datums, output, md)";
    case Mode::session: return "a session reducer is session_reduce_handler(keys, datums, output)";
  }
  return "?";
}

int arity_of(Mode m) { return m == Mode::stream ? 4 : 3; }

// One window of a streaming reducer: the handler's task and the datums fed to it.
constexpr const char* kStreamHelper = R"(
import asyncio
import collections


class _ReduceStream:
    __slots__ = ("_loop", "_queue", "_waiter", "_closed", "output", "task")

    def __init__(self, loop, output, call, keys, md):
        self._loop = loop
        self._queue = collections.deque()
        self._waiter = None
        self._closed = False
        self.output = output
        self.task = loop.create_task(call(keys, self, output, md))

    def __aiter__(self):
        return self

    async def __anext__(self):
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = self._loop.create_future()
            await self._waiter
        return self._queue.popleft()

    def __iter__(self):
        raise TypeError("a streaming reducer's datums arrive as the window fills: "
                        "iterate them with `async for`")

    def _wake(self):
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def feed(self, datums):
        self._queue.extend(datums)
        self._wake()

    def close(self):
        self._closed = True
        self._wake()

    async def drive(self):
        # Until the handler waits for a datum that has not come (or has ended).
        while not (self.task.done() or (not self._queue and self._waiter is not None
                                        and not self._waiter.done())):
            await asyncio.sleep(0)
        if self.task.done():
            self.task.result()  # its exception, if it raised

    def take_output(self):
        items = self.output._items
        self.output._items = []
        return items

    async def cancel(self):
        self.task.cancel()
        try:
            await self.task
        except BaseException:
            pass
)";

struct ReduceConfig {
  HandlerConfig handler;
  std::optional<Mode> mode;  // nullopt: from the class base, method name or arity
};

ReduceConfig read_config(const CreateArgs& args) {
  builtin::Config config(args.config_json);
  ReduceConfig c{HandlerConfig::read(config, args), std::nullopt};
  if (config.has("mode")) {
    const std::string m = config.choice("mode", "reduce", {"reduce", "stream", "session"});
    c.mode = m == "reduce" ? Mode::reduce : m == "stream" ? Mode::stream : Mode::session;
  }
  config.reject_unknown_keys();
  return c;
}

ConfigError config_error(const std::string& key, const std::string& message) {
  return ConfigError("config." + key + ": " + message);
}

std::string signature_of(const py::object& fn) {
  try {
    return py::str(py::module_::import("inspect").attr("signature")(fn)).cast<std::string>();
  } catch (const py::error_already_set&) {
    return "(...)";
  }
}

// What a reduce stage calls: the function (args bound), or the class whose instance per
// window is made with args, and the method's name on it.
struct ReduceHandler {
  Mode mode = Mode::reduce;
  py::object function;  // a function handler (args bound), or null
  py::object cls;       // a class handler's class, or null
  py::object args;      // the class's constructor args (a dict); null for a function
  std::string method;   // the class's method to call ("handler", "__call__", ...)
  std::string name;     // "h.Sum.handler", for messages
  bool coroutine = false;  // `async def`: a stream-mode handler then streams

  void release() noexcept {
    function = cls = args = py::object();
  }
};

// Loads the handler and works out its mode; checks its signature. A class is never made
// here (its args are checked against its constructor): instances are per window.
ReduceHandler find_reduce_handler(const ReduceConfig& config) {
  const Target t = load_target(config.handler, /*instantiate=*/false);
  ReduceHandler h;
  py::object fn;  // what the signature is read from
  std::optional<Mode> by_class;
  std::string base;
  if (t.is_class) {
    h.cls = t.object;
    py::module_ sluice = py::module_::import("sluice");
    const std::pair<const char*, Mode> bases[] = {{"Reducer", Mode::reduce},
                                                   {"ReduceStreamer", Mode::stream},
                                                   {"SessionReducer", Mode::session}};
    for (const auto& [b, mode] : bases) {
      if (PyObject_IsSubclass(h.cls.ptr(), sluice.attr(b).ptr()) == 1) {
        by_class = mode;
        base = b;
      }
    }
    if (!by_class && !method_of(t, "session_reduce_handler").is_none()) by_class = Mode::session;
    if (by_class && config.mode && *by_class != *config.mode)
      throw config_error("mode", t.name + " is a " + (base.empty() ? std::string("session reducer")
                                                                   : "sluice." + base) +
                                     " (" + mode_name(*by_class) + "), but mode is " +
                                     mode_name(*config.mode));
    const Mode mode = config.mode ? *config.mode : by_class ? *by_class : Mode::reduce;
    const char* names[] = {mode == Mode::session ? "session_reduce_handler" : "handler", "__call__"};
    for (const char* n : names) {
      fn = method_of(t, n);
      if (fn.is_none()) continue;
      h.method = n;
      h.name = t.name + (std::string(n) == "__call__" ? "" : "." + std::string(n));
      break;
    }
    if (fn.is_none())
      throw config_error(t.key, t.name + " has neither a " + names[0] + "() method nor __call__");
    // load_target checked the args against the constructor without keeping them.
    h.args = py::module_::import("json").attr("loads")(config.handler.args.dump());
    h.mode = mode;
  } else {
    h.function = bind_args(t);
    fn = h.function;
    h.name = t.name;
  }
  const Positional p = positional_parameters(fn);
  const bool by_shape = !config.mode && !by_class;
  // A function's mode (or a class's without a sluice base): configured, else by how many
  // arguments it takes.
  if (config.mode) h.mode = *config.mode;
  else if (by_shape) h.mode = p.required == 4 ? Mode::stream : Mode::reduce;
  h.coroutine = py::module_::import("inspect").attr("iscoroutinefunction")(fn).cast<bool>();
  const int n = arity_of(h.mode);
  if (p.required >= 0 && (p.required > n || (p.total >= 0 && p.total < n)))
    throw config_error(config.mode ? "mode" : t.key,
                       h.name + signature_of(fn) + " from " + t.shown + " has the wrong signature: " +
                           expected_signature(h.mode) +
                           (by_shape ? " (or set mode: stream / session)" : ""));
  return h;
}

class ReduceStage final : public Stage {
 public:
  explicit ReduceStage(const CreateArgs& args) {
    const ReduceConfig config = read_config(args);
    load_stage(thread_, [&] { load(config); }, [this] { release(); });
  }
  ~ReduceStage() override {
    PythonThread::Hold gil(thread_);
    release();
  }

  sluice_status process(Context& ctx, const Batch& batch) override {
    PythonThread::Hold gil(thread_);
    if (streaming_) {
      stream(ctx, batch);
      return SLUICE_OK;
    }
    void*& slot = batch.state_slot();
    if (batch.merges_window()) {
      py::object merged = py::reinterpret_steal<py::object>(static_cast<PyObject*>(batch.merged_state()));
      if (merged) datums(slot).attr("extend")(merged);
      return SLUICE_OK;
    }
    if (batch.closes_window() || batch.discards_window()) {
      py::object window = py::reinterpret_steal<py::object>(static_cast<PyObject*>(slot));
      slot = nullptr;
      if (batch.closes_window()) close(ctx, batch, window ? window : datums_type_());
      return SLUICE_OK;
    }
    py::object list = datums(slot);
    const std::vector<std::string> ids = batch_ids(batch);
    for (size_t i = 0; i < batch.size(); ++i)
      if (PyList_Append(list.ptr(), make_datum(batch[i], ids[i]).ptr()) != 0) throw py::error_already_set();
    return SLUICE_OK;
  }

 private:
  void load(const ReduceConfig& config) {
    h_ = find_reduce_handler(config);
    py::module_ sluice = py::module_::import("sluice");
    datums_type_ = sluice.attr("Datums");
    metadata_type_ = sluice.attr("Metadata");
    window_type_ = sluice.attr("IntervalWindow");
    output_type_ = sluice.attr("NonBlockingIterator");
    streaming_ = h_.mode == Mode::stream && h_.coroutine;
    if (streaming_) {
      py::dict scope;
      py::exec(kStreamHelper, scope);
      stream_type_ = scope["_ReduceStream"];
    }
  }

  // The window's keys as the handler gets them.
  static py::list keys_of(const Batch& batch) {
    py::list keys;
    for (size_t k = 0; k < batch.window_key_count(); ++k) keys.append(text(batch.window_key(k)));
    return keys;
  }

  // What a window calls: the function, or a new instance's method.
  py::object window_call() {
    if (h_.function) return h_.function;
    py::object instance = h_.cls(**py::reinterpret_borrow<py::dict>(h_.args));
    return h_.method == "__call__" ? instance : instance.attr(h_.method.c_str());
  }

  py::object metadata(const Batch& batch) {
    return metadata_type_(window_type_(batch.window_start(), batch.window_end()));
  }

  // A streaming reducer's calls (see the top of the file).
  void stream(Context& ctx, const Batch& batch) {
    void*& slot = batch.state_slot();
    try {
      if (batch.merges_window()) {
        py::object merged = py::reinterpret_steal<py::object>(static_cast<PyObject*>(batch.merged_state()));
        if (merged) loop_.run(merged.attr("cancel")());
        throw std::runtime_error(h_.name + " is a streaming reducer (mode: stream, async def), whose "
                                 "running windows cannot merge: for session windows use a session "
                                 "reducer (mode: session)");
      }
      if (batch.discards_window()) {
        py::object run = py::reinterpret_steal<py::object>(static_cast<PyObject*>(slot));
        slot = nullptr;
        if (run) loop_.run(run.attr("cancel")());
        return;
      }
      if (slot == nullptr)
        slot = stream_type_(loop_.loop(), output_type_(), window_call(), keys_of(batch), metadata(batch))
                   .release()
                   .ptr();
      py::object run = py::reinterpret_borrow<py::object>(static_cast<PyObject*>(slot));
      if (batch.closes_window()) {
        slot = nullptr;
        py::object owned = py::reinterpret_steal<py::object>(run.ptr());  // the slot's reference
        run.attr("close")();
        py::object r = loop_.run(run.attr("task"));
        emit_all(ctx, run.attr("take_output")(), r);
        return;
      }
      const std::vector<std::string> ids = batch_ids(batch);
      py::list datums(batch.size());
      for (size_t i = 0; i < batch.size(); ++i) datums[i] = make_datum(batch[i], ids[i]);
      run.attr("feed")(datums);
      loop_.run(run.attr("drive")());
      emit_all(ctx, run.attr("take_output")(), py::none());
    } catch (const py::error_already_set& e) {
      throw std::runtime_error(h_.name + " raised " + describe(e));
    }
  }

  // Emits what was put on output, then what the handler returned.
  void emit_all(Context& ctx, const py::object& put, const py::object& returned) {
    std::vector<py::object> results;
    for (py::handle item : put) results.push_back(py::reinterpret_borrow<py::object>(item));
    collect(returned, results);
    OutputWriter writer;
    for (const py::object& item : results) {
      if (item.is_none()) continue;
      if (!writer.emit_one(ctx, SLUICE_NO_INPUT, item))
        throw std::runtime_error(h_.name + " gave a " + type_name(item) +
                                 " as a result; a reducer's results are sluice.Message, bytes or str "
                                 "(in Messages or a list)");
    }
  }

  // The window's datums list, made on its first use (a borrowed view as a new reference).
  py::object datums(void*& slot) {
    if (slot == nullptr) slot = datums_type_().release().ptr();
    return py::reinterpret_borrow<py::object>(static_cast<PyObject*>(slot));
  }

  // Runs the handler over the window's datums and emits its results.
  void close(Context& ctx, const Batch& batch, const py::object& window) {
    try {
      py::list keys = keys_of(batch);
      py::object call = window_call();
      py::object md = metadata(batch);
      py::object output = py::none();
      py::object r;
      switch (h_.mode) {
        case Mode::reduce: r = call(keys, window, md); break;
        case Mode::stream:
          output = output_type_();
          r = call(keys, window, output, md);
          break;
        case Mode::session:
          output = output_type_();
          r = call(keys, window, output);
          break;
      }
      if (EventLoop::is_awaitable(r)) r = loop_.run(r);
      else if (EventLoop::is_async_iterable(r)) r = loop_.collect(r);
      emit_all(ctx, output.is_none() ? py::list() : py::list(output.attr("items")()), r);
    } catch (const py::error_already_set& e) {
      throw std::runtime_error(h_.name + " raised " + describe(e));
    }
  }

  // A handler's return value as results: None nothing; Message, bytes, str one; a list,
  // tuple, Messages or generator each item.
  void collect(const py::object& r, std::vector<py::object>& out) {
    if (r.is_none()) return;
    PyObject* o = r.ptr();
    if (as_message(r) != nullptr || PyBytes_Check(o) || PyByteArray_Check(o) || PyUnicode_Check(o)) {
      out.push_back(r);
      return;
    }
    if (PyList_Check(o) || PyTuple_Check(o) || PyGen_Check(o)) {
      for (py::handle item : py::iter(r)) out.push_back(py::reinterpret_borrow<py::object>(item));
      return;
    }
    throw std::runtime_error(h_.name + " returned " + type_name(r) +
                             "; a reducer returns Messages (or a list of Message), a Message, "
                             "bytes, str or None");
  }

  // Drops every Python object. With the GIL held.
  void release() noexcept {
    loop_.close();
    h_.release();
    datums_type_ = metadata_type_ = window_type_ = output_type_ = stream_type_ = py::object();
  }

  PythonThread thread_;
  ReduceHandler h_;
  py::object datums_type_, metadata_type_, window_type_, output_type_;
  py::object stream_type_;  // _ReduceStream (kStreamHelper), when streaming_
  bool streaming_ = false;  // mode stream with an async def handler
  EventLoop loop_;
};

}  // namespace

void check_reduce_stage(const CreateArgs& args) {
  const ReduceConfig config = read_config(args);
  try {
    find_reduce_handler(config);
  } catch (const py::error_already_set& e) {
    throw ConfigError("loading the handler failed: " + describe(e));
  }
}

std::unique_ptr<Stage> make_reduce_stage(const CreateArgs& args) {
  return std::make_unique<ReduceStage>(args);
}

}  // namespace sluice::python
