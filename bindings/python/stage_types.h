// The stage types of libsluice-python.so.
#pragma once

#include <sluice/plugin.hpp>

namespace sluice::python {

void add_python_map(Library& lib);  // the `python` type (map kind, for now)

}  // namespace sluice::python
