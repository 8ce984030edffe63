// sluice.side_input / sluice.side_input_version and the per-worker cache behind them
// (side_inputs.h). The two functions are plain CPython functions (METH_FASTCALL), not
// pybind11 ones: a handler may call side_input per message, and pybind11's dispatcher
// would cost more than the lookup itself.
#include "side_inputs.h"

#include <stdexcept>

#include "python_error.h"

namespace sluice::python {
namespace {

// The host call this thread is in, if any (set by CallScope).
thread_local CallScope* current_call = nullptr;

// Parse results kept per side input and version. A handler passes one or two functions
// in practice; the bound keeps a handler that makes a new closure per call from growing
// the cache without end (it then parses on every call: docs say to pass one function).
constexpr size_t kMaxParsed = 8;

// Whether two parse arguments are the same function. An inline `lambda b: ...` is a new
// function object on every call; when it captures nothing and has no defaults, its code
// and globals say everything it does, so those identify it.
bool same_parse(PyObject* a, PyObject* b) {
  if (a == b) return true;
  if (!PyFunction_Check(a) || !PyFunction_Check(b)) return false;
  auto plain = [](PyObject* f) {
    return PyFunction_GET_CLOSURE(f) == nullptr && PyFunction_GET_DEFAULTS(f) == nullptr &&
           PyFunction_GET_KW_DEFAULTS(f) == nullptr;
  };
  return plain(a) && plain(b) && PyFunction_GET_CODE(a) == PyFunction_GET_CODE(b) &&
         PyFunction_GET_GLOBALS(a) == PyFunction_GET_GLOBALS(b);
}

std::string quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

[[noreturn]] void throw_python(PyObject* type, const std::string& message) {
  PyErr_SetString(type, message.c_str());
  throw py::error_already_set();
}

CallScope& call_or_raise(const char* function, std::string_view name) {
  if (current_call == nullptr)
    throw_python(PyExc_RuntimeError,
          std::string("sluice.") + function + "(" + quoted(name) +
              ") was called outside a stage call: side inputs can be read only while the "
              "stage handles a call (a handler, on_side_input) on its worker's thread; not "
              "at import time, in __init__, from another thread, or in a retriever");
  return *current_call;
}

// The name argument as UTF-8 (a str), or TypeError.
std::string_view name_of(PyObject* name, const char* function) {
  if (name == nullptr || !PyUnicode_Check(name))
    throw_python(PyExc_TypeError, std::string("sluice.") + function +
                               "(name): name must be a str, the side input's name, not " +
                               (name ? type_name(name) : std::string("nothing")));
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(name, &size);
  if (data == nullptr) throw py::error_already_set();
  return {data, static_cast<size_t>(size)};
}

// Reads (name, parse) from a vectorcall; `with_parse` false: only name.
void arguments(const char* function, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
               bool with_parse, PyObject** name, PyObject** parse) {
  const Py_ssize_t most = with_parse ? 2 : 1;
  // Made only for an error message: this runs per call, maybe per message.
  auto usage = [&] {
    return std::string("sluice.") + function + (with_parse ? "(name, parse=None)" : "(name)");
  };
  if (nargs > most) throw_python(PyExc_TypeError, usage() + ": too many positional arguments");
  *name = nargs > 0 ? args[0] : nullptr;
  *parse = nargs > 1 ? args[1] : nullptr;
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t i = 0; i < nkw; ++i) {
    PyObject* key = PyTuple_GET_ITEM(kwnames, i);
    PyObject** slot = PyUnicode_CompareWithASCIIString(key, "name") == 0 ? name
                      : with_parse && PyUnicode_CompareWithASCIIString(key, "parse") == 0
                          ? parse
                          : nullptr;
    if (slot == nullptr)
      throw_python(PyExc_TypeError, usage() + ": unexpected keyword argument " +
                                 py::repr(key).cast<std::string>());
    if (*slot != nullptr)
      throw_python(PyExc_TypeError,
                   usage() + ": " + py::str(key).cast<std::string>() + " given twice");
    *slot = args[nargs + i];
  }
  if (*name == nullptr) throw_python(PyExc_TypeError, usage() + ": name is missing");
}

// Runs f() (returning a py::object) as a CPython function body: a C++ exception becomes
// the Python error it stands for.
template <class F>
PyObject* as_python(F&& f) noexcept {
  try {
    return f().release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "unknown C++ exception");
  }
  return nullptr;
}

PyObject* py_side_input(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return as_python([&] {
    PyObject *name = nullptr, *parse = nullptr;
    arguments("side_input", args, nargs, kwnames, true, &name, &parse);
    const std::string_view n = name_of(name, "side_input");
    CallScope& call = call_or_raise("side_input", n);
    if (parse == nullptr || parse == Py_None) {
      uint64_t version = 0;
      return call.cache.bytes(call.ctx, n, &version);
    }
    if (!PyCallable_Check(parse))
      throw_python(PyExc_TypeError,
                   "sluice.side_input(name, parse): parse must be callable (such as "
                   "json.loads), not " + type_name(parse));
    return call.cache.parsed(call.ctx, n, parse);
  });
}

PyObject* py_side_input_version(PyObject*, PyObject* const* args, Py_ssize_t nargs,
                                PyObject* kwnames) {
  return as_python([&] {
    PyObject *name = nullptr, *unused = nullptr;
    arguments("side_input_version", args, nargs, kwnames, false, &name, &unused);
    const std::string_view n = name_of(name, "side_input_version");
    CallScope& call = call_or_raise("side_input_version", n);
    uint64_t version = 0;
    call.cache.bytes(call.ctx, n, &version);
    return py::reinterpret_steal<py::object>(PyLong_FromUnsignedLongLong(version));
  });
}

PyMethodDef side_input_def = {
    "side_input", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&py_side_input)),
    METH_FASTCALL | METH_KEYWORDS,
    "side_input(name, parse=None)\n--\n\n"
    "The current value of the side input `name` (one the stage lists in sideInputs:) as\n"
    "bytes, or parse(value) when parse is given: called once per version of the value\n"
    "and per worker, its result then reused (treat it as read-only). The value is the\n"
    "one of the current call: it changes between calls, never during one. Only inside a\n"
    "stage's call (a handler, on_side_input). KeyError for a side input the stage does\n"
    "not list. See docs/side-inputs.md."};

PyMethodDef side_input_version_def = {
    "side_input_version",
    reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&py_side_input_version)),
    METH_FASTCALL | METH_KEYWORDS,
    "side_input_version(name)\n--\n\n"
    "The version (1, 2, ...) of the value sluice.side_input(name) returns in this call."};

}  // namespace

SideInputCache::Entry& SideInputCache::entry(std::string_view name) {
  for (Entry& e : entries_)
    if (e.name == name) return e;
  Entry& e = entries_.emplace_back();
  e.name = std::string(name);
  return e;
}

SideInputCache::Entry& SideInputCache::current(Context& ctx, std::string_view name) {
  Entry& e = entry(name);
  if (!e.refused) {
    uint64_t version = 0;
    std::string_view view;
    try {
      view = ctx.side_input(name, &version);
    } catch (const std::runtime_error& failed) {
      // The host logged why; a listed side input always has a value, so a refusal means
      // the stage does not list it, which does not change while the flow runs.
      if (std::string_view(failed.what()).rfind("host refused", 0) != 0)
        throw_python(PyExc_RuntimeError, failed.what());  // a host older than ABI 1.3
      e.refused = true;
    }
    if (!e.refused) {
      if (!e.value || version != e.version) {
        // One copy per version and worker: the host's view ends with the call.
        PyObject* b = PyBytes_FromStringAndSize(view.data(), static_cast<Py_ssize_t>(view.size()));
        if (b == nullptr) throw py::error_already_set();
        e.parsed.clear();
        e.value = py::reinterpret_steal<py::object>(b);
        e.version = version;
      }
      return e;
    }
  }
  throw_python(PyExc_KeyError, "side input " + quoted(name) +
                            ": the stage does not list it; add it to the stage's "
                            "sideInputs: in the flow (only listed side inputs can be read)");
}

py::object SideInputCache::bytes(Context& ctx, std::string_view name, uint64_t* version) {
  Entry& e = current(ctx, name);
  *version = e.version;
  return e.value;
}

py::object SideInputCache::parsed(Context& ctx, std::string_view name, py::handle parse) {
  Entry& e = current(ctx, name);
  for (const Parsed& p : e.parsed)
    if (same_parse(p.parse.ptr(), parse.ptr())) return p.result;
  // `e` stays valid during the call: entries_ grows only in entry(), which a parse
  // function reading another side input may reach; so keep what is needed first.
  const std::string key = e.name;
  const uint64_t version = e.version;
  py::object result = py::reinterpret_borrow<py::object>(parse)(e.value);
  Entry& after = entry(key);
  if (after.version == version) {  // (always, as the view cannot change within a call)
    if (after.parsed.size() >= kMaxParsed) after.parsed.erase(after.parsed.begin());
    after.parsed.push_back({py::reinterpret_borrow<py::object>(parse), result});
  }
  return result;
}

CallScope::CallScope(Context& c, SideInputCache& s) : ctx(c), cache(s), previous_(current_call) {
  current_call = this;
}

CallScope::~CallScope() { current_call = previous_; }

py::object current_side_input(std::string_view name) {
  CallScope& call = call_or_raise("side_input", name);
  uint64_t version = 0;
  return call.cache.bytes(call.ctx, name, &version);
}

void define_side_input_api(py::module_& m) {
  for (PyMethodDef* def : {&side_input_def, &side_input_version_def}) {
    PyObject* f = PyCFunction_NewEx(def, nullptr, m.attr("__name__").ptr());
    if (f == nullptr) throw py::error_already_set();
    m.attr(def->ml_name) = py::reinterpret_steal<py::object>(f);
  }
}

}  // namespace sluice::python
