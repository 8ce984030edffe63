// All plugin libraries found on a search path, and their types by name.
//
// The registry loads every `*.so` in each folder (sorted by file name, folders in
// search order), keeps each library that validates, and records a one-line error for
// each one that does not; a bad file never stops the others from loading. A type name
// claimed by two files is kept from the first (earlier folder, then file name) and the
// second is reported naming both files. The same file reached twice (two folders, a
// symlink) is loaded once.
//
// Not thread-safe while loading; lookups on a fully loaded registry may be concurrent.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/host/plugin_library.h"
#include "sluice/host/plugin_search_path.h"

namespace sluice::host {

struct PluginLoadError {
  std::filesystem::path file;  // the library, or the folder
  std::string message;         // one line, starting with the file's path
};

// A type together with a reference that keeps its library loaded.
struct PluginTypeRef {
  std::shared_ptr<const PluginLibrary> library;
  const PluginType* type = nullptr;
  explicit operator bool() const { return type != nullptr; }
};

class PluginRegistry {
 public:
  // Loads every folder of the search path in order.
  void load(const PluginSearchPath& path);
  // Loads every *.so in `dir`; a missing folder is an error.
  void load_folder(const std::filesystem::path& dir);
  // Loads one library file.
  void load_file(const std::filesystem::path& file);
  // Adds a library linked into the executable (PluginLibrary::from_entry). Call before
  // load(): built into the host, its types come first.
  void add_linked(sluice_plugin_entry_fn entry, const std::filesystem::path& label);

  // The type named `name`, or an empty ref.
  PluginTypeRef find(std::string_view name) const;
  // Every loaded type, sorted by name.
  std::vector<PluginTypeRef> types() const;
  const std::vector<std::shared_ptr<const PluginLibrary>>& libraries() const { return libraries_; }
  const std::vector<PluginLoadError>& errors() const { return errors_; }
  // The folders searched, in order (for messages such as "type X not found in ...").
  const std::vector<std::filesystem::path>& folders() const { return folders_; }

 private:
  void add(std::shared_ptr<const PluginLibrary> lib);

  std::vector<std::shared_ptr<const PluginLibrary>> libraries_;
  std::map<std::string, PluginTypeRef, std::less<>> by_name_;
  std::vector<PluginLoadError> errors_;
  std::vector<std::filesystem::path> folders_;
  std::vector<std::filesystem::path> loaded_files_;  // canonical paths
};

}  // namespace sluice::host
