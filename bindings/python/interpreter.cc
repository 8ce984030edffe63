#include "interpreter.h"

#include <dlfcn.h>

#include <exception>
#include <string>

#include "pybind.h"
#include <sluice/plugin.hpp>

namespace sluice::python {
namespace {

int g_users = 0;                       // start_interpreter() calls not yet stopped
PyThreadState* g_main_state = nullptr;  // the main thread's state, saved while idle

// The host loads plugins with RTLD_LOCAL, so libpython (loaded as our dependency) does
// not provide its symbols to later libraries: C extension modules such as numpy's
// _multiarray_umath then fail to import with "undefined symbol: PyExc_...". Reopening
// the already loaded libpython with RTLD_GLOBAL | RTLD_NOLOAD promotes it. Found through
// one of its own symbols, so the file name needs no hard-coding.
std::string promote_libpython() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&Py_InitializeFromConfig), &info) == 0 ||
      info.dli_fname == nullptr)
    return "cannot find the loaded libpython (dladdr failed)";
  // Never closed: libpython must stay global for as long as the process runs.
  if (dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == nullptr) {
    const char* why = dlerror();
    return std::string("cannot make ") + info.dli_fname + " global: " + (why ? why : "?");
  }
  return {};
}

// PyStatus to text, "" when it is not an error.
std::string status_error(const PyStatus& status, const char* what) {
  if (!PyStatus_Exception(status)) return {};
  return std::string(what) + ": " + (status.err_msg ? status.err_msg : "failed");
}

std::string initialize() {
  // UTF-8 mode without touching the process locale: Python must not call setlocale()
  // or coerce LC_CTYPE in the host (it would change the host's own behaviour and the
  // environment its children inherit), yet file names and text are UTF-8 whatever the
  // locale is.
  PyPreConfig preconfig;
  PyPreConfig_InitIsolatedConfig(&preconfig);
  preconfig.utf8_mode = 1;
  preconfig.isolated = 0;
  preconfig.use_environment = 1;  // PYTHONPATH and friends still work
  if (std::string e = status_error(Py_PreInitialize(&preconfig), "pre-initializing Python");
      !e.empty())
    return e;

  // The isolated config is the quiet base (no argv parsing, no signal handlers); open
  // up what handlers need: the environment, site-packages (Debian's dist-packages), the
  // user's site-packages.
  PyConfig config;
  PyConfig_InitIsolatedConfig(&config);
  config.isolated = 0;
  config.use_environment = 1;
  config.user_site_directory = 1;
  config.site_import = 1;
  // SIGINT and SIGTERM belong to the host.
  config.install_signal_handlers = 0;
  // The current directory is not a place to import handlers from (flows name theirs).
  config.safe_path = 1;
  // sys.executable must be Debian's python3, not whatever is first on PATH (a pyenv
  // shim on developer machines): subprocess and multiprocessing start it.
  std::string e = status_error(
      PyConfig_SetString(&config, &config.program_name, L"/usr/bin/python3"),
      "configuring Python");
  if (!e.empty()) {
    PyConfig_Clear(&config);
    return e;
  }
  try {
    // Clears `config` whatever happens. No program folder on sys.path either.
    py::initialize_interpreter(&config, 0, nullptr, /*add_program_dir_to_path=*/false);
  } catch (const std::exception& ex) {
    return std::string("starting Python: ") + ex.what();
  }

  try {
    // stdout carries the flow's data (the stdout sink); a handler's print() is a log
    // line, so Python's stdout goes to stderr.
    py::module_ sys = py::module_::import("sys");
    sys.attr("stdout") = sys.attr("stderr");
    // Registers Datum and friends with pybind11 even when no handler imports sluice.
    py::module_::import("sluice");
    // The standard modules the plugin itself uses, imported before any handler folder
    // is on sys.path: a handler's json.py or inspect.py must not stand in for them.
    for (const char* name : {"importlib", "importlib.util", "inspect", "functools", "datetime"})
      py::module_::import(name);
  } catch (const py::error_already_set& ex) {
    std::string why = std::string("setting up Python: ") + ex.what();
    py::finalize_interpreter();
    return why;
  }
  // The main thread keeps its state but lets go of the GIL: from here on, stage
  // instances take it on their own threads.
  g_main_state = PyEval_SaveThread();
  return {};
}

}  // namespace

std::string start_interpreter() {
  if (g_users > 0) {
    ++g_users;
    return {};
  }
  if (Py_IsInitialized())
    return "a Python interpreter is already running in this process (it is not ours)";
  if (std::string e = promote_libpython(); !e.empty()) return e;
  if (std::string e = initialize(); !e.empty()) return e;
  g_users = 1;
  return {};
}

// Names of the threads a handler started and left running (not daemons, not ended):
// finalizing would wait for them forever ("" when there are none).
std::string threads_left_running() {
  try {
    py::module_ threading = py::module_::import("threading");
    py::object main = threading.attr("main_thread")();
    std::string names;
    for (py::handle t : threading.attr("enumerate")()) {
      if (t.is(main) || t.attr("daemon").cast<bool>() || !t.attr("is_alive")().cast<bool>())
        continue;
      names += (names.empty() ? "" : ", ") + t.attr("name").cast<std::string>();
    }
    return names;
  } catch (const py::error_already_set&) {
    return {};
  }
}

void stop_interpreter() {
  if (g_users == 0 || --g_users > 0) return;
  PyEval_RestoreThread(g_main_state);
  g_main_state = nullptr;
  if (std::string names = threads_left_running(); !names.empty()) {
    // The process is about to exit: leaving Python as it is beats hanging in
    // Py_Finalize, which joins every non-daemon thread.
    sluice::log(SLUICE_LOG_WARN,
                "python: handler threads still running at exit (" + names +
                    "); not finalizing Python. Make them daemon threads "
                    "(threading.Thread(daemon=True)) or stop them in close()/__del__.");
    PyEval_SaveThread();
    return;
  }
  // Through pybind11, so its per-interpreter data is reset too (a later start in the
  // same process would otherwise see the old interpreter's).
  py::finalize_interpreter();
}

}  // namespace sluice::python
