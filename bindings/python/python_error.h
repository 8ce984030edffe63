// Python exceptions said in one line for a user: what went wrong and where, with the
// file and line Python knows. Call with the GIL held.
#pragma once

#include <string>

#include "pybind.h"

namespace sluice::python {

// "ValueError: bad input (at /flows/handlers.py:7 in upper)": the exception's type and
// message, and the last frame of its traceback (where it was raised).
// A SyntaxError (and its IndentationError kin) says where the bad code is instead:
// "/flows/handlers.py:3:9: SyntaxError: invalid syntax".
std::string describe(const py::error_already_set& e);
// The same for an exception object (one an awaitable raised, from EventLoop::settle).
std::string describe_exception(py::handle exception);

// The type's name, e.g. "int" or "numpy.ndarray" (builtins unqualified).
std::string type_name(py::handle object);

}  // namespace sluice::python
