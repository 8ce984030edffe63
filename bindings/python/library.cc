// The entry symbol of libsluice-python.so. Unlike SLUICE_PLUGIN's entry, this one does
// work on every call: it starts the interpreter (the host calls the entry on its main
// thread, and may call it again when the same file is loaded twice), and `unload`
// (also on the main thread, after every instance is gone) stops it again.
#include <sluice/plugin.hpp>

#include <string>

#include "interpreter.h"
#include "stage_types.h"

const sluice_host*& sluice::detail::host_slot() {
  static const sluice_host* host = nullptr;
  return host;
}

namespace {

void describe_types(sluice::Library& lib) {
  sluice::python::add_python_type(lib);
  lib.on_unload(&sluice::python::stop_interpreter);
}

}  // namespace

extern "C" SLUICE_EXPORT const sluice_library* SLUICE_PLUGIN_ENTRY(const sluice_host* host) {
  static sluice::Library library("sluice-python");
  static bool described = false;
  const sluice_library* d = sluice::detail::entry(host, library, described, &describe_types);
  if (d == nullptr) return nullptr;
  // Returning NULL means no unload call follows, so a failed start leaves nothing.
  try {
    if (std::string why = sluice::python::start_interpreter(); !why.empty()) {
      sluice::log(SLUICE_LOG_ERROR, "the python stage type is not available: " + why);
      return nullptr;
    }
  } catch (...) {  // the entry must not throw (std::bad_alloc, at worst)
    return nullptr;
  }
  return d;
}
