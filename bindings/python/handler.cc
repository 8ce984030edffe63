#include "handler.h"

#include <filesystem>

#include "python_error.h"

namespace sluice::python {
namespace {

namespace fs = std::filesystem;

ConfigError config_error(const std::string& key, const std::string& message) {
  return ConfigError("config." + key + ": " + message);
}

fs::path resolve(const HandlerConfig& c, const std::string& p) {
  fs::path path(p);
  if (path.is_relative() && !c.flow_dir.empty()) path = fs::path(c.flow_dir) / path;
  return path.lexically_normal();
}

// A module given as a file rather than a dotted name.
bool is_file(const std::string& module) {
  return module.find('/') != std::string::npos ||
         (module.size() > 3 && module.compare(module.size() - 3, 3, ".py") == 0);
}

// Puts `folders` at the front of sys.path, in their order, unless already there.
void add_to_sys_path(const std::vector<std::string>& folders) {
  py::list sys_path = py::module_::import("sys").attr("path");
  for (auto it = folders.rbegin(); it != folders.rend(); ++it) {
    py::str folder(*it);
    if (!sys_path.contains(folder)) sys_path.insert(0, folder);
  }
}

// Loads a .py file as module <stem> (registered in sys.modules under that name, so
// pickling and dataclasses work), or returns the one loaded from the same file before.
// When <stem> is another module's name (json.py beside the flow, or two flows' folders
// with a handlers.py each), the file gets a name of its own rather than replacing that
// module for everyone who imports it.
py::object import_file(const fs::path& file) {
  std::string name = file.stem().string();
  py::dict modules = py::module_::import("sys").attr("modules");
  for (int n = 1; modules.contains(name); ++n) {
    py::object loaded = modules[py::str(name)];
    py::object loaded_file = py::getattr(loaded, "__file__", py::none());
    std::error_code ec;
    if (!loaded_file.is_none() && fs::equivalent(loaded_file.cast<std::string>(), file, ec))
      return loaded;
    name = file.stem().string() + "__sluice" + std::to_string(n);
  }
  py::module_ util = py::module_::import("importlib.util");
  py::object spec = util.attr("spec_from_file_location")(name, file.string());
  py::object module = util.attr("module_from_spec")(spec);
  modules[py::str(name)] = module;
  try {
    spec.attr("loader").attr("exec_module")(module);
  } catch (py::error_already_set&) {
    // A half-run module is no module. It may have taken itself out already: then there
    // is nothing to delete, and the KeyError must not hide the import's own error.
    if (PyDict_DelItemString(modules.ptr(), name.c_str()) != 0) PyErr_Clear();
    throw;
  }
  return module;
}

py::object import_module(const HandlerConfig& c, std::string* shown) {
  std::vector<std::string> folders;
  for (const std::string& p : c.path) folders.push_back(resolve(c, p).string());
  // Handlers beside the flow file import by name, as a script's neighbours do.
  if (!c.flow_dir.empty()) folders.push_back(c.flow_dir);

  if (is_file(c.module)) {
    const fs::path file = resolve(c, c.module);
    *shown = file.string();
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
      throw config_error("module", file.string() + " does not exist or is not a file");
    folders.insert(folders.begin(), file.parent_path().string());  // its sibling modules
    add_to_sys_path(folders);
    try {
      return import_file(file);
    } catch (py::error_already_set& e) {
      throw config_error("module", "importing " + file.string() + " failed: " + describe(e));
    }
  }

  add_to_sys_path(folders);
  try {
    py::object module = py::module_::import("importlib").attr("import_module")(c.module);
    // Which file answered to the name matters when it is not the user's (a handler
    // module named like a standard one, `select`, finds the standard one).
    py::object file = py::getattr(module, "__file__", py::none());
    *shown = c.module + " (" + (file.is_none() ? "built into Python" : py::str(file).cast<std::string>()) + ")";
    return module;
  } catch (py::error_already_set& e) {
    // "No module named x" for the module itself (not for something it imports).
    if (e.matches(PyExc_ModuleNotFoundError)) {
      py::object missing = py::getattr(e.value(), "name", py::none());
      const std::string name = missing.is_none() ? "" : missing.cast<std::string>();
      if (name == c.module || c.module.rfind(name + ".", 0) == 0) {
        std::string where;
        for (const std::string& f : folders) where += (where.empty() ? "" : ", ") + f;
        throw config_error("module", "no Python module named \"" + c.module + "\" (looked in " +
                                         (where.empty() ? "" : where + " and ") +
                                         "sys.path; set path: to add folders)");
      }
    }
    throw config_error("module", "importing \"" + c.module + "\" failed: " + describe(e));
  }
}

// The public functions (or classes) a module defines itself (not those it imports),
// for the "it has: ..." list.
std::string callables_of(const py::object& module, bool classes) {
  std::string out;
  py::module_ inspect = py::module_::import("inspect");
  py::object module_name = module.attr("__name__");
  for (auto [name, value] : py::dict(module.attr("__dict__"))) {
    const std::string n = name.cast<std::string>();
    if (n.empty() || n[0] == '_') continue;
    if (!py::getattr(value, "__module__", py::none()).equal(module_name)) continue;
    const bool is_class = inspect.attr("isclass")(value).cast<bool>();
    if (classes ? !is_class : (is_class || !PyCallable_Check(value.ptr()))) continue;
    out += (out.empty() ? "" : ", ") + n;
  }
  return out.empty() ? "none" : out;
}

// The positional parameters a handler takes, from its signature.
struct Arity {
  bool known = false;  // false: no signature to read (some builtins)
  int required = 0, positional = 0;
  bool var_positional = false;
  std::string signature;  // "(keys, datum)", for messages
};

Arity arity(const Handler& h) {
  py::module_ inspect = py::module_::import("inspect");
  py::object sig;
  try {
    sig = inspect.attr("signature")(h.call);
  } catch (py::error_already_set&) {
    return {};
  }
  Arity a;
  a.known = true;
  a.signature = py::str(sig).cast<std::string>();
  py::object P = inspect.attr("Parameter");
  for (py::handle param : sig.attr("parameters").attr("values")()) {
    py::object kind = param.attr("kind");
    const bool no_default = param.attr("default").is(P.attr("empty"));
    if (kind.equal(P.attr("POSITIONAL_ONLY")) || kind.equal(P.attr("POSITIONAL_OR_KEYWORD"))) {
      ++a.positional;
      if (no_default) ++a.required;
    } else if (kind.equal(P.attr("VAR_POSITIONAL"))) {
      a.var_positional = true;
    } else if (kind.equal(P.attr("KEYWORD_ONLY")) && no_default) {
      throw config_error(h.key, h.name + a.signature + " has a keyword-only parameter \"" +
                                    param.attr("name").cast<std::string>() +
                                    "\" with no default; give it in args:");
    }
  }
  return a;
}

ConfigError wrong_signature(const Handler& h, const Arity& a, const std::string& expected) {
  return config_error(h.key, h.name + a.signature + " from " + h.origin +
                                 " has the wrong signature: " + expected);
}

// inspect's `test` (iscoroutinefunction, ...) of the handler, or of its __call__ when it
// is a callable object rather than a function, method or partial.
bool has_flag(const py::object& call, const char* test) {
  py::module_ inspect = py::module_::import("inspect");
  if (inspect.attr(test)(call).cast<bool>()) return true;
  const bool routine = inspect.attr("isroutine")(call).cast<bool>() ||
                       py::isinstance(call, py::module_::import("functools").attr("partial"));
  return !routine && py::hasattr(call, "__call__") &&
         inspect.attr(test)(call.attr("__call__")).cast<bool>();
}

// A JSON value as the Python value json.loads would make.
py::object to_python(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return py::none();
    case nlohmann::json::value_t::boolean: return py::bool_(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return py::int_(j.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: return py::int_(j.get<uint64_t>());
    case nlohmann::json::value_t::number_float: return py::float_(j.get<double>());
    case nlohmann::json::value_t::string: return py::str(j.get<std::string>());
    case nlohmann::json::value_t::array: {
      py::list list;
      for (const auto& item : j) list.append(to_python(item));
      return list;
    }
    case nlohmann::json::value_t::object: {
      py::dict dict;
      for (const auto& [key, value] : j.items()) dict[py::str(key)] = to_python(value);
      return dict;
    }
    default: return py::none();  // binary and discarded values do not come from YAML
  }
}

// `name` ("x.Cls") called with `args` would bind to the constructor's parameters;
// otherwise a ConfigError at `key` (or at args).
void check_constructor_args(const std::string& name, const std::string& key,
                            const py::object& cls, const py::dict& args) {
  // What making it would say first: a sluice.Mapper / Sinker / ... subclass that does
  // not define the base's abstract method (often a misspelt `handler`).
  if (py::module_::import("inspect").attr("isabstract")(cls).cast<bool>()) {
    std::string missing;
    for (py::handle m : py::module_::import("builtins").attr("sorted")(cls.attr("__abstractmethods__")))
      missing += (missing.empty() ? "" : ", ") + py::str(m).cast<std::string>();
    throw config_error(key, name + " is abstract: it does not define " + missing +
                                " (a misspelt method name?)");
  }
  try {
    py::module_::import("inspect").attr("signature")(cls).attr("bind")(**args);
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_TypeError) && !e.matches(PyExc_ValueError)) throw;
    throw config_error(args.empty() ? key : "args",
                       name + "(**args) would fail: " + py::str(e.value()).cast<std::string>());
  }
}

// The class's method `name` as an instance would call it, without an instance; None
// when the class has none ("__call__": only one the class defines, not object's).
py::object unbound_method(const py::object& cls, const char* name) {
  py::object method = py::none();
  if (std::string(name) == "__call__") {
    for (py::handle klass : cls.attr("__mro__")) {
      if (klass.ptr() == reinterpret_cast<PyObject*>(&PyBaseObject_Type)) break;
      if (py::dict(klass.attr("__dict__")).contains("__call__")) {
        method = klass.attr("__dict__")["__call__"];
        break;
      }
    }
  } else {
    method = py::module_::import("inspect").attr("getattr_static")(cls, name, py::none());
  }
  if (method.is_none()) return method;
  if (py::isinstance(method, py::module_::import("builtins").attr("staticmethod")))
    return method.attr("__func__");
  if (py::isinstance(method, py::module_::import("types").attr("FunctionType")))
    return py::module_::import("functools").attr("partial")(method, py::none());
  // A classmethod or another descriptor: resolved through the class, it is what an
  // instance would call.
  return cls.attr(name);
}

}  // namespace

Handler find_handler(const HandlerConfig& c, bool instantiate) {
  const Target t = load_target(c, instantiate);
  Handler h;
  h.name = t.name;
  h.key = t.key;
  h.origin = t.shown;
  try {
    if (t.is_class) {
      h.cls = t.made ? py::reinterpret_borrow<py::object>(py::type::handle_of(t.object))
                     : t.object;
      // numaflow-python's classes define handler(); any callable object works too.
      if (py::object m = method_of(t, "handler"); !m.is_none()) {
        h.call = m;
        h.name += ".handler";
      } else if (py::object c = method_of(t, "__call__"); !c.is_none()) {
        h.call = c;
      } else {
        throw config_error(h.key, h.name + " has neither a handler() method nor __call__");
      }
      if (py::object m = method_of(t, "on_side_input"); !m.is_none()) h.on_side_input = m;
    } else {
      h.call = bind_args(t);
    }
    h.coroutine = has_flag(h.call, "iscoroutinefunction");
    h.generator = has_flag(h.call, "isgeneratorfunction");
    h.async_generator = has_flag(h.call, "isasyncgenfunction");
  } catch (py::error_already_set& e) {
    throw config_error(h.key, h.name + ": " + describe(e));
  }
  return h;
}

void read_datum_signature(Handler& h, const std::string& expected) {
  const Arity a = arity(h);
  if (!a.known) return;  // handler(datum)
  if (a.required == 2 || (a.required == 0 && a.positional >= 2)) {
    h.with_keys = true;
    return;
  }
  h.with_keys = false;
  if (a.required == 1 || (a.required == 0 && (a.positional == 1 || a.var_positional))) return;
  throw wrong_signature(h, a, expected);
}

void check_one_argument(Handler& h, const std::string& expected) {
  h.with_keys = false;
  const Arity a = arity(h);
  if (!a.known || a.required == 1 ||
      (a.required == 0 && (a.positional >= 1 || a.var_positional)))
    return;
  throw wrong_signature(h, a, expected);
}

Target load_target(const HandlerConfig& c, bool instantiate) {
  Target t;
  py::object module = import_module(c, &t.shown);
  t.is_class = !c.class_name.empty();
  t.key = t.is_class ? "class" : "function";
  const std::string attr = t.is_class ? c.class_name : c.function;
  t.name = py::getattr(module, "__name__", py::str(c.module)).cast<std::string>() + "." + attr;
  if (!py::hasattr(module, attr.c_str()))
    throw config_error(t.key, t.shown + " has no " + t.key + " \"" + attr +
                                  "\" (it has: " + callables_of(module, t.is_class) + ")");
  py::object target = module.attr(attr.c_str());
  t.args = to_python(c.args);
  if (t.is_class) {
    if (!py::isinstance<py::type>(target))
      throw config_error(t.key, t.name + " is not a class (it is a " + type_name(target) + ")");
    if (!instantiate) {
      check_constructor_args(t.name, t.key, target, t.args);
      t.object = target;
      t.made = false;
      t.args = py::dict();
      return t;
    }
    try {
      t.object = target(**t.args);
    } catch (py::error_already_set& e) {
      throw config_error(t.key, t.name + "(**args) failed: " + describe(e));
    }
    t.args = py::dict();
  } else {
    if (py::isinstance<py::type>(target))
      throw config_error(t.key, t.name + " is a class, not a function (name it with class:)");
    if (!PyCallable_Check(target.ptr()))
      throw config_error(t.key, t.name + " is not a function (it is a " + type_name(target) + ")");
    t.object = target;
  }
  return t;
}

py::object method_of(const Target& t, const char* name) {
  if (!t.made) return unbound_method(t.object, name);
  if (std::string(name) == "__call__")
    return PyCallable_Check(t.object.ptr()) ? t.object : py::object(py::none());
  return py::getattr(t.object, name, py::none());
}

py::object bind_args(const Target& t) {
  if (t.args.empty()) return t.object;
  try {
    py::module_::import("inspect").attr("signature")(t.object).attr("bind_partial")(**t.args);
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_TypeError) && !e.matches(PyExc_ValueError)) throw;
    throw config_error("args", t.name + ": " + py::str(e.value()).cast<std::string>());
  }
  return py::module_::import("functools").attr("partial")(t.object, **t.args);
}

std::mutex& handler_load_mutex() {
  static std::mutex m;
  return m;
}

Positional positional_parameters(const py::object& fn) {
  py::module_ inspect = py::module_::import("inspect");
  py::object sig;
  try {
    sig = inspect.attr("signature")(fn);
  } catch (py::error_already_set&) {
    return {};
  }
  py::object P = inspect.attr("Parameter");
  Positional p{0, 0};
  for (py::handle param : sig.attr("parameters").attr("values")()) {
    py::object kind = param.attr("kind");
    if (kind.equal(P.attr("POSITIONAL_ONLY")) || kind.equal(P.attr("POSITIONAL_OR_KEYWORD"))) {
      if (p.total >= 0) ++p.total;
      if (param.attr("default").is(P.attr("empty"))) ++p.required;
    } else if (kind.equal(P.attr("VAR_POSITIONAL"))) {
      p.total = -1;
    }
  }
  return p;
}

}  // namespace sluice::python
