// The `python` stage type as a map: each input message becomes a Datum, the handler is
// called with it (numaflow-style handler(keys, datum) or plain handler(datum)), and
// what it returns becomes the outputs. A handler that raises fails that message alone,
// so the stage's onError policy decides (retry, drop, fallback, fail).
//
// Not thread-safe: each worker has its own instance, pinned to its thread, holding its
// own Python thread state. The GIL is taken once per batch, never per message.
#include <mutex>

#include "builtin/config.h"
#include "datum.h"
#include "handler.h"
#include "output.h"
#include "python_error.h"
#include "python_thread.h"
#include "stage.h"
#include "types.h"

namespace sluice::python {
namespace {

constexpr const char* kExpected =
    "expected sluice.Message, sluice.Messages (or a list of sluice.Message), bytes, str or "
    "None";

HandlerConfig read_config(const CreateArgs& args) {
  builtin::Config config(args.config_json);
  HandlerConfig c = HandlerConfig::read(config, args);
  config.reject_unknown_keys();
  return c;
}

// Loading handlers one at a time keeps two workers from running one module file's
// top-level code twice (import_file checks sys.modules, then runs it). Taken before
// the GIL, never while holding it, so it cannot deadlock with a thread holding the GIL.
std::mutex& load_mutex() {
  static std::mutex m;
  return m;
}

class MapStage final : public Stage {
 public:
  explicit MapStage(const CreateArgs& args) : config_(read_config(args)) {
    std::lock_guard<std::mutex> lock(load_mutex());
    PythonThread::Hold gil(thread_);
    try {
      handler_ = std::make_unique<Handler>(load_handler(config_));
    } catch (const py::error_already_set& e) {
      // Whatever Python raised while finding the handler keeps the stage from starting.
      throw ConfigError("loading the handler failed: " + describe(e));
    }
  }
  ~MapStage() override {
    PythonThread::Hold gil(thread_);
    handler_.reset();  // its Python objects go while the GIL is held
  }

  sluice_status process(Context& ctx, const Batch& batch) override {
    PythonThread::Hold gil(thread_);
    for (size_t i = 0; i < batch.size(); ++i) {
      std::string failure;
      try {
        failure = call(ctx, i, batch[i]);
      } catch (const py::error_already_set& e) {
        failure = describe(e);
      } catch (const py::builtin_exception& e) {
        failure = e.what();
      }
      if (!failure.empty()) ctx.fail(i, failure);
    }
    return SLUICE_OK;
  }

 private:
  // Runs the handler on one message and emits what it returned; "" or why it failed.
  // Per message, only what the handler needs: the keys list only for handler(keys,
  // datum) (from the Datum, not a property lookup), and a vectorcall (no args tuple).
  std::string call(Context& ctx, size_t i, const sluice::Message& m) {
    py::object keys;
    py::object datum = make_datum(m, std::string(m.id()), handler_->with_keys ? &keys : nullptr);
    PyObject* args[] = {nullptr, keys.ptr(), datum.ptr()};  // [0]: room for a bound self
    PyObject* const* first = handler_->with_keys ? args + 1 : args + 2;
    const size_t n = handler_->with_keys ? 2 : 1;
    PyObject* r = PyObject_Vectorcall(handler_->call.ptr(), first,
                                      n | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
    if (r == nullptr) throw py::error_already_set();
    return emit(ctx, i, py::reinterpret_steal<py::object>(r));
  }

  // Emits a handler's result for input i; "" or why the result is not acceptable.
  std::string emit(Context& ctx, size_t i, const py::object& result) {
    if (result.is_none()) return {};  // filtered out
    if (out_.emit_one(ctx, i, result)) return {};
    if (py::isinstance<MessagesOut>(result)) {
      for (const MessageOut& m : result.cast<const MessagesOut&>().items) out_.emit(ctx, i, m);
      return {};
    }
    if (PyList_Check(result.ptr()) || PyTuple_Check(result.ptr()) || PyGen_Check(result.ptr())) {
      for (py::handle item : py::iter(result))
        if (!out_.emit_one(ctx, i, item))
          return handler_->name + " returned a " + type_name(result) + " holding a " +
                 type_name(item) + "; " + kExpected;
      return {};
    }
    return handler_->name + " returned " + type_name(result) + "; " + kExpected;
  }

  HandlerConfig config_;
  PythonThread thread_;
  std::unique_ptr<Handler> handler_;
  OutputWriter out_;
};

}  // namespace

std::unique_ptr<Stage> make_map_stage(const CreateArgs& args) {
  return std::make_unique<MapStage>(args);
}

}  // namespace sluice::python
