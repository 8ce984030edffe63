// The `sluice` module as a built-in module of the embedded interpreter (plugin only).
// Registered in libpython's table of built-in modules when the plugin loads, so inside
// `sluice run` `import sluice` finds this one even when the extension module's folder is
// on PYTHONPATH (built-in modules are found before sys.path is searched).
//
// side_input and side_input_version are added here, not in define_module: they read the
// host call the worker is in, which only the plugin has (the extension has stand-ins
// that say so; module_extension.cc).
#include "module.h"
#include "side_inputs.h"

PYBIND11_EMBEDDED_MODULE(sluice, m) {
  sluice::python::define_module(m);
  sluice::python::define_side_input_api(m);
}
