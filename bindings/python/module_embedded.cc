// The `sluice` module as a built-in module of the embedded interpreter (plugin only).
// Registered in libpython's table of built-in modules when the plugin loads, so inside
// `sluice run` `import sluice` finds this one even when the extension module's folder is
// on PYTHONPATH (built-in modules are found before sys.path is searched).
#include "module.h"

PYBIND11_EMBEDDED_MODULE(sluice, m) { sluice::python::define_module(m); }
