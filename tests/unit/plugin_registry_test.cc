// PluginRegistry: folder scans keep every good plugin beside the broken ones, report
// each broken one once, resolve type-name clashes by search order, and find folders.
#include "sluice/host/plugin_registry.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>

namespace sluice::host {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) {
  return (fs::path(SLUICE_FIXTURE_DIR) / ("lib" + name + ".so")).string();
}

TEST(PluginRegistry, BrokenLibrariesAreReportedAndGoodOnesLoad) {
  PluginRegistry reg;
  reg.load_folder(SLUICE_FIXTURE_DIR);

  // Every good type is there, from the right file.
  for (const char* name : {"c-upper", "c-counter", "cpp-throw", "cpp-ack-source", "old-minor",
                           "twin"}) {
    EXPECT_TRUE(reg.find(name)) << name << " did not load";
  }
  EXPECT_EQ(reg.find("twin").library->file(), fixture("twin-a"));

  // Each broken file is reported exactly once, naming that file.
  std::map<std::string, std::string> errors;
  for (const auto& e : reg.errors()) {
    EXPECT_TRUE(errors.emplace(e.file.string(), e.message).second) << "twice: " << e.message;
    EXPECT_EQ(e.message.rfind(e.file.string() + ": ", 0), 0u) << e.message;
    EXPECT_EQ(e.message.find('\n'), std::string::npos) << "not one line: " << e.message;
  }
  for (const char* broken : {"broken-no-entry", "broken-abi-newer", "broken-abi-older",
                             "broken-null-descriptor", "broken-zero-struct-size",
                             "broken-empty-name", "broken-duplicate-name", "broken-no-kinds",
                             "broken-descriptor-major", "broken-missing-dependency",
                             "broken-not-elf", "twin-b"}) {
    EXPECT_EQ(errors.count(fixture(broken)), 1u) << broken << " was not reported";
  }
  EXPECT_EQ(errors.size(), 12u);  // and nothing else (README.txt is ignored)

  // The clash names both files.
  EXPECT_EQ(errors[fixture("twin-b")],
            fixture("twin-b") + ": type \"twin\" is already provided by " + fixture("twin-a") +
                "; the first one found is used (rename one, or remove one of the files)");
}

TEST(PluginRegistry, EarlierFolderWinsAndTheShadowedFileIsNamed) {
  // A user folder that provides "generator" too, searched before the built-ins.
  fs::path dir = fs::temp_directory_path() / ("sluice-shadow-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(fs::path(SLUICE_BUILTIN_DIR) / "libsluice-builtin.so", dir / "libmine.so",
                fs::copy_options::overwrite_existing);
  PluginRegistry reg;
  reg.load_folder(dir);
  reg.load_folder(SLUICE_BUILTIN_DIR);
  EXPECT_EQ(reg.find("generator").library->file(), dir / "libmine.so");
  // One error per built-in type, each shadowed by the copy.
  const std::vector<std::string> builtins = {"generator", "cat",    "blackhole", "file",
                                             "stdin",     "filter", "stdout",    "log",
                                             "serve",     "http",   "count",
                                             "sum",       "min",    "max",       "collect"};
  ASSERT_EQ(reg.errors().size(), builtins.size());
  for (size_t i = 0; i < builtins.size(); ++i) {
    EXPECT_EQ(reg.find(builtins[i]).library->file(), dir / "libmine.so") << builtins[i];
    EXPECT_NE(reg.errors()[i].message.find("type \"" + builtins[i] + "\" is already provided by " +
                                           (dir / "libmine.so").string()),
              std::string::npos)
        << reg.errors()[i].message;
  }
  fs::remove_all(dir);
}

TEST(PluginRegistry, SameFileThroughTwoFoldersLoadsOnce) {
  PluginRegistry reg;
  reg.load_folder(SLUICE_BUILTIN_DIR);
  reg.load_folder(fs::path(SLUICE_BUILTIN_DIR) / "." );
  EXPECT_TRUE(reg.errors().empty()) << reg.errors()[0].message;
  EXPECT_EQ(reg.libraries().size(), 2u) << "libsluice-builtin.so and libsluice-python.so, once each";
}

TEST(PluginRegistry, MissingFolderIsAnError) {
  PluginRegistry reg;
  reg.load_folder("/nonexistent/sluice-plugins");
  ASSERT_EQ(reg.errors().size(), 1u);
  EXPECT_EQ(reg.errors()[0].message,
            "/nonexistent/sluice-plugins: plugin folder does not exist or is not a folder");
}

// A library linked into the executable: one source type named "generator", like a
// built-in's, so that the built-in folder's generator is shadowed by it.
sluice_status linked_create(sluice_ctx*, const sluice_create_args*, void**) {
  return SLUICE_ERROR_CONFIG;
}
void linked_destroy(void*) {}
sluice_status linked_process(void*, sluice_ctx*, const sluice_batch*) { return SLUICE_IDLE; }

const sluice_library* linked_entry(const sluice_host*) {
  static const sluice_type type = {
      .struct_size = sizeof(sluice_type),
      .kinds = SLUICE_KIND_SOURCE,
      .flags = 0,
      .name = "generator",
      .version = "0.1.0",
      .description = "a linked source",
      .config_schema = nullptr,
      .create = linked_create,
      .destroy = linked_destroy,
      .process = linked_process,
      .ack = nullptr,
      .finish = nullptr,
      .check = nullptr,
      .pending = nullptr,
      .side_input_changed = nullptr,
  };
  static const sluice_type* const types[] = {&type};
  static const sluice_library library = {
      .struct_size = sizeof(sluice_library),
      .abi_major = SLUICE_ABI_VERSION_MAJOR,
      .abi_minor = SLUICE_ABI_VERSION_MINOR,
      .name = "linked",
      .types = types,
      .type_count = 1,
      .unload = nullptr,
  };
  return &library;
}

const sluice_library* refusing_entry(const sluice_host*) { return nullptr; }

TEST(PluginRegistry, LinkedTypesComeFirstAndShadowFolderPlugins) {
  PluginRegistry reg;
  reg.add_linked(linked_entry, "(built into the test)");
  reg.load_folder(SLUICE_BUILTIN_DIR);
  const fs::path builtin = fs::path(SLUICE_BUILTIN_DIR) / "libsluice-builtin.so";
  ASSERT_TRUE(reg.find("generator"));
  EXPECT_EQ(reg.find("generator").library->file(), "(built into the test)");
  EXPECT_EQ(reg.find("generator").library->name(), "linked");
  EXPECT_EQ(reg.find("cat").library->file(), builtin);  // the folder's other types load
  ASSERT_EQ(reg.errors().size(), 1u);
  EXPECT_EQ(reg.errors()[0].file, builtin);
  EXPECT_EQ(reg.errors()[0].message,
            builtin.string() +
                ": type \"generator\" is already provided by (built into the test); the first "
                "one found is used (rename one, or remove one of the files)");
}

TEST(PluginRegistry, LinkedLibraryErrorsNameItsLabel) {
  PluginRegistry reg;
  reg.add_linked(refusing_entry, "(built into the test)");
  EXPECT_TRUE(reg.libraries().empty());
  ASSERT_EQ(reg.errors().size(), 1u);
  EXPECT_EQ(reg.errors()[0].file, "(built into the test)");
  EXPECT_EQ(reg.errors()[0].message.rfind("(built into the test): ", 0), 0u)
      << reg.errors()[0].message;
}

TEST(PluginSearchPath, OrderIsCliThenEnvironmentThenFlowThenBuiltin) {
  ::setenv("SLUICE_PLUGIN_PATH", "/env/a::/env/b:", 1);
  PluginSearchPath p = make_plugin_search_path({"/cli/1", "/cli/2"}, {"/flow/x"});
  ::unsetenv("SLUICE_PLUGIN_PATH");
  std::vector<fs::path> expected{"/cli/1", "/cli/2", "/env/a", "/env/b", "/flow/x"};
  std::vector<fs::path> got = p.folders();
  ASSERT_EQ(got.size(), expected.size() + 1);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(got[i], expected[i]);
  // The built-in folder is found relative to this executable: <bin>/../lib/sluice/plugins.
  EXPECT_EQ(got.back().filename(), "plugins");
  EXPECT_EQ(got.back().parent_path().filename(), "sluice");
}

TEST(PluginSearchPath, SplitSkipsEmptyEntries) {
  EXPECT_EQ(split_plugin_path(""), std::vector<fs::path>{});
  EXPECT_EQ(split_plugin_path(":a:"), std::vector<fs::path>{"a"});
}

}  // namespace
}  // namespace sluice::host

namespace sluice::host {
namespace {

// Plugins compiled without -fvisibility=hidden must still each keep their own types
// (and unload): plugin.hpp keeps no per-plugin state in inline-function statics.
TEST(PluginRegistry, PluginsBuiltWithDefaultVisibilityKeepTheirOwnTypes) {
  PluginRegistry reg;
  reg.load_folder(SLUICE_DEFAULT_VIS_DIR);
  for (const auto& e : reg.errors()) ADD_FAILURE() << e.message;
  ASSERT_TRUE(reg.find("vis-a"));
  ASSERT_TRUE(reg.find("vis-b"));
  EXPECT_EQ(reg.find("vis-a").library->file().filename(), "libdefault-vis-a.so");
  EXPECT_EQ(reg.find("vis-b").library->file().filename(), "libdefault-vis-b.so");
}

}  // namespace
}  // namespace sluice::host
