// A fresh folder under the system's temporary folder for one test, removed with
// everything in it when the object goes. Header-only, no dependencies beyond the
// standard library and POSIX, so every test executable (tests/CMakeLists.txt puts this
// folder on their include path) uses this one.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice::test {

class TempDir {
 public:
  // `prefix` names the folder: <tmp>/<prefix>-XXXXXX.
  explicit TempDir(std::string_view prefix) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed for " + pattern);
    // Canonical: plugins and Python print the paths they were given, and tests compare.
    path_ = std::filesystem::canonical(pattern);
  }
  ~TempDir() {
    std::error_code ec;
    // A test may have taken write permission away from its folder.
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace sluice::test
