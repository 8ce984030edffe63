#include "sluice/host/plugin_registry.h"

#include <algorithm>
#include <system_error>

namespace sluice::host {

namespace fs = std::filesystem;

void PluginRegistry::load(const PluginSearchPath& path) {
  for (const fs::path& dir : path.folders()) load_folder(dir);
}

void PluginRegistry::load_folder(const fs::path& dir) {
  folders_.push_back(dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    errors_.push_back({dir, dir.string() + ": plugin folder does not exist or is not a folder"});
    return;
  }
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() == ".so" && it->is_regular_file(ec)) files.push_back(p);
  }
  if (ec) {
    errors_.push_back({dir, dir.string() + ": cannot read plugin folder: " + ec.message()});
    return;
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) load_file(f);
}

void PluginRegistry::load_file(const fs::path& file) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(file, ec);
  if (ec) canonical = file;
  if (std::find(loaded_files_.begin(), loaded_files_.end(), canonical) != loaded_files_.end())
    return;  // the same file through another folder or a symlink
  loaded_files_.push_back(canonical);

  std::string error;
  std::shared_ptr<const PluginLibrary> lib = PluginLibrary::load(file, &error);
  if (!lib) {
    errors_.push_back({file, error});
    return;
  }
  add(std::move(lib));
}

void PluginRegistry::add_linked(sluice_plugin_entry_fn entry, const fs::path& label) {
  std::string error;
  std::shared_ptr<const PluginLibrary> lib = PluginLibrary::from_entry(entry, label, &error);
  if (!lib) {
    errors_.push_back({label, error});
    return;
  }
  add(std::move(lib));
}

void PluginRegistry::add(std::shared_ptr<const PluginLibrary> lib) {
  const fs::path& file = lib->file();
  // A library whose every type is shadowed still counts as loaded (nothing wrong
  // with the file itself); each shadowed type is reported.
  for (const PluginType& type : lib->types()) {
    auto it = by_name_.find(type.name);
    if (it != by_name_.end()) {
      errors_.push_back({file, file.string() + ": type \"" + type.name +
                                   "\" is already provided by " +
                                   it->second.library->file().string() +
                                   "; the first one found is used (rename one, or remove "
                                   "one of the files)"});
      continue;
    }
    by_name_.emplace(type.name, PluginTypeRef{lib, &type});
  }
  libraries_.push_back(std::move(lib));
}

PluginTypeRef PluginRegistry::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? PluginTypeRef{} : it->second;
}

std::vector<PluginTypeRef> PluginRegistry::types() const {
  std::vector<PluginTypeRef> out;
  out.reserve(by_name_.size());
  for (const auto& [name, ref] : by_name_) out.push_back(ref);
  return out;
}

}  // namespace sluice::host
