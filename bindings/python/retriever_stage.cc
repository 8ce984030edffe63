// The `python` type as a side-input retriever (`retriever: python`; docs/side-inputs.md,
// "Writing a retriever in Python"). Each retrieval calls the handler with no arguments:
//   function  handler(**args)           -> its result;
//   class     made once with **args; its retrieve() (or the instance itself, __call__).
// What it returns answers the retrieval: bytes, bytearray or str (UTF-8) is the new
// value; None is "no change"; an exception fails the retrieval (the old value stays),
// and its message, with the file and line it was raised at, is the retrieval's error.
// `async def` works too (run on the instance's event loop).
//
// The host makes one instance per side input, for the run, and calls it one call at a
// time on that side input's own thread: the instance keeps its PythonThread there.
#include <stdexcept>
#include <string>
#include <string_view>

#include "builtin/config.h"
#include "event_loop.h"
#include "handler.h"
#include "python_error.h"
#include "python_thread.h"
#include "stage.h"
#include "stage_loading.h"
#include "types.h"

namespace sluice::python {
namespace {

constexpr const char* kReturns =
    "a retriever returns bytes or str (the new value), or None (no change)";

HandlerConfig read_config(const CreateArgs& args) {
  builtin::Config config(args.config_json);
  HandlerConfig c = HandlerConfig::read(config, args);
  config.reject_unknown_keys();  // mode is a map's
  return c;
}

// The callable a retrieval calls, and its name for messages ("retrievers.Fetch.retrieve").
// With `instantiate` false (`sluice check`) a class is not made; its methods are still
// found and their signatures checked. Throws ConfigError, or py::error_already_set when
// the module cannot be imported.
py::object find_retrieve(const HandlerConfig& config, bool instantiate, std::string* name) {
  const Target t = load_target(config, instantiate);
  *name = t.name;
  py::object retrieve;
  if (t.is_class) {
    retrieve = method_of(t, "retrieve");
    if (!retrieve.is_none()) {
      *name += ".retrieve";
    } else {
      retrieve = method_of(t, "__call__");
      if (retrieve.is_none())
        throw ConfigError("config.class: " + t.name + " has neither a retrieve() method nor __call__");
    }
  } else {
    retrieve = bind_args(t);
  }
  const Positional p = positional_parameters(retrieve);
  if (p.required > 0)
    throw ConfigError("config." + t.key + ": " + *name +
                      " has the wrong signature: a retriever takes no positional arguments "
                      "(give its keyword arguments in args:)");
  return retrieve;
}

class RetrieverStage final : public Stage {
 public:
  explicit RetrieverStage(const CreateArgs& args) {
    const HandlerConfig config = read_config(args);
    load_stage(thread_, [&] { load(config); }, [this] { release(); });
  }
  ~RetrieverStage() override {
    PythonThread::Hold gil(thread_);
    release();
  }

  sluice_status process(Context& ctx, const Batch&) override {
    PythonThread::Hold gil(thread_);
    py::object result;
    try {
      result = retrieve_();
      if (EventLoop::is_awaitable(result)) result = loop_.run(result);
    } catch (const py::error_already_set& e) {
      throw std::runtime_error(name_ + ": " + describe(e));
    }
    if (result.is_none()) return SLUICE_OK;  // no change: emit nothing
    PyObject* r = result.ptr();
    if (PyBytes_Check(r)) {  // the common case: emitted from the object, not copied
      ctx.emit(SLUICE_NO_INPUT,
               std::string_view(PyBytes_AS_STRING(r), static_cast<size_t>(PyBytes_GET_SIZE(r))));
      return SLUICE_OK;
    }
    if (!PyByteArray_Check(r) && !PyUnicode_Check(r))
      throw std::runtime_error(name_ + " returned " + type_name(result) + "; " + kReturns);
    try {
      const std::string value = value_bytes(result, "the value");
      ctx.emit(SLUICE_NO_INPUT, std::string_view(value));
    } catch (const py::error_already_set& e) {  // a str that is not valid UTF-8
      throw std::runtime_error(name_ + " returned a value that cannot be stored: " + describe(e));
    }
    return SLUICE_OK;
  }

 private:
  void load(const HandlerConfig& config) { retrieve_ = find_retrieve(config, /*instantiate=*/true, &name_); }

  // Drops every Python object. With the GIL held.
  void release() noexcept {
    loop_.close();
    retrieve_ = py::object();
  }

  PythonThread thread_;
  py::object retrieve_;  // called with no arguments
  std::string name_;     // "retrievers.fetch", for messages
  EventLoop loop_;
};

}  // namespace

void check_retriever_stage(const CreateArgs& args) {
  const HandlerConfig config = read_config(args);
  try {
    std::string name;
    find_retrieve(config, /*instantiate=*/false, &name);
  } catch (const py::error_already_set& e) {
    throw ConfigError("loading the handler failed: " + describe(e));
  }
}

std::unique_ptr<Stage> make_retriever_stage(const CreateArgs& args) {
  return std::make_unique<RetrieverStage>(args);
}

}  // namespace sluice::python
