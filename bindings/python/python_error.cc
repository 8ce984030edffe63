#include "python_error.h"

namespace sluice::python {
namespace {

// str(x), never throwing (an exception whose __str__ fails must still be reported).
std::string safe_str(py::handle x) {
  try {
    return py::str(x).cast<std::string>();
  } catch (const std::exception&) {
    PyErr_Clear();
    return "<unprintable>";
  }
}

std::string syntax_error(py::handle value, const std::string& type) {
  std::string where;
  py::object file = py::getattr(value, "filename", py::none());
  py::object line = py::getattr(value, "lineno", py::none());
  py::object column = py::getattr(value, "offset", py::none());
  if (!file.is_none()) {
    where = safe_str(file);
    if (!line.is_none()) where += ":" + safe_str(line);
    if (!line.is_none() && !column.is_none()) where += ":" + safe_str(column);
    where += ": ";
  }
  py::object msg = py::getattr(value, "msg", py::none());
  return where + type + ": " + (msg.is_none() ? safe_str(value) : safe_str(msg));
}

// " (at <file>:<line> in <function>)" for the innermost frame, or "".
std::string last_frame(py::handle traceback) {
  if (!traceback || traceback.is_none()) return {};
  py::object tb = py::reinterpret_borrow<py::object>(traceback);
  while (!tb.attr("tb_next").is_none()) tb = tb.attr("tb_next");
  py::object code = tb.attr("tb_frame").attr("f_code");
  return " (at " + safe_str(code.attr("co_filename")) + ":" + safe_str(tb.attr("tb_lineno")) +
         " in " + safe_str(code.attr("co_name")) + ")";
}

}  // namespace

std::string type_name(py::handle object) {
  py::handle type = py::type::handle_of(object);
  std::string name = safe_str(type.attr("__qualname__"));
  std::string module = safe_str(py::getattr(type, "__module__", py::str("builtins")));
  return module == "builtins" ? name : module + "." + name;
}

namespace {

std::string describe(py::handle type_object, py::handle value, py::handle trace) {
  try {
    std::string type = safe_str(type_object.attr("__name__"));
    if (PyErr_GivenExceptionMatches(type_object.ptr(), PyExc_SyntaxError))
      return syntax_error(value, type);
    std::string message = safe_str(value);
    return type + (message.empty() ? "" : ": " + message) + last_frame(trace);
  } catch (const std::exception& ex) {
    PyErr_Clear();
    return std::string("a Python exception (describing it failed: ") + ex.what() + ")";
  }
}

}  // namespace

std::string describe(const py::error_already_set& e) {
  return describe(e.type(), e.value(), e.trace());
}

std::string describe_exception(py::handle exception) {
  py::handle type = py::type::handle_of(exception);
  py::object trace = py::getattr(exception, "__traceback__", py::none());
  return describe(type, exception, trace);
}

}  // namespace sluice::python
