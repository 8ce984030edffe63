// pybind11 for this plugin's sources, in one place. Included only by bindings/python's
// .cc files: it is heavy, and nothing outside this plugin may depend on it.
#pragma once

#include <pybind11/embed.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;
