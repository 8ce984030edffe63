// The `python` stage type as a sink: each batch becomes one call of the handler with a
// sluice.Datums (iterable with `for` and `async for`) of Datum, whose ids are unique in
// the batch (batch_ids). The handler answers with Responses, one per datum id:
//   as_success -> OK, as_serve -> respond(value) and OK, as_failure -> FAILED(err_msg),
//   as_fallback -> FAILED("fallback requested"), as_retry -> RETRY(reason);
// None means every datum succeeded. A datum without a Response fails alone; a result
// that is not Responses, or a Response for an id not in the batch, fails the whole call
// (the handler's answer cannot be trusted). An exception from the handler asks for a
// retry of every message of the batch, so onError's retry and then decide.
//
// Not thread-safe: each worker has its own instance, pinned to its thread, holding its
// own Python thread state. The GIL is taken once per batch, never per message.
#include <stdexcept>
#include <unordered_map>

#include "builtin/config.h"
#include "datum.h"
#include "event_loop.h"
#include "handler.h"
#include "on_side_input.h"
#include "python_error.h"
#include "python_thread.h"
#include "sink_source_types.h"
#include "stage.h"
#include "stage_loading.h"
#include "types.h"

namespace sluice::python {
namespace {

constexpr const char* kExpected =
    "expected sluice.Responses (or a list of sluice.Response), one per datum "
    "(Response.as_success(datum.id), ...), or None when every datum succeeded";

HandlerConfig read_config(const CreateArgs& args) {
  builtin::Config config(args.config_json);
  HandlerConfig c = HandlerConfig::read(config, args);
  config.reject_unknown_keys();
  return c;
}

// What one datum's Responses said.
struct Verdict {
  bool answered = false;
  ResponseOut::Kind kind = ResponseOut::Kind::kSuccess;
  const ResponseOut* last = nullptr;       // the outcome-bearing one (not kServe)
  std::vector<const std::string*> served;  // as_serve values, in order
};

class SinkStage final : public Stage {
 public:
  explicit SinkStage(const CreateArgs& args) : config_(read_config(args)) {
    load_stage(
        thread_,
        [this] {
          loop_.emplace();
          load();
        },
        [this] { release(); });
  }
  ~SinkStage() override {
    PythonThread::Hold gil(thread_);
    release();
  }

  sluice_status process(Context& ctx, const Batch& batch) override {
    PythonThread::Hold gil(thread_);
    const std::vector<std::string> ids = batch_ids(batch);
    py::list items(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) items[i] = make_datum(batch[i], ids[i]);
    py::object result;
    try {
      result = handler_(datums_type_(items));
      if (!result.is_none() && !py::isinstance<ResponsesOut>(result) &&
          EventLoop::is_awaitable(result))
        result = loop_->run(result);
    } catch (const py::error_already_set& e) {
      // Nothing says which datums were written: each is retried (onError decides).
      const std::string why = name_ + " raised " + describe(e);
      for (size_t i = 0; i < batch.size(); ++i) ctx.retry(i, why);
      return SLUICE_OK;
    }
    if (result.is_none()) return SLUICE_OK;  // every datum written
    try {
      apply(ctx, ids, result);
    } catch (const py::error_already_set& e) {  // a generator of Responses raised
      throw std::runtime_error(name_ + " raised " + describe(e));
    }
    return SLUICE_OK;
  }

  // Calls the class instance's close() when it has one (flush, close a connection).
  void finish(Context&) override {
    PythonThread::Hold gil(thread_);
    if (!instance_ || !py::hasattr(instance_, "close")) return;
    try {
      py::object r = instance_.attr("close")();
      if (!r.is_none() && EventLoop::is_awaitable(r)) loop_->run(r);
    } catch (const py::error_already_set& e) {
      throw std::runtime_error(name_ + ".close() raised " + describe(e));
    }
  }

  void side_input_changed(Context&, std::string_view name, uint64_t version) override {
    PythonThread::Hold gil(thread_);
    on_side_input_.call(name, version);
  }

 private:
  void load() {
    Target t = load_target(config_);
    if (t.is_class) instance_ = t.object;
    handler_ = sink_handler(t, &name_);
    if (t.is_class) on_side_input_.set(method_of(t, "on_side_input"), t.name);
    datums_type_ = py::module_::import("sluice").attr("Datums");
  }

 public:
  // The handler(datums) callable of a target (a made or unmade class, or a function)
  // and its name for messages; a ConfigError when it has the wrong shape.
  static py::object sink_handler(const Target& t, std::string* name) {
    py::object fn;
    if (t.is_class) {
      if (py::object m = method_of(t, "handler"); !m.is_none()) {
        fn = m;
        *name = t.name + ".handler";
      } else if (py::object c = method_of(t, "__call__"); !c.is_none()) {
        fn = c;
        *name = t.name;
      } else {
        throw ConfigError("config.class: " + t.name +
                          " has neither a handler(self, datums) method nor __call__ (a sink "
                          "class is a sluice.Sinker)");
      }
    } else {
      fn = bind_args(t);
      *name = t.name;
    }
    const Positional p = positional_parameters(fn);
    if (p.required > 1 || p.total == 0)
      throw ConfigError("config." + t.key + ": " + *name +
                        py::str(py::module_::import("inspect").attr("signature")(fn))
                            .cast<std::string>() +
                        " from " + t.shown +
                        " has the wrong signature: a sink handler is handler(datums), "
                        "called once per batch");
    return fn;
  }

 private:

  // Sets each datum's outcome from the handler's Responses.
  void apply(Context& ctx, const std::vector<std::string>& ids, const py::object& result) {
    std::vector<ResponseOut> owned;  // responses from a list (a Responses holds its own)
    const std::vector<ResponseOut>* responses = nullptr;
    if (py::isinstance<ResponsesOut>(result)) {
      responses = &result.cast<const ResponsesOut&>().items;
    } else if (PyList_Check(result.ptr()) || PyTuple_Check(result.ptr()) ||
               PyGen_Check(result.ptr())) {
      for (py::handle item : py::iter(result)) {
        if (!py::isinstance<ResponseOut>(item))
          throw std::runtime_error(name_ + " returned a " + type_name(result) + " holding a " +
                                   type_name(item) + "; " + kExpected);
        owned.push_back(item.cast<ResponseOut>());
      }
      responses = &owned;
    } else {
      throw std::runtime_error(name_ + " returned " + type_name(result) + "; " + kExpected);
    }

    std::unordered_map<std::string_view, size_t> index;
    index.reserve(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) index.emplace(ids[i], i);
    std::vector<Verdict> verdicts(ids.size());
    for (const ResponseOut& r : *responses) {
      const size_t i = find(index, ids, r.id);
      Verdict& v = verdicts[i];
      if (r.kind == ResponseOut::Kind::kServe) {
        if (v.last != nullptr)
          throw std::runtime_error(two_responses(r.id));
        v.answered = true;
        v.served.push_back(&r.value);
        continue;
      }
      if (v.answered) throw std::runtime_error(two_responses(r.id));
      v.answered = true;
      v.kind = r.kind;
      v.last = &r;
    }
    // Checked everything first: a rejected answer sets no outcome at all.
    for (size_t i = 0; i < ids.size(); ++i) {
      const Verdict& v = verdicts[i];
      if (!v.answered) {
        ctx.fail(i, name_ + " returned no Response for id " + ids[i] +
                        "; return one Response per datum (or None when all succeeded)");
        continue;
      }
      for (const std::string* value : v.served) ctx.respond(i, *value);
      if (v.last == nullptr) continue;
      switch (v.kind) {
        case ResponseOut::Kind::kSuccess:
        case ResponseOut::Kind::kServe: break;
        case ResponseOut::Kind::kFailure:
          ctx.fail(i, v.last->reason.empty() ? name_ + " reported a failure" : v.last->reason);
          break;
        case ResponseOut::Kind::kFallback: ctx.fail(i, "fallback requested"); break;
        case ResponseOut::Kind::kRetry:
          ctx.retry(i, v.last->reason.empty() ? name_ + " asked for a retry" : v.last->reason);
          break;
      }
    }
  }

  // The batch index of the datum with id `id`, matched as Python saw it (Datum.id is
  // the id decoded as UTF-8, invalid bytes replaced).
  size_t find(const std::unordered_map<std::string_view, size_t>& index,
              const std::vector<std::string>& ids, const std::string& id) {
    if (auto it = index.find(id); it != index.end()) return it->second;
    for (size_t i = 0; i < ids.size(); ++i)
      if (text(ids[i]).cast<std::string>() == id) return i;
    std::string some;
    for (size_t i = 0; i < ids.size() && i < 3; ++i) some += (i ? ", " : "") + ids[i];
    if (ids.size() > 3) some += ", ...";
    throw std::runtime_error(name_ + " returned a Response for id " + id +
                             ", which is not in the batch (its ids: " + some +
                             "); answer each datum with its datum.id");
  }

  // Closes the loop and drops every Python object. With the GIL held.
  void release() noexcept {
    if (loop_) loop_->close();
    loop_.reset();
    on_side_input_.release();
    handler_ = datums_type_ = instance_ = py::object();
  }

  std::string two_responses(const std::string& id) const {
    return name_ + " returned two Responses for id " + id +
           "; give one per datum (only as_serve may repeat, for several results)";
  }

  HandlerConfig config_;
  PythonThread thread_;
  // Made with the GIL held (its members are Python objects), closed before the rest.
  std::optional<EventLoop> loop_;
  py::object handler_;      // handler(datums)
  py::object instance_;     // the class's instance (for close()), or null
  OnSideInput on_side_input_;
  py::object datums_type_;  // sluice.Datums
  std::string name_;        // "handlers.Writer.handler", for messages
};

}  // namespace

void check_sink_stage(const CreateArgs& args) {
  const HandlerConfig config = read_config(args);
  try {
    std::string name;
    const Target t = load_target(config, /*instantiate=*/false);
    SinkStage::sink_handler(t, &name);
    if (t.is_class) OnSideInput().set(method_of(t, "on_side_input"), t.name);
  } catch (const py::error_already_set& e) {
    throw ConfigError("loading the handler failed: " + describe(e));
  }
}

std::unique_ptr<Stage> make_sink_stage(const CreateArgs& args) {
  return std::make_unique<SinkStage>(args);
}

}  // namespace sluice::python
