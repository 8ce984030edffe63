// PluginLibrary::load on real shared libraries: every way a library can be wrong gets
// one exact line naming the file and the reason.
#include "sluice/host/plugin_library.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "sluice/host/version.h"

namespace sluice::host {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) {
  return (fs::path(SLUICE_FIXTURE_DIR) / ("lib" + name + ".so")).string();
}

// Loads a fixture expected to fail; returns the error line.
std::string load_error(const std::string& name) {
  std::string error;
  auto lib = PluginLibrary::load(fixture(name), &error);
  EXPECT_EQ(lib, nullptr) << name << " loaded but should not have";
  return error;
}

TEST(PluginLibrary, NotASharedLibrary) {
  const std::string file = fixture("broken-not-elf");
  EXPECT_EQ(load_error("broken-not-elf"),
            file + ": not a shared library (invalid ELF header); remove it from the plugin folder");
}

TEST(PluginLibrary, MissingEntrySymbol) {
  EXPECT_EQ(load_error("broken-no-entry"),
            fixture("broken-no-entry") +
                ": not a Sluice plugin: it does not export sluice_plugin_v1 (build it with "
                "sluice_add_plugin() or mark the entry SLUICE_EXPORT)");
}

TEST(PluginLibrary, AbiMajorNewerThanHost) {
  EXPECT_EQ(load_error("broken-abi-newer"),
            fixture("broken-abi-newer") +
                ": built for plugin ABI 2 (exports sluice_plugin_v2), but this host (sluice " +
                SLUICE_VERSION +
                ") supports plugin ABI 1.4; use a newer sluice or rebuild the plugin against "
                "this host's plugin-api");
}

TEST(PluginLibrary, AbiMajorOlderThanHost) {
  EXPECT_EQ(load_error("broken-abi-older"),
            fixture("broken-abi-older") +
                ": built for plugin ABI 0 (exports sluice_plugin_v0), which this host (sluice " +
                SLUICE_VERSION +
                ", plugin ABI 1.4) no longer supports; rebuild the plugin against this host's "
                "plugin-api");
}

TEST(PluginLibrary, DescriptorClaimsAnotherMajor) {
  EXPECT_EQ(load_error("broken-descriptor-major"),
            fixture("broken-descriptor-major") +
                ": descriptor says plugin ABI 2." + std::to_string(SLUICE_ABI_VERSION_MINOR) + " but this host supports plugin ABI 1.4; "
                "rebuild the plugin against this host's plugin-api");
}

TEST(PluginLibrary, NullDescriptor) {
  EXPECT_EQ(load_error("broken-null-descriptor"),
            fixture("broken-null-descriptor") +
                ": sluice_plugin_v1 returned NULL: the plugin refused to run with this host "
                "(plugin ABI 1.4): it said: this plugin needs plugin ABI 1.9 or newer");
}

TEST(PluginLibrary, ZeroStructSize) {
  EXPECT_EQ(load_error("broken-zero-struct-size"),
            fixture("broken-zero-struct-size") +
                ": malformed descriptor: struct_size is 0 (set it to sizeof(sluice_library))");
}

TEST(PluginLibrary, EmptyTypeName) {
  EXPECT_EQ(load_error("broken-empty-name"),
            fixture("broken-empty-name") + ": malformed descriptor: type #0 has an empty name");
}

TEST(PluginLibrary, DuplicateTypeNameInOneLibrary) {
  EXPECT_EQ(load_error("broken-duplicate-name"),
            fixture("broken-duplicate-name") +
                ": malformed descriptor: type name \"broken-type\" appears twice");
}

TEST(PluginLibrary, NoKinds) {
  EXPECT_EQ(load_error("broken-no-kinds"),
            fixture("broken-no-kinds") +
                ": malformed descriptor: type \"kindless\" declares no kinds");
}

TEST(PluginLibrary, MissingDependency) {
  const std::string file = fixture("broken-missing-dependency");
  EXPECT_EQ(load_error("broken-missing-dependency"),
            file +
                ": a library it depends on is missing: libvanishing.so (cannot open shared "
                "object file); install it or add its folder to LD_LIBRARY_PATH (check with: "
                "ldd " + file + ")");
}

TEST(PluginLibrary, NonexistentFileSaysSo) {
  std::string error;
  EXPECT_EQ(PluginLibrary::load(fixture("does-not-exist"), &error), nullptr);
  EXPECT_EQ(error.rfind(fixture("does-not-exist") + ": ", 0), 0u) << error;
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;
}

TEST(PluginLibrary, PlainCPluginDescribesItsTypes) {
  std::string error;
  auto lib = PluginLibrary::load(fixture("c-example"), &error);
  ASSERT_NE(lib, nullptr) << error;
  EXPECT_EQ(lib->name(), "c-example");
  EXPECT_EQ(lib->abi_major(), 1u);
  ASSERT_EQ(lib->types().size(), 2u);
  const PluginType& upper = lib->types()[0];
  EXPECT_EQ(upper.name, "c-upper");
  EXPECT_EQ(upper.kinds, uint32_t{SLUICE_KIND_MAP});
  EXPECT_EQ(upper.version, "1.0.0");
  EXPECT_EQ(upper.description, "upper-cases ASCII letters (a plugin in plain C)");
  EXPECT_FALSE(upper.thread_safe());
  EXPECT_EQ(upper.library, lib.get());
  EXPECT_EQ(lib->types()[1].name, "c-counter");
}

// The type struct of this fixture ends at `process` and is followed by a PROT_NONE
// page: reading ack/finish (beyond its struct_size) would crash this test.
TEST(PluginLibrary, OlderMinorDescriptorLoadsAndNothingPastStructSizeIsRead) {
  std::string error;
  auto lib = PluginLibrary::load(fixture("old-minor"), &error);
  ASSERT_NE(lib, nullptr) << error;
  ASSERT_EQ(lib->types().size(), 1u);
  const PluginType& t = lib->types()[0];
  EXPECT_EQ(t.name, "old-minor");
  EXPECT_NE(t.process, nullptr);
  EXPECT_EQ(t.ack, nullptr);
  EXPECT_EQ(t.finish, nullptr);
  EXPECT_EQ(lib->abi_minor(), 0u);
}

TEST(PluginLibrary, BuiltinsDescribeThemselves) {
  std::string error;
  auto lib = PluginLibrary::load(fs::path(SLUICE_BUILTIN_DIR) / "libsluice-builtin.so", &error);
  ASSERT_NE(lib, nullptr) << error;
  std::vector<std::string> names;
  for (const auto& t : lib->types()) names.push_back(t.name);
  // In the order library.cc adds them.
  EXPECT_EQ(names, (std::vector<std::string>{"generator", "cat", "blackhole", "file", "stdin",
                                              "filter", "stdout", "log", "serve", "http", "count",
                                              "sum", "min", "max", "collect"}));
  for (const auto& t : lib->types()) EXPECT_FALSE(t.config_schema.empty()) << t.name;
}

TEST(PluginKinds, NamesRoundTrip) {
  EXPECT_EQ(kinds_to_string(SLUICE_KIND_SOURCE | SLUICE_KIND_SINK), "source,sink");
  EXPECT_EQ(kind_from_name("side-input"), SLUICE_KIND_SIDE_INPUT);
  EXPECT_EQ(kind_from_name("nonsense"), 0);
}

}  // namespace
}  // namespace sluice::host
