// The `sluice` module as a CPython extension, sluice.cpython-311-x86_64-linux-gnu.so
// (extension only): `import sluice` in a plain /usr/bin/python3, to unit-test handlers
// without the host. The same definition as the built-in module (module.h).
#include "module.h"

PYBIND11_MODULE(sluice, m) { sluice::python::define_module(m); }
