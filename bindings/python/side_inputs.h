// Side inputs as Python sees them (plugin only; docs/side-inputs.md, "Reading from
// Python"): `sluice.side_input(name, parse=None)` and `sluice.side_input_version(name)`.
//
// The host's value is a view valid for the current call only, and a worker's view
// changes only between calls, so each stage instance (one per worker) keeps a
// SideInputCache: per side input, the bytes object of the version it last saw and the
// results of parse functions for that version. Reading the same version again costs the
// host's lookup (no lock, no allocation) and a reference count; a new version makes one
// bytes object and drops the old one's parse results.
//
// The functions need the call the worker is in (its ctx): CallScope publishes it in a
// thread-local for the call's length. Outside one (import time, __init__, another
// thread, a retriever) they raise RuntimeError saying so.
#pragma once

#include <sluice/plugin.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pybind.h"

namespace sluice::python {

class SideInputCache {
 public:
  SideInputCache() = default;
  SideInputCache(const SideInputCache&) = delete;
  SideInputCache& operator=(const SideInputCache&) = delete;
  // The Python objects must be dropped with the GIL held: call clear() first.
  ~SideInputCache() = default;

  // The current value of `name` in ctx's view, as a bytes object shared by every read
  // of that version; its version in *version. Throws py::error_already_set (KeyError
  // for a side input the stage does not list). GIL held.
  py::object bytes(Context& ctx, std::string_view name, uint64_t* version);
  // parse(bytes(name)), computed once per version and parse function (see .cc).
  py::object parsed(Context& ctx, std::string_view name, py::handle parse);

  bool empty() const { return entries_.empty(); }
  // Drops every Python object. GIL held.
  void clear() noexcept { entries_.clear(); }

 private:
  struct Parsed {
    py::object parse;   // the function (kept alive, so its identity is not reused)
    py::object result;
  };
  struct Entry {
    std::string name;
    bool refused = false;  // the host refused the name: not asked (and logging) again
    uint64_t version = 0;
    py::object value;      // bytes of `version`; null before the first read
    std::vector<Parsed> parsed;  // for `version`, oldest first
  };
  Entry& entry(std::string_view name);
  Entry& current(Context& ctx, std::string_view name);

  std::vector<Entry> entries_;  // a stage lists few side inputs: a linear search
};

// Publishes (ctx, cache) to sluice.side_input on this thread for one host call.
class CallScope {
 public:
  CallScope(Context& ctx, SideInputCache& cache);
  ~CallScope();
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

  Context& ctx;
  SideInputCache& cache;

 private:
  CallScope* previous_;
};

// The value of `name` for the current call (as sluice.side_input(name) returns it), for
// on_side_input. Throws like SideInputCache::bytes; RuntimeError outside a call.
py::object current_side_input(std::string_view name);

// Adds side_input and side_input_version to the built-in `sluice` module.
void define_side_input_api(py::module_& m);

}  // namespace sluice::python
