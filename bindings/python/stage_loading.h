// How every kind's constructor loads its handler (map_stage.cc, sink_stage.cc,
// source_stage.cc), in one place:
//   - one loader at a time (handler_load_mutex: a module file's top level runs once),
//     taken before the GIL, never while holding it;
//   - with the instance's own GIL (its PythonThread);
//   - on any failure, `release` drops the Python objects made so far while the GIL is
//     still held (a constructor that throws runs no destructor, and members destroyed
//     without the GIL would crash), and a Python exception becomes the ConfigError
//     "loading the handler failed: ...", so the run exits 2 naming the stage.
#pragma once

#include <sluice/plugin.hpp>

#include <mutex>
#include <string>

#include "handler.h"
#include "python_error.h"
#include "python_thread.h"

namespace sluice::python {

template <class Load, class Release>
void load_stage(PythonThread& thread, Load&& load, Release&& release) {
  std::lock_guard<std::mutex> lock(handler_load_mutex());
  PythonThread::Hold gil(thread);
  try {
    load();
  } catch (const py::error_already_set& e) {
    const std::string why = describe(e);
    release();
    throw ConfigError("loading the handler failed: " + why);
  } catch (...) {
    release();
    throw;
  }
}

}  // namespace sluice::python
