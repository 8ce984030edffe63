// The `sluice` Python module's definition, shared by its two builds:
//   module_embedded.cc   PYBIND11_EMBEDDED_MODULE: built into libsluice-python.so, what
//                        handlers import inside `sluice run`;
//   module_extension.cc  PYBIND11_MODULE: sluice.cpython-311-*.so, the same module for a
//                        plain /usr/bin/python3 (handler unit tests, no host).
// Every file define_module reaches is listed in SLUICE_PYTHON_MODULE_SOURCES
// (CMakeLists.txt) and must not call into the plugin's other files (the interpreter,
// stages, the host ABI): the extension has none of them.
#pragma once

#include "pybind.h"

namespace sluice::python {

// Adds the module's docstring, classes and constants to `m`.
void define_module(py::module_& m);

// numaflow-python's server class names (MapServer, SinkServer, ...) as stand-ins whose
// start() explains that Sluice needs none (module_numaflow.cc).
void define_numaflow_servers(py::module_& m);

}  // namespace sluice::python
