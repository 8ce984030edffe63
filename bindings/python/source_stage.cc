// The `python` stage type as a source, in two shapes:
//   - a generator function (`function:`), called once with **args: each process call
//     takes up to max_messages items from what it returned (a generator, any iterator,
//     an async generator); exhausted -> SLUICE_END; a yielded None ends the read early
//     ("nothing more now"); a yielded sluice.END ends the source.
//   - a class (`class:`, numaflow-python's Sourcer): read_handler(self, request) with a
//     ReadRequest returns or yields Messages (a list, a generator, a coroutine, an async
//     generator), or read_handler(self, request, output) puts them (await
//     output.put(m)); sluice.END among them ends the source. ack_handler(self,
//     AckRequest) gets the offsets of the messages that are done; pending_handler(self)
//     answers Stage::pending(); close(self), when defined, runs at finish.
// Nothing read -> SLUICE_IDLE. An exception while reading fails the call (a source has
// no per-message policy): onError retries it, skips it (then: drop) or fails the flow.
//
// Not thread-safe: each worker has its own instance, pinned to its thread, holding its
// own Python thread state. The GIL is taken once per call, never per message.
#include <algorithm>
#include <chrono>
#include <unordered_map>
#include <stdexcept>

#include "builtin/config.h"
#include "event_loop.h"
#include "handler.h"
#include "on_side_input.h"
#include "output.h"
#include "python_error.h"
#include "python_thread.h"
#include "stage.h"
#include "stage_loading.h"
#include "types.h"

namespace sluice::python {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kExpectedItem =
    "expected sluice.Message, bytes or str (sluice.END ends the source)";

// Takes up to n items from an async iterator in one run of the loop: (the items, ending
// with END when the iterator is exhausted or yielded END; the exception it raised, or
// None). Items taken before an exception are returned with it, not lost.
constexpr const char* kHelpers = R"PY(
async def _take(iterator, n, deadline, END):
    import asyncio
    loop = asyncio.get_running_loop()
    items = []
    while len(items) < n:
        try:
            item = await iterator.__anext__()
        except StopAsyncIteration:
            items.append(END)
            break
        except Exception as raised:
            return items, raised
        if item is None:
            break
        items.append(item)
        if item is END or loop.time() >= deadline:
            break
    return items, None
)PY";

HandlerConfig read_config(const CreateArgs& args) {
  builtin::Config config(args.config_json);
  HandlerConfig c = HandlerConfig::read(config, args);
  config.reject_unknown_keys();
  return c;
}

class SourceStage final : public Stage {
 public:
  explicit SourceStage(const CreateArgs& args) : config_(read_config(args)) {
    load_stage(
        thread_,
        [this] {
          loop_.emplace();
          load();
        },
        [this] { release(); });
  }
  ~SourceStage() override {
    PythonThread::Hold gil(thread_);
    release();
  }

  void side_input_changed(Context&, std::string_view name, uint64_t version) override {
    PythonThread::Hold gil(thread_);
    on_side_input_.call(name, version);
  }

  sluice_status process(Context& ctx, const Batch& batch) override {
    PythonThread::Hold gil(thread_);
    if (ended_) return SLUICE_END;
    const size_t max = batch.max_messages() == 0 ? 1 : batch.max_messages();
    const int64_t budget_us = batch.budget_us() > 0 ? batch.budget_us() : 1000;
    size_t emitted = 0;
    read_offsets_.clear();
    try {
      emitted = instance_ ? read_class(ctx, max, budget_us) : read_iterator(ctx, max, budget_us);
    } catch (const py::error_already_set& e) {
      throw std::runtime_error(reader_name() + " raised " + describe(e));
    }
    // The read's outputs are committed now (a failed read's are discarded by the host).
    for (std::string& offset : read_offsets_) ++offsets_in_flight_[std::move(offset)];
    if (ended_) {
      try {
        close_iterator();  // its finally: blocks run now
      } catch (const py::error_already_set& e) {
        throw std::runtime_error(reader_name() + " raised " + describe(e) + " while closing");
      }
      return SLUICE_END;
    }
    return emitted == 0 ? SLUICE_IDLE : SLUICE_OK;
  }

  void ack(Context&, const Batch& batch) override {
    if (!ack_ || batch.empty()) return;
    PythonThread::Hold gil(thread_);
    try {
      // Only the offsets the handler gave: a message it sent without one has an id the
      // host made up ("17"), which must not reach ack_handler as if it were offset 17.
      py::list offsets;
      for (size_t i = 0; i < batch.size(); ++i) {
        const std::string_view id = batch[i].id();
        auto it = offsets_in_flight_.find(std::string(id));
        if (it == offsets_in_flight_.end()) continue;
        if (--it->second == 0) offsets_in_flight_.erase(it);
        offsets.append(offset_(py::bytes(id.data(), id.size())));
      }
      if (offsets.empty()) return;
      py::object r = ack_(ack_request_(offsets));
      if (!r.is_none() && EventLoop::is_awaitable(r)) loop_->run(r);
    } catch (const py::error_already_set& e) {
      throw std::runtime_error(name_ + ".ack_handler raised " + describe(e));
    }
  }

  void finish(Context&) override {
    PythonThread::Hold gil(thread_);
    if (!broken_.empty()) throw FatalError(broken_);
    try {
      close_iterator();
      if (instance_ && py::hasattr(instance_, "close")) {
        py::object r = instance_.attr("close")();
        if (!r.is_none() && EventLoop::is_awaitable(r)) loop_->run(r);
      }
    } catch (const py::error_already_set& e) {
      throw std::runtime_error(name_ + (instance_ ? ".close()" : " (closing its generator)") +
                               " raised " + describe(e));
    }
  }

  std::optional<int64_t> pending() override {
    if (!pending_) return std::nullopt;
    PythonThread::Hold gil(thread_);
    py::object r;
    try {
      r = pending_();
      if (!r.is_none() && EventLoop::is_awaitable(r)) r = loop_->run(r);
    } catch (const py::error_already_set& e) {
      throw std::runtime_error(name_ + ".pending_handler raised " + describe(e));
    }
    if (r.is_none()) return std::nullopt;
    py::object count = r;
    if (!PyLong_Check(r.ptr()) && py::hasattr(r, "count")) count = r.attr("count");
    if (count.is_none()) return std::nullopt;
    if (!PyLong_Check(count.ptr()) || PyBool_Check(count.ptr()))
      throw std::runtime_error(name_ + ".pending_handler returned " + type_name(r) +
                               "; expected sluice.PendingResponse(count), an int or None");
    const int64_t n = count.cast<int64_t>();
    if (n < 0) return std::nullopt;  // numaflow's "not available"
    return n;
  }

 private:
  // What load() and `sluice check` check of a source: a class's read_handler (its
  // callable, and whether it takes an output) or a function (with its args bound).
  struct Shape {
    py::object read;
    bool with_output = false;
  };

 public:
  static Shape source_shape(const Target& t) {
    Shape shape;
    if (t.is_class) {
      shape.read = method_of(t, "read_handler");
      if (shape.read.is_none())
        throw ConfigError("config.class: " + t.name +
                          " has no read_handler(self, request) method (a source class is a "
                          "sluice.Sourcer: read_handler, and optionally ack_handler and "
                          "pending_handler)");
      const Positional p = positional_parameters(shape.read);
      if (p.required > 2 || p.total == 0)
        throw ConfigError("config.class: " + t.name + ".read_handler" + signature(shape.read) +
                          " has the wrong signature: it is read_handler(self, request) or "
                          "read_handler(self, request, output)");
      shape.with_output = p.required == 2;
      return shape;
    }
    shape.read = bind_args(t);
    const Positional p = positional_parameters(shape.read);
    if (p.required > 0)
      throw ConfigError("config.function: " + t.name + signature(shape.read) +
                        " has the wrong signature: a source function takes no positional "
                        "arguments (give its keyword arguments in args:)");
    return shape;
  }

 private:
  void load() {
    py::module_ sluice = py::module_::import("sluice");
    end_ = sluice.attr("END");
    Target t = load_target(config_);
    name_ = t.name;
    const Shape shape = source_shape(t);
    if (t.is_class) {
      instance_ = t.object;
      on_side_input_.set(method_of(t, "on_side_input"), t.name);
      read_ = shape.read;
      with_output_ = shape.with_output;
      if (py::hasattr(instance_, "ack_handler")) ack_ = instance_.attr("ack_handler");
      if (py::hasattr(instance_, "pending_handler"))
        pending_ = instance_.attr("pending_handler");
      read_request_ = sluice.attr("ReadRequest");
      ack_request_ = sluice.attr("AckRequest");
      offset_ = sluice.attr("Offset");
      output_type_ = sluice.attr("SourceOutput");
      return;
    }
    py::object fn = shape.read;
    py::object made;
    try {
      made = fn();
    } catch (const py::error_already_set& e) {
      throw ConfigError("config.function: " + name_ + "(**args) raised " + describe(e));
    }
    if (py::hasattr(made, "__anext__")) {
      iterator_ = made;
      async_ = true;
    } else if (EventLoop::is_async_iterable(made)) {
      iterator_ = made.attr("__aiter__")();
      async_ = true;
    } else if (py::hasattr(made, "__next__") || py::hasattr(made, "__iter__")) {
      iterator_ = py::iter(made);
    } else {
      throw ConfigError("config.function: " + name_ + " returned " + type_name(made) +
                        "; a source function is a generator (def f(): yield message), or "
                        "returns an iterator or an async iterator");
    }
    if (async_) {
      py::dict helpers;
      py::exec(kHelpers, helpers);
      take_ = helpers["_take"];
    }
  }

  static std::string signature(const py::object& fn) {
    try {
      return py::str(py::module_::import("inspect").attr("signature")(fn)).cast<std::string>();
    } catch (const py::error_already_set&) {
      return "(...)";
    }
  }

  std::string reader_name() const { return instance_ ? name_ + ".read_handler" : name_; }

  // Emits one item; false when it is END (nothing emitted).
  bool emit(Context& ctx, py::handle item, const char* verb) {
    if (item.is(end_)) return false;
    note_offset(item);
    if (!out_.emit_one(ctx, SLUICE_NO_INPUT, item))
      throw std::runtime_error(reader_name() + " " + verb + " " + type_name(item) + "; " +
                               kExpectedItem);
    return true;
  }

  // A generator function's iterator: up to max items, within the budget. A generator
  // that raises (or yields something that is no message) cannot be read again, nor
  // retried: its input ends there, so everything it yielded before is delivered (the
  // flow drains as at any end), and finish() then fails the stage: exit 1, not a quiet
  // end with data missing.
  size_t read_iterator(Context& ctx, size_t max, int64_t budget_us) {
    size_t n = 0;
    auto broken = [&](const std::string& why) -> size_t {
      broken_ = reader_name() + " " + why + " (a generator cannot go on after that)";
      ended_ = true;
      return n;
    };
    if (async_) {
      py::object loop_time = py::module_::import("time").attr("monotonic");
      const double deadline = loop_time().cast<double>() + static_cast<double>(budget_us) / 1e6;
      // The loop's clock is time.monotonic, as asyncio's default loop uses.
      py::tuple taken = loop_->run(take_(iterator_, max, deadline, end_));
      for (py::handle item : py::list(taken[0])) {
        if (item.is(end_)) {
          ended_ = true;
          return n;
        }
        if (!out_.emit_one(ctx, SLUICE_NO_INPUT, item))
          return broken("yielded " + type_name(item) + "; " + kExpectedItem);
        ++n;
      }
      if (!taken[1].is_none()) return broken("raised " + describe_exception(taken[1]));
      return n;
    }
    const Clock::time_point deadline = Clock::now() + std::chrono::microseconds(budget_us);
    while (n < max) {
      PyObject* next = PyIter_Next(iterator_.ptr());
      if (next == nullptr) {
        if (PyErr_Occurred()) {
          py::error_already_set e;
          return broken("raised " + describe(e));
        }
        ended_ = true;  // exhausted
        break;
      }
      py::object item = py::reinterpret_steal<py::object>(next);
      if (item.is_none()) break;  // nothing more now
      if (item.is(end_)) {
        ended_ = true;
        break;
      }
      if (!out_.emit_one(ctx, SLUICE_NO_INPUT, item))
        return broken("yielded " + type_name(item) + "; " + kExpectedItem);
      ++n;
      if (Clock::now() >= deadline) break;
    }
    return n;
  }

  // A Sourcer's read_handler, once.
  size_t read_class(Context& ctx, size_t max, int64_t budget_us) {
    py::object request = read_request_(max, std::max<int64_t>(budget_us / 1000, 1));
    py::object output;
    py::object result;
    if (with_output_) {
      output = output_type_();
      result = read_(request, output);
    } else {
      result = read_(request);
    }
    if (!result.is_none() && EventLoop::is_awaitable(result)) result = loop_->run(result);
    size_t n = 0;
    if (output) {
      for (py::handle item : py::list(output.attr("_items"))) {
        if (!emit(ctx, item, "put")) {
          ended_ = true;
          return n;
        }
        ++n;
      }
    }
    if (result.is_none()) return n;
    if (result.is(end_)) {
      ended_ = true;
      return n;
    }
    if (EventLoop::is_async_iterable(result)) result = loop_->collect(result);
    note_offset(result);
    if (out_.emit_one(ctx, SLUICE_NO_INPUT, result)) return n + 1;  // one Message
    if (!PyList_Check(result.ptr()) && !PyTuple_Check(result.ptr()) &&
        !py::hasattr(result, "__iter__"))
      throw std::runtime_error(reader_name() + " returned " + type_name(result) +
                               "; expected Messages (a list, a generator, ...) of "
                               "sluice.Message, or sluice.END");
    py::object it = py::iter(result);
    while (PyObject* next = PyIter_Next(it.ptr())) {
      py::object item = py::reinterpret_steal<py::object>(next);
      if (!emit(ctx, item, "returned")) {
        ended_ = true;
        if (py::hasattr(it, "close")) it.attr("close")();  // a generator stops here
        return n;
      }
      ++n;
    }
    if (PyErr_Occurred()) throw py::error_already_set();
    return n;
  }

  // Closes the loop and drops every Python object. With the GIL held.
  void release() noexcept {
    if (loop_) loop_->close();
    loop_.reset();
    on_side_input_.release();
    iterator_ = instance_ = read_ = ack_ = pending_ = py::object();
    end_ = read_request_ = ack_request_ = offset_ = output_type_ = take_ = py::object();
  }

  // Closes a generator function's (async) generator, running its finally blocks.
  void close_iterator() {
    if (!iterator_) return;
    py::object it = iterator_;
    iterator_ = py::object();
    if (async_ && py::hasattr(it, "aclose"))
      loop_->run(it.attr("aclose")());
    else if (!async_ && py::hasattr(it, "close"))
      it.attr("close")();
  }

  HandlerConfig config_;
  PythonThread thread_;
  // Made with the GIL held (its members are Python objects), closed before the rest.
  std::optional<EventLoop> loop_;
  OutputWriter out_;
  std::string name_;
  // Records the offset of a Message about to be emitted by a Sourcer with an ack_handler.
  void note_offset(py::handle item) {
    if (!ack_) return;
    const MessageObject* m = as_message(item);
    if (m == nullptr || m->offset == nullptr) return;
    read_offsets_.emplace_back(PyBytes_AS_STRING(m->offset),
                               static_cast<size_t>(PyBytes_GET_SIZE(m->offset)));
  }

  bool ended_ = false;
  // Offsets the handler gave to messages not yet acknowledged (a count per offset, in
  // case one is reused), and those of the current read until it succeeds.
  std::unordered_map<std::string, uint32_t> offsets_in_flight_;
  std::vector<std::string> read_offsets_;
  std::string broken_;  // why the generator cannot be read again, once it raised
  // A generator function's source.
  py::object iterator_;
  bool async_ = false;
  py::object take_;  // _take, for an async iterator
  // A Sourcer's.
  py::object instance_, read_, ack_, pending_;
  OnSideInput on_side_input_;  // a Sourcer's on_side_input
  bool with_output_ = false;
  py::object read_request_, ack_request_, offset_, output_type_;
  py::object end_;  // sluice.END
};

}  // namespace

void check_source_stage(const CreateArgs& args) {
  const HandlerConfig config = read_config(args);
  try {
    const Target t = load_target(config, /*instantiate=*/false);
    SourceStage::source_shape(t);
    if (t.is_class) OnSideInput().set(method_of(t, "on_side_input"), t.name);
  } catch (const py::error_already_set& e) {
    throw ConfigError("loading the handler failed: " + describe(e));
  }
}

std::unique_ptr<Stage> make_source_stage(const CreateArgs& args) {
  return std::make_unique<SourceStage>(args);
}

}  // namespace sluice::python
