// Finding a stage's Python handler from its config: import the module (by name, or a
// .py file relative to the flow), take the function or the class (made, or for `sluice
// check` only inspected), and work out how to call it. Every mistake is a sluice::ConfigError naming the config key,
// with Python's file and line when Python has them.
#pragma once

#include <sluice/plugin.hpp>

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pybind.h"

namespace sluice::python {

// The handler part of a python stage's config, read and checked without Python.
struct HandlerConfig {
  std::string module;                // a module name, or a .py file's path as written
  std::string function;              // exactly one of function / class
  std::string class_name;
  std::vector<std::string> path;     // folders for sys.path, resolved against flow_dir
  std::string flow_dir;              // "" when the flow has no file
  nlohmann::json args = nlohmann::json::object();  // keyword arguments

  // Reads the keys this file knows from `config` (a builtin::Config); the caller
  // rejects unknown keys afterwards.
  template <class Config>
  static HandlerConfig read(Config& config, const CreateArgs& create);
};

// How a handler is called.
struct Handler {
  py::object call;        // the callable (a function, a bound method, a partial)
  bool with_keys = false; // handler(keys, datum), numaflow-style; else handler(datum)
  std::string name;       // "handlers.upper", for messages

  // What find_handler learns, for kinds that take more than one shape of handler:
  py::object cls;                // a class handler's class; null for a function
  bool coroutine = false;        // `async def` (calling it gives an awaitable)
  bool generator = false;        // `def` with `yield`
  bool async_generator = false;  // `async def` with `yield`
  std::string key;               // the config key that named it: "function" or "class"
  std::string origin;            // the module as errors show it, with its file
  py::object on_side_input;      // a class's on_side_input (method_of), or null
};

// Two levels, every kind using the one it needs (all with the GIL held):
//   load_target   import the module, take the function or make the class's instance
//                 (the sink and source kinds shape it themselves);
//   find_handler  load_target, then the callable a map-like kind calls: the function
//                 with its args bound, or the instance's handler() (or __call__), and
//                 what it is (coroutine, generator, class); no signature is checked
//                 (read_datum_signature / check_one_argument do that).
// With `instantiate` false (`sluice check`), no class is made: its args are checked
// against its constructor, and methods come from the class with the instance left out,
// so signatures read the same. No user code runs then but the module's top level.
Handler find_handler(const HandlerConfig& config, bool instantiate = true);
// Sets h.with_keys from a handler(datum) / handler(keys, datum) signature; otherwise a
// ConfigError "... has the wrong signature: <expected>".
void read_datum_signature(Handler& h, const std::string& expected);
// Checks that h is called with one positional argument (handler(datums)); otherwise a
// ConfigError "... has the wrong signature: <expected>".
void check_one_argument(Handler& h, const std::string& expected);

// A handler found but not yet shaped for a kind: the function as it is, or the class's
// instance made with **args. Throws ConfigError.
struct Target {
  py::object object;      // the function, or the class's instance
  bool is_class = false;
  std::string name;       // "handlers.write" / "handlers.Source", for messages
  std::string key;        // the config key that named it: "function" or "class"
  std::string shown;      // the module (and its file), for messages
  py::dict args;          // a function's args, not yet applied (see bind_args)
  bool made = true;       // false: `object` is the class itself, not an instance
};
// With `instantiate` false (`sluice check`), a class is not made: its args are checked
// against its constructor and `object` is the class (made = false).
Target load_target(const HandlerConfig& config, bool instantiate = true);

// The method `name` of a class target as a callable whose signature reads as the bound
// method's would (made: the instance's bound method; not made: the class's function with
// the instance left out), or None when the class has none. `name` "__call__" means the
// instance itself when made, and only a __call__ the class defines (not object's).
py::object method_of(const Target& target, const char* name);

// A function target with its args bound as keyword arguments (functools.partial), or
// the function itself when there are none; an arg it does not take is a ConfigError.
py::object bind_args(const Target& target);

// How many positional parameters `fn` requires (no default) and takes in all (-1: any
// number, *args). {-1, -1} when Python cannot say (some builtins).
struct Positional {
  int required = -1;
  int total = -1;
};
Positional positional_parameters(const py::object& fn);

// Taken (before the GIL, never while holding it) around loading a handler, so that two
// workers never run one module file's top-level code twice (import_file checks
// sys.modules, then runs it), whatever kinds of stages share the file.
std::mutex& handler_load_mutex();

template <class Config>
HandlerConfig HandlerConfig::read(Config& config, const CreateArgs& create) {
  HandlerConfig c;
  c.flow_dir = std::string(create.flow_dir);
  c.module = config.required_string("module", "a module name, or a .py file");
  c.function = config.string("function", "");
  c.class_name = config.string("class", "");
  if (c.function.empty() == c.class_name.empty())
    throw config.error(c.function.empty() ? "function" : "class",
                       c.function.empty()
                           ? "required: name the handler with function (or class)"
                           : "give function or class, not both");
  c.path = config.string_list("path");
  if (const nlohmann::json* a = config.value("args")) {
    if (!a->is_object()) throw config.error("args", "expected a mapping, got " + a->dump());
    c.args = *a;
  }
  return c;
}

}  // namespace sluice::python
