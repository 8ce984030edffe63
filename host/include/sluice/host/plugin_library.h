// One plugin shared library, loaded and validated.
//
// PluginLibrary::load() opens a file with Boost.DLL (RTLD_NOW | RTLD_LOCAL), finds the
// versioned entry symbol, calls it with the host's service table and checks everything
// the descriptor says before the host trusts any of it. Any problem becomes a one-line
// error naming the file and the reason; nothing a bad library does on this path can
// crash the host (short of code that crashes in its own static initialisers, which
// dlopen runs before we can look at anything).
//
// Lifetime: the library stays loaded for as long as any shared_ptr to it lives. Every
// owner of an instance of one of its types holds one, so the code is never unloaded
// under a running instance.
#pragma once

#include <sluice/plugin.h>

#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace sluice::host {

class PluginLibrary;

// A validated stage type: the descriptor's fields, read within its struct_size, with
// strings copied. Owned by its PluginLibrary.
struct PluginType {
  std::string name;
  uint32_t kinds = 0;            // mask of sluice_kind
  uint32_t flags = 0;            // SLUICE_TYPE_*
  std::string version;           // "" when the plugin gave none
  std::string description;
  std::string config_schema;     // JSON text, "" when none
  sluice_status (*create)(sluice_ctx*, const sluice_create_args*, void**) = nullptr;
  void (*destroy)(void*) = nullptr;
  sluice_status (*process)(void*, sluice_ctx*, const sluice_batch*) = nullptr;
  sluice_status (*ack)(void*, sluice_ctx*, const sluice_batch*) = nullptr;      // optional
  sluice_status (*finish)(void*, sluice_ctx*) = nullptr;                        // optional
  sluice_status (*check)(sluice_ctx*, const sluice_create_args*) = nullptr;     // optional, 1.2
  int64_t (*pending)(void*) = nullptr;                                          // optional, 1.2
  sluice_status (*side_input_changed)(void*, sluice_ctx*, const char*, size_t,
                                      uint64_t) = nullptr;                      // optional, 1.3
  const PluginLibrary* library = nullptr;

  bool supports(sluice_kind k) const { return (kinds & k) != 0; }
  bool thread_safe() const { return (flags & SLUICE_TYPE_THREAD_SAFE) != 0; }
};

class PluginLibrary {
 public:
  // Loads and validates `file`. On failure returns null and sets *error to one line:
  // "<file>: <reason>".
  static std::shared_ptr<PluginLibrary> load(const std::filesystem::path& file,
                                             std::string* error);

  // A library linked into the host executable itself (the `serving` source): its entry
  // function is called and its descriptor validated exactly as a file's would be;
  // `label` stands for the file in messages and listings. Nothing is loaded or unloaded.
  static std::shared_ptr<PluginLibrary> from_entry(sluice_plugin_entry_fn entry,
                                                   const std::filesystem::path& label,
                                                   std::string* error);

  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;
  ~PluginLibrary();

  const std::filesystem::path& file() const { return file_; }
  const std::string& name() const { return name_; }          // may be ""
  uint32_t abi_major() const { return abi_major_; }
  uint32_t abi_minor() const { return abi_minor_; }
  const std::vector<PluginType>& types() const { return types_; }

 private:
  PluginLibrary() = default;
  // Calls the entry and validates the descriptor it returns (load and from_entry).
  static std::shared_ptr<PluginLibrary> describe(std::shared_ptr<PluginLibrary> lib,
                                                 sluice_plugin_entry_fn entry, std::string* error);

  std::filesystem::path file_;
  boost::dll::shared_library handle_;
  std::string name_;
  uint32_t abi_major_ = 0;
  uint32_t abi_minor_ = 0;
  void (*unload_)(void) = nullptr;  // the plugin's sluice_library.unload, if any
  std::vector<PluginType> types_;
};

// Human-readable kind names: "source", "map", ...; kinds_to_string gives "source,map".
const char* kind_name(sluice_kind kind);
std::string kinds_to_string(uint32_t kinds);
// Parses "source" / "map" / "reduce" / "sink" / "side-input"; 0 when unknown.
sluice_kind kind_from_name(std::string_view name);

}  // namespace sluice::host
