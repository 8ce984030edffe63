// The `python` stage type as a map, in one of three modes (docs/python-maps.md):
//   map     handler(datum) / handler(keys, datum) per message; what it returns becomes
//           the outputs (a SourceTransformer is a map whose Messages set event_time);
//   stream  the same call as a generator (def or async def with yield): each yield is an
//           output;
//   batch   handler(datums) once per process call with all its messages, returning
//           BatchResponses (by datum id) or a list with one entry per datum.
// `async def` handlers of a batch run concurrently on the instance's event loop. A
// handler that raises fails that message alone (a batch handler: every message of the
// batch), so the stage's onError policy decides (retry, drop, fallback, fail).
//
// Not thread-safe: each worker has its own instance, pinned to its thread, holding its
// own Python thread state. The GIL is taken once per batch, never per message.
#include <mutex>
#include <optional>
#include <unordered_map>

#include "builtin/config.h"
#include "datum.h"
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

constexpr const char* kExpected =
    "expected sluice.Message, sluice.Messages (or a list of sluice.Message), bytes, str or "
    "None";
constexpr const char* kYields = "a map-stream handler yields sluice.Message, bytes or str";
constexpr const char* kBatchReturns =
    "a batch map handler returns sluice.BatchResponses (a BatchResponse per datum id) or a "
    "list with one entry per datum, in order";

// The map kinds, as `mode:` names them.
enum class Mode { map, stream, batch };

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::map: return "map";
    case Mode::stream: return "stream";
    case Mode::batch: return "batch";
  }
  return "?";
}

const char* kind_name(Mode m) {
  switch (m) {
    case Mode::map: return "a map handler";
    case Mode::stream: return "a map-stream handler";
    case Mode::batch: return "a batch map handler";
  }
  return "?";
}

struct MapConfig {
  HandlerConfig handler;
  std::optional<Mode> mode;  // nullopt: from the handler (its class base, or generator)
};

MapConfig read_config(const CreateArgs& args) {
  builtin::Config config(args.config_json);
  MapConfig c{HandlerConfig::read(config, args), std::nullopt};
  if (config.has("mode")) {
    const std::string m = config.choice("mode", "map", {"map", "stream", "batch"});
    c.mode = m == "map" ? Mode::map : m == "stream" ? Mode::stream : Mode::batch;
  }
  config.reject_unknown_keys();
  return c;
}

ConfigError config_error(const std::string& key, const std::string& message) {
  return ConfigError("config." + key + ": " + message);
}

std::string qualified_name(const py::object& cls) {
  return py::str(cls.attr("__module__")).cast<std::string>() + "." +
         py::str(cls.attr("__qualname__")).cast<std::string>();
}

// The mode a class handler's sluice base class says, if it has one ("" base otherwise).
std::optional<Mode> mode_of_class(const py::object& cls, std::string* base) {
  if (!cls) return std::nullopt;
  py::module_ sluice = py::module_::import("sluice");
  std::optional<Mode> found;
  static const std::pair<const char*, Mode> kBases[] = {{"Mapper", Mode::map},
                                                         {"SourceTransformer", Mode::map},
                                                         {"MapStreamer", Mode::stream},
                                                         {"BatchMapper", Mode::batch}};
  for (const auto& [name, mode] : kBases) {
    const int is = PyObject_IsSubclass(cls.ptr(), sluice.attr(name).ptr());
    if (is < 0) throw py::error_already_set();
    if (is == 0) continue;
    if (found && *found != mode)
      throw config_error("class", qualified_name(cls) + " subclasses both sluice." + *base +
                                      " and sluice." + name + "; it can be only one kind");
    found = mode;
    *base = name;
  }
  return found;
}

// The handler's mode from the config, its class base and its shape; a mismatch is a
// ConfigError saying what each of them says.
Mode resolve_mode(const Handler& h, std::optional<Mode> configured) {
  std::string base;
  const std::optional<Mode> by_class = mode_of_class(h.cls, &base);
  if (configured && by_class && *configured != *by_class)
    throw config_error("mode", qualified_name(h.cls) + " is a sluice." + base + " (" +
                                   kind_name(*by_class) + "), but mode is " +
                                   mode_name(*configured));
  const bool yields = h.generator || h.async_generator;
  const Mode mode = configured ? *configured : by_class ? *by_class : yields ? Mode::stream : Mode::map;
  const std::string key = configured ? "mode" : h.key;
  if (mode == Mode::stream && !yields)
    throw config_error(key, h.name + " is not a generator; " + kind_name(mode) +
                                " yields its outputs (def or async def with yield)");
  if (mode == Mode::map && h.async_generator)
    throw config_error(key, h.name + " is an async generator, a map-stream handler: " +
                                (by_class ? "subclass sluice.MapStreamer"
                                          : "set mode: stream (or leave mode out)"));
  return mode;
}

// Finds the handler and its mode and checks its signature for that mode. Without
// `instantiate` (sluice check), a class handler is not made. Call with the GIL held.
Handler prepare_handler(const MapConfig& config, bool instantiate, Mode* mode,
                        OnSideInput* on_side_input) {
  Handler h = find_handler(config.handler, instantiate);
  if (h.on_side_input) on_side_input->set(h.on_side_input, qualified_name(h.cls));
  *mode = resolve_mode(h, config.mode);
  const std::string expected = std::string(kind_name(*mode)) +
                               (*mode == Mode::batch ? " is handler(datums)"
                                                     : " is handler(datum) or handler(keys, datum)");
  if (*mode == Mode::batch)
    check_one_argument(h, expected);
  else
    read_datum_signature(h, expected);
  return h;
}

class MapStage final : public Stage {
 public:
  explicit MapStage(const CreateArgs& args) {
    const MapConfig config = read_config(args);
    load_stage(
        thread_,
        [&] {
          handler_ =
              std::make_unique<Handler>(prepare_handler(config, /*instantiate=*/true, &mode_,
                                                        &on_side_input_));
          if (mode_ == Mode::batch) {
            py::module_ sluice = py::module_::import("sluice");
            datums_type_ = sluice.attr("Datums");
            responses_type_ = sluice.attr("BatchResponses");
            response_type_ = sluice.attr("BatchResponse");
            messages_type_ = sluice.attr("Messages");
          }
        },
        [this] { release(); });
  }
  ~MapStage() override {
    PythonThread::Hold gil(thread_);
    release();
  }

  // Drops every Python object the stage holds. With the GIL held.
  void release() noexcept {
    loop_.close();
    on_side_input_.release();
    handler_.reset();
    datums_type_ = py::object();
    responses_type_ = py::object();
    response_type_ = py::object();
    messages_type_ = py::object();
  }

  sluice_status process(Context& ctx, const Batch& batch) override {
    PythonThread::Hold gil(thread_);
    switch (mode_) {
      case Mode::map:
        if (handler_->coroutine)
          process_async(ctx, batch);
        else
          process_map(ctx, batch);
        break;
      case Mode::stream:
        if (handler_->async_generator)
          process_async(ctx, batch);
        else
          process_stream(ctx, batch);
        break;
      case Mode::batch: process_batch(ctx, batch); break;
    }
    return SLUICE_OK;
  }

  void side_input_changed(Context&, std::string_view name, uint64_t version) override {
    PythonThread::Hold gil(thread_);
    on_side_input_.call(name, version);
  }

 private:
  // --- map: one call per message --------------------------------------------------------

  void process_map(Context& ctx, const Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) {
      std::string failure;
      try {
        failure = emit(ctx, i, call(batch[i]));
      } catch (const py::error_already_set& e) {
        failure = describe(e);
      } catch (const py::builtin_exception& e) {
        failure = e.what();
      }
      if (!failure.empty()) ctx.fail(i, failure);
    }
  }

  // The handler's result for one message. Per message, only what the handler needs:
  // the keys list only for handler(keys, datum) (from the Datum, not a property lookup),
  // and a vectorcall (no args tuple).
  py::object call(const sluice::Message& m) {
    py::object keys;
    py::object datum = make_datum(m, std::string(m.id()), handler_->with_keys ? &keys : nullptr);
    PyObject* args[] = {nullptr, keys.ptr(), datum.ptr()};  // [0]: room for a bound self
    PyObject* const* first = handler_->with_keys ? args + 1 : args + 2;
    const size_t n = handler_->with_keys ? 2 : 1;
    PyObject* r = PyObject_Vectorcall(handler_->call.ptr(), first,
                                      n | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
    if (r == nullptr) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(r);
  }

  // Emits a map handler's result for input i; "" or why the result is not acceptable.
  // `entry`: the result is a batch handler's entry for input i, not a call's result.
  std::string emit(Context& ctx, size_t i, const py::object& result, bool entry = false) {
    if (result.is_none()) return {};  // filtered out
    if (out_.emit_one(ctx, i, result)) return {};
    // A plain function returning an awaitable (a decorator's wrapper around an async def
    // hides it from inspect): awaited here, one message at a time.
    if (!entry && EventLoop::is_awaitable(result)) {
      py::list one;
      one.append(result);
      const py::tuple outcome = loop_.settle(one)[0];
      if (!outcome[0].cast<bool>()) return describe_exception(outcome[1]);
      if (EventLoop::is_awaitable(outcome[1]))
        return handler_->name + " returned an awaitable that gave another awaitable";
      return emit(ctx, i, outcome[1]);
    }
    auto what = [&] { return handler_->name + (entry ? "'s entry for this datum is " : " returned "); };
    if (PyList_Check(result.ptr()) || PyTuple_Check(result.ptr()) || PyGen_Check(result.ptr())) {
      for (py::handle item : py::iter(result))
        if (!out_.emit_one(ctx, i, item))
          return what() + "a " + type_name(result) + " holding a " + type_name(item) + "; " +
                 kExpected;
      return {};
    }
    return what() + type_name(result) + "; " + kExpected;
  }

  // --- stream: a generator per message ----------------------------------------------------

  void process_stream(Context& ctx, const Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) {
      std::string failure;
      try {
        for (py::handle item : py::iter(call(batch[i])))
          if (!out_.emit_one(ctx, i, item)) {
            failure = handler_->name + " yielded " + type_name(item) + "; " + kYields;
            break;
          }
      } catch (const py::error_already_set& e) {
        failure = describe(e);
      } catch (const py::builtin_exception& e) {
        failure = e.what();
      }
      if (!failure.empty()) ctx.fail(i, failure);
    }
  }

  // --- async def map and stream: the batch's calls run concurrently -----------------------

  void process_async(Context& ctx, const Batch& batch) {
    const bool stream = mode_ == Mode::stream;
    py::list awaitables;
    std::vector<size_t> inputs;  // the input of each awaitable
    inputs.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      try {
        py::object called = call(batch[i]);
        awaitables.append(stream ? loop_.collecting(called) : called);
        inputs.push_back(i);
      } catch (const py::error_already_set& e) {
        ctx.fail(i, describe(e));
      }
    }
    if (inputs.empty()) return;
    const py::list settled = loop_.settle(awaitables);
    for (size_t k = 0; k < inputs.size(); ++k) {
      const size_t i = inputs[k];
      const py::tuple outcome = settled[k];
      std::string failure;
      try {
        if (!outcome[0].cast<bool>()) {
          failure = describe_exception(outcome[1]);
        } else if (stream) {
          for (py::handle item : outcome[1].cast<py::list>())
            if (!out_.emit_one(ctx, i, item)) {
              failure = handler_->name + " yielded " + type_name(item) + "; " + kYields;
              break;
            }
        } else {
          failure = emit(ctx, i, outcome[1]);
        }
      } catch (const py::error_already_set& e) {
        failure = describe(e);
      } catch (const py::builtin_exception& e) {
        failure = e.what();
      }
      if (!failure.empty()) ctx.fail(i, failure);
    }
  }

  // --- batch: one call per process call ---------------------------------------------------

  void process_batch(Context& ctx, const Batch& batch) {
    const std::vector<std::string> ids = batch_ids(batch);
    std::string failure;
    try {
      py::list list(batch.size());
      for (size_t i = 0; i < batch.size(); ++i)
        PyList_SET_ITEM(list.ptr(), static_cast<Py_ssize_t>(i),
                        make_datum(batch[i], ids[i]).release().ptr());
      py::object result = handler_->call(datums_type_(list));
      // async def (or anything awaitable): run it; async def with yield: drain it.
      if (EventLoop::is_awaitable(result) || EventLoop::is_async_iterable(result)) {
        py::list one;
        one.append(EventLoop::is_awaitable(result) ? result : loop_.collecting(result));
        const py::tuple outcome = loop_.settle(one)[0];
        if (!outcome[0].cast<bool>()) {
          failure = describe_exception(outcome[1]);
        } else {
          result = outcome[1];
        }
      } else if (PyGen_Check(result.ptr())) {
        result = py::list(result);
      }
      if (failure.empty()) failure = emit_batch(ctx, ids, result);
    } catch (const py::error_already_set& e) {
      failure = describe(e);
    } catch (const py::builtin_exception& e) {
      failure = e.what();
    }
    // What fails the handler's call fails every message of the batch.
    if (!failure.empty())
      for (size_t i = 0; i < batch.size(); ++i) ctx.fail(i, failure);
  }

  // isinstance(o, type); a failing check (a broken __instancecheck__) raises.
  static bool is_instance(py::handle o, const py::object& type) {
    const int r = PyObject_IsInstance(o.ptr(), type.ptr());
    if (r < 0) throw py::error_already_set();
    return r == 1;
  }

  // Emits a batch handler's result; "" or why it is not acceptable as a whole (each
  // datum's own problem fails that datum here).
  std::string emit_batch(Context& ctx, const std::vector<std::string>& ids,
                         const py::object& result) {
    const size_t n = ids.size();
    const bool by_id =
        is_instance(result, responses_type_) ||
        ((PyList_Check(result.ptr()) || PyTuple_Check(result.ptr())) && py::len(result) > 0 &&
         is_instance(result.attr("__getitem__")(0), response_type_));
    if (!by_id) {
      // Messages is a list too, but one datum's outputs, not one entry per datum.
      if ((!PyList_Check(result.ptr()) && !PyTuple_Check(result.ptr())) ||
          PyObject_TypeCheck(result.ptr(), reinterpret_cast<PyTypeObject*>(messages_type_.ptr())))
        return handler_->name + " returned " + type_name(result) + "; " + kBatchReturns;
      if (py::len(result) != n)
        return handler_->name + " returned a " + type_name(result) + " of " +
               std::to_string(py::len(result)) + " entries for " + std::to_string(n) +
               " datums; " + kBatchReturns;
      size_t i = 0;
      for (py::handle entry : result) {
        std::string failure;
        try {
          failure = emit(ctx, i, py::reinterpret_borrow<py::object>(entry), /*entry=*/true);
        } catch (const py::error_already_set& e) {
          failure = describe(e);
        } catch (const py::builtin_exception& e) {
          failure = e.what();
        }
        if (!failure.empty()) ctx.fail(i, failure);
        ++i;
      }
      return {};
    }

    // BatchResponses: each datum's messages by its id, emitted in input order.
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < n; ++i) index.emplace(ids[i], i);
    std::vector<py::object> messages(n);
    for (py::handle response : result) {
      if (!is_instance(response, response_type_))
        return handler_->name + " returned a " + type_name(result) + " holding a " +
               type_name(response) + "; " + kBatchReturns;
      py::object id = response.attr("id");
      const std::string key = PyUnicode_Check(id.ptr()) ? id.cast<std::string>()
                                                         : py::repr(id).cast<std::string>();
      auto it = index.find(key);
      if (it == index.end())
        return handler_->name + " returned a BatchResponse for id " +
               py::repr(id).cast<std::string>() + ", which no datum of the batch has";
      if (messages[it->second])
        return handler_->name + " returned two BatchResponses for id " +
               py::repr(id).cast<std::string>();
      messages[it->second] = response.attr("messages");
    }
    for (size_t i = 0; i < n; ++i) {
      if (!messages[i]) {
        ctx.fail(i, handler_->name + " returned no BatchResponse for datum " +
                        py::repr(py::str(ids[i])).cast<std::string>() +
                        " (each datum of the batch needs one)");
        continue;
      }
      std::string failure;
      try {
        for (py::handle item : py::iter(messages[i]))
          if (!out_.emit_one(ctx, i, item)) {
            failure = handler_->name + "'s BatchResponse for datum " +
                      py::repr(py::str(ids[i])).cast<std::string>() + " holds a " +
                      type_name(item) + "; expected sluice.Message, bytes or str";
            break;
          }
      } catch (const py::error_already_set& e) {
        failure = describe(e);
      }
      if (!failure.empty()) ctx.fail(i, failure);
    }
    return {};
  }

  PythonThread thread_;
  Mode mode_ = Mode::map;
  std::unique_ptr<Handler> handler_;
  OnSideInput on_side_input_;
  OutputWriter out_;
  EventLoop loop_;
  py::object datums_type_, responses_type_, response_type_, messages_type_;  // batch only
};

}  // namespace

void check_map_stage(const CreateArgs& args) {
  const MapConfig config = read_config(args);
  Mode mode;
  OnSideInput on_side_input;  // its signature is checked too
  try {
    prepare_handler(config, /*instantiate=*/false, &mode, &on_side_input);
  } catch (const py::error_already_set& e) {
    throw ConfigError("loading the handler failed: " + describe(e));
  }
}

std::unique_ptr<Stage> make_map_stage(const CreateArgs& args) {
  return std::make_unique<MapStage>(args);
}

}  // namespace sluice::python
