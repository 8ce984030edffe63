// A handler's on_side_input (on_side_input.h).
#include "on_side_input.h"

#include <sluice/plugin.hpp>

#include <stdexcept>
#include <utility>

#include "handler.h"
#include "python_error.h"
#include "side_inputs.h"
#include "types.h"

namespace sluice::python {

void OnSideInput::set(py::object method, const std::string& owner) {
  method_ = py::object();
  if (!method || method.is_none()) return;
  name_ = owner + ".on_side_input";
  const std::string expected =
      " has the wrong signature: it is on_side_input(self, name, value) or "
      "on_side_input(self, name, value, version)";
  // A coroutine's body would never run: the host's call cannot wait for it.
  if (py::module_::import("inspect").attr("iscoroutinefunction")(method).cast<bool>() ||
      py::module_::import("inspect").attr("isasyncgenfunction")(method).cast<bool>())
    throw ConfigError(name_ + " is async def; on_side_input is a plain def (it runs between "
                              "the stage's calls)");
  const Positional p = positional_parameters(method);
  if (p.required == -1) {  // Python cannot say (a builtin): call it with (name, value)
    with_version_ = false;
  } else if (p.required > 3 || (p.total != -1 && p.total < 2)) {
    throw ConfigError(name_ + expected);
  } else {
    // A third parameter, even with a default, or *args, receives the version.
    with_version_ = p.total == -1 || p.total >= 3;
  }
  method_ = std::move(method);
}

void OnSideInput::call(std::string_view name, uint64_t version) {
  if (!method_) return;
  try {
    py::object value = current_side_input(name);
    if (with_version_)
      method_(text(name), value, version);
    else
      method_(text(name), value);
  } catch (const py::error_already_set& e) {
    throw std::runtime_error(name_ + ": " + describe(e));
  }
}

}  // namespace sluice::python
