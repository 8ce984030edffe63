// The stage types of libsluice-python.so.
#pragma once

#include <sluice/plugin.hpp>

namespace sluice::python {

void add_python_type(Library& lib);  // the `python` type (python_type.cc)

}  // namespace sluice::python
