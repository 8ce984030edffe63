#include "sluice/host/plugin_library.h"

#include <dlfcn.h>

#include <exception>
#include <set>
#include <string_view>

#include "abi_read.h"
#include "sluice/host/call_context.h"
#include "sluice/host/log.h"
#include "sluice/host/version.h"

namespace sluice::host {
namespace {

namespace fs = std::filesystem;

const std::string kHostAbi = std::to_string(SLUICE_ABI_VERSION_MAJOR) + "." +
                             std::to_string(SLUICE_ABI_VERSION_MINOR);

// The reason dlopen failed, said for a user: dlerror() text starts with the path we
// already print, and the common causes deserve plain words and a way out.
std::string explain_dlopen_failure(const fs::path& file, std::string dl) {
  const std::string prefix = file.string() + ": ";
  if (dl.rfind(prefix, 0) == 0) dl.erase(0, prefix.size());
  if (dl.find("invalid ELF header") != std::string::npos ||
      dl.find("file too short") != std::string::npos ||
      dl.find("not an ELF") != std::string::npos) {
    return "not a shared library (" + dl + "); remove it from the plugin folder";
  }
  if (dl.find("wrong ELF class") != std::string::npos ||
      dl.find("ELF file OS ABI invalid") != std::string::npos) {
    return "built for another platform (" + dl + "); rebuild it for this machine";
  }
  if (auto pos = dl.find(": cannot open shared object file"); pos != std::string::npos) {
    return "a library it depends on is missing: " + dl.substr(0, pos) +
           " (cannot open shared object file); install it or add its folder to "
           "LD_LIBRARY_PATH (check with: ldd " + file.string() + ")";
  }
  if (dl.find("undefined symbol") != std::string::npos) {
    return "it uses a symbol nothing provides (" + dl +
           "); link the plugin with everything it needs (-Wl,--no-undefined finds this "
           "at build time)";
  }
  return "cannot load: " + dl;
}

// When the v1 entry is missing, a library built for another major version still says
// which one through its symbol name: tell the user exactly that.
std::string explain_missing_entry(const boost::dll::shared_library& lib) {
  for (int major = 0; major <= 9; ++major) {
    if (major == SLUICE_ABI_VERSION_MAJOR) continue;
    const std::string symbol = "sluice_plugin_v" + std::to_string(major);
    if (!lib.has(symbol)) continue;
    if (major > SLUICE_ABI_VERSION_MAJOR) {
      return "built for plugin ABI " + std::to_string(major) + " (exports " + symbol +
             "), but this host (sluice " SLUICE_VERSION ") supports plugin ABI " + kHostAbi +
             "; use a newer sluice or rebuild the plugin against this host's plugin-api";
    }
    return "built for plugin ABI " + std::to_string(major) + " (exports " + symbol +
           "), which this host (sluice " SLUICE_VERSION ", plugin ABI " + kHostAbi +
           ") no longer supports; rebuild the plugin against this host's plugin-api";
  }
  return "not a Sluice plugin: it does not export " SLUICE_PLUGIN_ENTRY_NAME
         " (build it with sluice_add_plugin() or mark the entry SLUICE_EXPORT)";
}

bool valid_type_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// A C string from a plugin, bounded so a missing terminator cannot run away.
std::string bounded(const char* s, size_t max = 1 << 20) {
  if (s == nullptr) return {};
  size_t n = strnlen(s, max);
  return std::string(s, n);
}

// Validates type `index` of a library and fills `out`; returns "" or the reason.
std::string read_type(const sluice_type* raw, size_t index, PluginType* out) {
  const std::string which = "type #" + std::to_string(index);
  if (raw == nullptr) return "malformed descriptor: " + which + " is NULL";
  sluice_type t;
  if (!read_sized(raw, &t, SLUICE_SIZE_THROUGH(sluice_type, process))) {
    return "malformed descriptor: " + which + " has struct_size " +
           std::to_string(raw->struct_size) + ", less than the " +
           std::to_string(SLUICE_SIZE_THROUGH(sluice_type, process)) +
           " bytes ABI 1.0 requires (is struct_size set to sizeof(sluice_type)?)";
  }
  out->name = bounded(t.name, 256);
  if (t.name == nullptr || out->name.empty())
    return "malformed descriptor: " + which + " has an empty name";
  if (!valid_type_name(out->name))
    return "malformed descriptor: type name \"" + out->name +
           "\" must be 1-128 letters, digits, '-', '_' or '.'";
  const std::string named = "type \"" + out->name + "\"";
  if (t.kinds == 0) return "malformed descriptor: " + named + " declares no kinds";
  if ((t.kinds & ~SLUICE_KIND_ALL) != 0)
    return "malformed descriptor: " + named + " declares unknown kind bits (mask " +
           std::to_string(t.kinds) + "; known kinds are 1, 2, 4, 8 and 16)";
  if (t.create == nullptr || t.destroy == nullptr || t.process == nullptr)
    return "malformed descriptor: " + named + " lacks create, destroy or process";
  out->kinds = t.kinds;
  out->flags = t.flags;
  out->version = bounded(t.version, 256);
  out->description = bounded(t.description, 4096);
  out->config_schema = bounded(t.config_schema);
  out->create = t.create;
  out->destroy = t.destroy;
  out->process = t.process;
  out->ack = t.ack;        // zero when beyond the plugin's struct_size
  out->finish = t.finish;
  out->check = t.check;
  out->pending = t.pending;
  out->side_input_changed = t.side_input_changed;
  return {};
}

}  // namespace

std::shared_ptr<PluginLibrary> PluginLibrary::load(const fs::path& file, std::string* error) {
  auto fail = [&](const std::string& reason) {
    *error = file.string() + ": " + reason;
    return nullptr;
  };

  std::shared_ptr<PluginLibrary> lib(new PluginLibrary());
  lib->file_ = file;
  boost::dll::fs::error_code ec;
  dlerror();  // clear any stale message on this thread
  lib->handle_.load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local,
                    ec);
  if (ec || !lib->handle_.is_loaded()) {
    const char* dl = dlerror();
    return fail(explain_dlopen_failure(file, dl ? dl : ec.message()));
  }
  if (!lib->handle_.has(SLUICE_PLUGIN_ENTRY_NAME)) return fail(explain_missing_entry(lib->handle_));

  auto& entry = lib->handle_.get<const sluice_library*(const sluice_host*)>(SLUICE_PLUGIN_ENTRY_NAME);
  return describe(std::move(lib), &entry, error);
}

std::shared_ptr<PluginLibrary> PluginLibrary::from_entry(sluice_plugin_entry_fn entry,
                                                         const fs::path& label, std::string* error) {
  std::shared_ptr<PluginLibrary> lib(new PluginLibrary());
  lib->file_ = label;
  return describe(std::move(lib), entry, error);
}

std::shared_ptr<PluginLibrary> PluginLibrary::describe(std::shared_ptr<PluginLibrary> lib,
                                                       sluice_plugin_entry_fn entry,
                                                       std::string* error) {
  const fs::path file = lib->file_;
  auto fail = [&](const std::string& reason) {
    *error = file.string() + ": " + reason;
    return nullptr;
  };
  const sluice_library* raw = nullptr;
  LoadLogCapture entry_log;  // what the plugin logs while its entry runs
  try {
    raw = entry(host_api());
  } catch (const std::exception& e) {
    return fail(std::string(SLUICE_PLUGIN_ENTRY_NAME " threw an exception: ") + e.what());
  } catch (...) {
    return fail(SLUICE_PLUGIN_ENTRY_NAME " threw an exception");
  }
  if (raw == nullptr) {
    // The plugin's own last word, if it logged one, is the most useful reason.
    std::string said;
    if (!entry_log.lines().empty()) said = ": it said: " + entry_log.lines().back().message;
    return fail(SLUICE_PLUGIN_ENTRY_NAME " returned NULL: the plugin refused to run with "
                "this host (plugin ABI " + kHostAbi + ")" + said);
  }
  for (const auto& line : entry_log.lines()) log(from_abi(line.level), file.string(), line.message);
  if (raw->struct_size == 0) {
    return fail("malformed descriptor: struct_size is 0 (set it to sizeof(sluice_library))");
  }
  sluice_library d;
  if (!read_sized(raw, &d, SLUICE_SIZE_THROUGH(sluice_library, type_count))) {
    return fail("malformed descriptor: struct_size " + std::to_string(raw->struct_size) +
                " is less than the " +
                std::to_string(SLUICE_SIZE_THROUGH(sluice_library, type_count)) +
                " bytes ABI 1.0 requires");
  }
  if (d.abi_major != SLUICE_ABI_VERSION_MAJOR) {
    return fail("descriptor says plugin ABI " + std::to_string(d.abi_major) + "." +
                std::to_string(d.abi_minor) + " but this host supports plugin ABI " +
                kHostAbi + "; rebuild the plugin against this host's plugin-api");
  }
  lib->unload_ = d.unload;  // from here on, even a rejection calls it (see ~PluginLibrary)
  lib->abi_major_ = d.abi_major;
  lib->abi_minor_ = d.abi_minor;
  lib->name_ = bounded(d.name, 256);
  if (d.type_count == 0) return fail("malformed descriptor: it declares no stage types");
  if (d.types == nullptr) return fail("malformed descriptor: types is NULL");
  if (d.type_count > 4096) return fail("malformed descriptor: type_count is implausible");

  std::set<std::string> seen;
  for (size_t i = 0; i < d.type_count; ++i) {
    PluginType type;
    if (std::string why = read_type(d.types[i], i, &type); !why.empty()) return fail(why);
    if (!seen.insert(type.name).second)
      return fail("malformed descriptor: type name \"" + type.name + "\" appears twice");
    type.library = lib.get();
    lib->types_.push_back(std::move(type));
  }
  return lib;
}

PluginLibrary::~PluginLibrary() {
  // Every instance is gone (each held a reference to this library): let the plugin stop
  // what its entry started, then handle_'s destructor unloads the code.
  if (unload_ != nullptr) {
    try {
      unload_();
    } catch (...) {
      // A C function should not throw; if a C++ one does, it must not escape.
    }
  }
}

const char* kind_name(sluice_kind kind) {
  switch (kind) {
    case SLUICE_KIND_SOURCE: return "source";
    case SLUICE_KIND_MAP: return "map";
    case SLUICE_KIND_REDUCE: return "reduce";
    case SLUICE_KIND_SINK: return "sink";
    case SLUICE_KIND_SIDE_INPUT: return "side-input";
  }
  return "unknown";
}

std::string kinds_to_string(uint32_t kinds) {
  std::string out;
  for (uint32_t bit = 1; bit <= SLUICE_KIND_SIDE_INPUT; bit <<= 1) {
    if ((kinds & bit) == 0) continue;
    if (!out.empty()) out += ',';
    out += kind_name(static_cast<sluice_kind>(bit));
  }
  return out;
}

sluice_kind kind_from_name(std::string_view name) {
  for (uint32_t bit = 1; bit <= SLUICE_KIND_SIDE_INPUT; bit <<= 1) {
    auto k = static_cast<sluice_kind>(bit);
    if (name == kind_name(k)) return k;
  }
  return static_cast<sluice_kind>(0);
}

}  // namespace sluice::host
