// The `sluice` module as a CPython extension, sluice.cpython-311-x86_64-linux-gnu.so
// (extension only): `import sluice` in a plain /usr/bin/python3, to unit-test handlers
// without the host. The same definition as the built-in module (module.h).
//
// Side inputs come from the host, which a plain python3 does not have: side_input and
// side_input_version are stand-ins that raise, so a unit test replaces them (e.g.
// monkeypatch.setattr(sluice, "side_input", fake)) and the handler's own calls to
// sluice.side_input(...) then reach the fake.
#include "module.h"

namespace {

void define_side_input_stand_ins(pybind11::module_& m) {
  pybind11::exec(R"(
def side_input(name, parse=None):
    '''side_input(name, parse=None): a side input's value inside sluice run (see
    docs/side-inputs.md). A plain python3 has no host: replace this function in a unit
    test (monkeypatch.setattr(sluice, "side_input", fake)).'''
    raise RuntimeError("sluice.side_input(%r): side inputs exist only inside sluice run; in a "
                       "unit test, replace sluice.side_input with a fake" % (name,))

def side_input_version(name):
    '''side_input_version(name): the version of side_input(name)'s value inside sluice
    run. Replace it in a unit test, like side_input.'''
    raise RuntimeError("sluice.side_input_version(%r): side inputs exist only inside sluice "
                       "run; in a unit test, replace sluice.side_input_version with a fake"
                       % (name,))
)",
                 m.attr("__dict__"));
}

}  // namespace

PYBIND11_MODULE(sluice, m) {
  sluice::python::define_module(m);
  define_side_input_stand_ins(m);
}
