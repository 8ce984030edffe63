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
    PyDict_DelItemString(modules.ptr(), name.c_str());  // a half-run module is no module
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

// Whether `fn` is called as fn(keys, datum) (true) or fn(datum) (false), from the
// positional parameters it requires.
// `shown` names the module (and its file) for the error.
bool takes_keys(const py::object& fn, const std::string& name, const std::string& key,
                const std::string& shown) {
  py::module_ inspect = py::module_::import("inspect");
  py::object sig;
  try {
    sig = inspect.attr("signature")(fn);
  } catch (py::error_already_set&) {
    return false;  // no signature to read (some builtins): handler(datum)
  }
  py::object P = inspect.attr("Parameter");
  int required = 0, positional = 0;
  bool var_positional = false;
  for (py::handle param : sig.attr("parameters").attr("values")()) {
    py::object kind = param.attr("kind");
    const bool no_default = param.attr("default").is(P.attr("empty"));
    if (kind.equal(P.attr("POSITIONAL_ONLY")) || kind.equal(P.attr("POSITIONAL_OR_KEYWORD"))) {
      ++positional;
      if (no_default) ++required;
    } else if (kind.equal(P.attr("VAR_POSITIONAL"))) {
      var_positional = true;
    } else if (kind.equal(P.attr("KEYWORD_ONLY")) && no_default) {
      throw config_error(key, name + py::str(sig).cast<std::string>() +
                                  " has a keyword-only parameter \"" +
                                  param.attr("name").cast<std::string>() +
                                  "\" with no default; give it in args:");
    }
  }
  if (required == 2 || (required == 0 && positional >= 2)) return true;
  if (required == 1 || (required == 0 && (positional == 1 || var_positional))) return false;
  throw config_error(key, name + py::str(sig).cast<std::string>() + " from " + shown +
                              " has the wrong signature: a map handler is handler(datum) or "
                              "handler(keys, datum)");
}

void reject_async(const py::object& fn, const std::string& name, const std::string& key) {
  py::module_ inspect = py::module_::import("inspect");
  if (inspect.attr("iscoroutinefunction")(fn).cast<bool>() ||
      inspect.attr("isasyncgenfunction")(fn).cast<bool>())
    throw config_error(key, name + " is async; async handlers are not supported yet");
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

}  // namespace

Handler load_handler(const HandlerConfig& c) {
  std::string shown;  // how the module is named in messages
  py::object module = import_module(c, &shown);
  const bool is_class = !c.class_name.empty();
  const std::string key = is_class ? "class" : "function";
  const std::string attr = is_class ? c.class_name : c.function;
  const std::string module_name = py::getattr(module, "__name__", py::str(c.module)).cast<std::string>();

  Handler h;
  h.name = module_name + "." + attr;
  if (!py::hasattr(module, attr.c_str()))
    throw config_error(key, shown + " has no " + (is_class ? "class" : "function") + " \"" +
                                attr + "\" (it has: " + callables_of(module, is_class) + ")");
  py::object target = module.attr(attr.c_str());
  py::dict args = to_python(c.args);

  try {
    if (is_class) {
      if (!py::isinstance<py::type>(target))
        throw config_error(key, h.name + " is not a class (it is a " + type_name(target) + ")");
      py::object instance;
      try {
        instance = target(**args);
      } catch (py::error_already_set& e) {
        throw config_error(key, h.name + "(**args) failed: " + describe(e));
      }
      // numaflow-python's classes define handler(); any callable object works too.
      if (py::hasattr(instance, "handler")) {
        h.call = instance.attr("handler");
        h.name += ".handler";
      } else if (PyCallable_Check(instance.ptr())) {
        h.call = instance;
      } else {
        throw config_error(key, h.name + " has neither a handler() method nor __call__");
      }
      reject_async(h.call, h.name, key);
      h.with_keys = takes_keys(h.call, h.name, key, shown);
    } else {
      if (py::isinstance<py::type>(target))
        throw config_error(key, h.name + " is a class, not a function (name it with class:)");
      if (!PyCallable_Check(target.ptr()))
        throw config_error(key, h.name + " is not a function (it is a " + type_name(target) + ")");
      reject_async(target, h.name, key);
      if (args.empty()) {
        h.call = target;
      } else {
        // The args must be parameters of the function (bind_partial says which is not).
        try {
          py::module_::import("inspect").attr("signature")(target).attr("bind_partial")(**args);
        } catch (py::error_already_set& e) {
          if (!e.matches(PyExc_TypeError) && !e.matches(PyExc_ValueError)) throw;
          throw config_error("args", h.name + ": " + py::str(e.value()).cast<std::string>());
        }
        h.call = py::module_::import("functools").attr("partial")(target, **args);
      }
      h.with_keys = takes_keys(h.call, h.name, key, shown);
    }
  } catch (py::error_already_set& e) {
    throw config_error(key, h.name + ": " + describe(e));
  }
  return h;
}

Target load_target(const HandlerConfig& c) {
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
