// End-to-end tests of the `sluice` executable: each test runs the real binary (built at
// build/bin/sluice) as a child process and checks its exit code, stdout and stderr.
// Paths come from CMake: SLUICE_BIN, SLUICE_FIXTURE_DIR (good and broken fixture
// plugins side by side) and SLUICE_BUILTIN_DIR (the build tree's built-in folder).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "run_process.h"
#include "temp_dir.h"

namespace sluice::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// --- helpers -------------------------------------------------------------------------

// Runs a sluice executable. SLUICE_PLUGIN_PATH is unset unless the test sets it, so the
// environment ctest runs in cannot add plugin folders behind a test's back.
RunResult run_sluice_at(const std::string& exe, const std::vector<std::string>& args,
                        RunOptions opts = {}) {
  opts.env.try_emplace("SLUICE_PLUGIN_PATH", std::nullopt);
  return run_process(exe, args, opts);
}

// Runs build/bin/sluice.
RunResult sluice(const std::vector<std::string>& args, RunOptions opts = {}) {
  return run_sluice_at(SLUICE_BIN, args, std::move(opts));
}

RunResult sluice_with_input(const std::vector<std::string>& args, std::string input) {
  RunOptions opts;
  opts.stdin_data = std::move(input);
  return sluice(args, opts);
}

const std::string kFixtureDir = SLUICE_FIXTURE_DIR;

// The types of libsluice-builtin.so, sorted by name as `sluice plugins` lists them.
const std::vector<std::string> kBuiltinTypes = {"blackhole", "cat", "collect", "count", "file",  "filter",
                                                "generator", "http", "log",     "max",   "min",   "serve",
                                                "stdin",     "stdout", "sum"};
// Every type in the built-in folder: libsluice-builtin.so's and libsluice-python.so's.
const std::vector<std::string> kBuiltinFolderTypes = {
    "blackhole", "cat", "collect", "count", "file",  "filter", "generator", "http",
    "log",       "max", "min",     "python", "serve", "stdin", "stdout",    "sum"};
// The types linked into the sluice executable itself (sorted), listed with this label
// for a file.
const std::vector<std::string> kLinkedTypes = {"serving", "side-input"};
const std::string kLinkedLabel = "(built into sluice)";
bool is_linked(const std::string& type) {
  return std::find(kLinkedTypes.begin(), kLinkedTypes.end(), type) != kLinkedTypes.end();
}

// `types` and the linked types, sorted by name: what `sluice plugins` lists when the
// folders provide `types`.
std::vector<std::string> and_linked(std::vector<std::string> types) {
  types.insert(types.end(), kLinkedTypes.begin(), kLinkedTypes.end());
  std::sort(types.begin(), types.end());
  return types;
}

// The product finds its built-ins through the real path of the executable
// (/proc/self/exe), so the names it prints are symlink-free: compare with those.
std::string builtin_dir() { return fs::canonical(SLUICE_BUILTIN_DIR).string(); }
std::string builtin_lib() { return builtin_dir() + "/libsluice-builtin.so"; }
std::string python_lib() { return builtin_dir() + "/libsluice-python.so"; }
// The built-in library that provides `type` (or the linked type's label).
std::string builtin_lib_of(const std::string& type) {
  if (is_linked(type)) return kLinkedLabel;
  return type == "python" ? python_lib() : builtin_lib();
}

// Fixtures are found through --plugin-dir as given, so their names are not canonical.
std::string fixture(const std::string& stem) { return kFixtureDir + "/lib" + stem + ".so"; }

// The libraries in the fixture folder that the loader must reject, one error each.
const std::vector<std::string> kRejectedFixtures = {
    "broken-abi-newer",        "broken-abi-older",       "broken-descriptor-major",
    "broken-duplicate-name",   "broken-empty-name",      "broken-missing-dependency",
    "broken-no-entry",         "broken-no-kinds",        "broken-not-elf",
    "broken-null-descriptor",  "broken-zero-struct-size", "twin-b"};

std::set<std::string> rejected_fixture_files() {
  std::set<std::string> files;
  for (const std::string& stem : kRejectedFixtures) files.insert(fixture(stem));
  return files;
}

// Splits output into lines (the final '\n' does not make an empty last line). Tests
// that care about exact bytes compare the whole string instead.
std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The `sluice plugins` table, cut at the header's column offsets. A value that is
// misaligned or overflows its column ends up cut in the wrong place and fails the
// comparison, so this checks the layout too.
struct TableRow {
  std::string type, kinds, version, file, description;
};

std::vector<TableRow> parse_table(const std::string& out) {
  std::vector<std::string> all = lines(out);
  if (all.empty()) return {};
  const std::string& header = all[0];
  const size_t c1 = header.find("KINDS"), c2 = header.find("VERSION"),
               c3 = header.find("FILE"), c4 = header.find("DESCRIPTION");
  EXPECT_TRUE(starts_with(header, "TYPE ")) << header;
  EXPECT_TRUE(c1 < c2 && c2 < c3 && c3 < c4 && c4 != std::string::npos) << header;
  auto cell = [](const std::string& row, size_t from, size_t to) {
    std::string s = from < row.size() ? row.substr(from, to - from) : "";
    s.erase(s.find_last_not_of(' ') + 1);
    return s;
  };
  std::vector<TableRow> rows;
  for (size_t i = 1; i < all.size(); ++i) {
    const std::string& r = all[i];
    rows.push_back({cell(r, 0, c1), cell(r, c1, c2), cell(r, c2, c3), cell(r, c3, c4),
                    cell(r, c4, std::string::npos)});
  }
  return rows;
}

std::vector<std::string> type_names(const std::vector<TableRow>& rows) {
  std::vector<std::string> names;
  for (const TableRow& r : rows) names.push_back(r.type);
  return names;
}

std::vector<std::string> type_names(const json& plugins) {
  std::vector<std::string> names;
  for (const json& t : plugins.at("types")) names.push_back(t.at("name"));
  return names;
}

const json* find_type(const json& plugins, const std::string& name) {
  for (const json& t : plugins.at("types"))
    if (t.at("name") == name) return &t;
  return nullptr;
}

json parse_json(const RunResult& r) {
  json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON:" << r;
  return j;
}

// A fresh directory per test, removed at its end (tests/support/temp_dir.h).
struct TempDir : test::TempDir {
  TempDir() : test::TempDir("sluice-cli") {}
};

// A copy of the sluice binary at <root>/bin/sluice, as in an install tree.
fs::path copy_sluice_to(const fs::path& root) {
  fs::create_directories(root / "bin");
  fs::path exe = root / "bin" / "sluice";
  fs::copy_file(SLUICE_BIN, exe);
  fs::permissions(exe, fs::perms::owner_all, fs::perm_options::add);
  return exe;
}

// Where the built-in folder sits relative to bin/ (lib/sluice/plugins on most
// systems; whatever GNUInstallDirs chose for this build).
fs::path builtin_subdir() {
  return fs::path(SLUICE_BUILTIN_DIR).lexically_relative(fs::path(SLUICE_BIN).parent_path().parent_path());
}

// --- top-level command line ------------------------------------------------------------

TEST(Cli, VersionPrintsNameAndVersion) {
  RunResult r = sluice({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "sluice 0.1.0\n");
  EXPECT_EQ(r.err, "");
}

TEST(Cli, HelpNamesTheSubcommands) {
  RunResult r = sluice({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("plugins"), std::string::npos) << r;
  EXPECT_NE(r.out.find("try"), std::string::npos) << r;
}

TEST(Cli, HelpAfterACommandDescribesItsOptions) {
  RunResult r = sluice({"try", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r;
  for (const char* option : {"--kind", "--config", "--count", "--plugin-dir", "--json"})
    EXPECT_NE(r.out.find(option), std::string::npos) << option << r;
}

TEST(Cli, NoArgumentsIsAUsageError) {
  RunResult r = sluice({});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err, "") << "a usage error must say something";
}

TEST(Cli, UnknownCommandIsNamedAndIsAUsageError) {
  RunResult r = sluice({"bogus"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "sluice: error: unknown command \"bogus\" (commands: run, check, graph, plugins, "
            "try); see sluice --help\n");
}

// --- sluice plugins --------------------------------------------------------------------

TEST(Plugins, TableListsTheBuiltins) {
  RunResult r = sluice({"plugins"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err, "");
  ASSERT_TRUE(starts_with(r.out, "TYPE")) << r;
  std::vector<TableRow> rows = parse_table(r.out);
  ASSERT_EQ(type_names(rows), and_linked(kBuiltinFolderTypes)) << r;

  // Sorted by type name; "(mt)" marks the thread-safe types; a type with two kinds lists
  // both.
  std::map<std::string, TableRow> by_name;
  for (const TableRow& row : rows) {
    EXPECT_EQ(row.version, "0.1.0") << row.type;
    EXPECT_EQ(row.file, builtin_lib_of(row.type)) << row.type;
    by_name[row.type] = row;
  }
  const std::map<std::string, std::string> kinds = {
      {"blackhole", "sink"}, {"cat", "map (mt)"}, {"file", "source,sink,side-input"},
      {"filter", "map (mt)"}, {"generator", "source"}, {"log", "sink"},
      {"stdin", "source"},   {"stdout", "sink"},      {"serve", "sink"},
      {"serving", "source"}, {"python", "source,map,reduce,sink,side-input"}, {"http", "side-input"}, {"count", "reduce"},
      {"sum", "reduce"},     {"min", "reduce"},     {"max", "reduce"},       {"collect", "reduce"}};
  for (const auto& [name, kind] : kinds) EXPECT_EQ(by_name[name].kinds, kind) << name;
  EXPECT_EQ(by_name["blackhole"].description, "sink that counts and discards every message");
  EXPECT_EQ(by_name["cat"].description, "identity map: passes each message through unchanged");
  EXPECT_EQ(by_name["generator"].description,
            "synthetic messages: count, size, template with {seq}, keys, rate");
  EXPECT_EQ(by_name["filter"].description,
            "keeps, drops or tags messages by a regex or a JSON field condition");
  EXPECT_EQ(by_name["serve"].description,
            "sink that answers each message's HTTP request with the message value");
  EXPECT_EQ(by_name["serving"].description,
            "source of HTTP requests (the flow's serving: block); answer with the serve sink");
}

TEST(Plugins, JsonDescribesTheBuiltins) {
  RunResult r = sluice({"plugins", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err, "");
  json j = parse_json(r);
  ASSERT_TRUE(j.is_object()) << r;
  EXPECT_EQ(type_names(j), and_linked(kBuiltinFolderTypes));

  for (const json& t : j.at("types")) {
    SCOPED_TRACE(t.dump());
    EXPECT_EQ(t.at("version"), "0.1.0");
    EXPECT_TRUE(t.at("description").is_string());
    EXPECT_TRUE(t.at("config_schema").is_object()) << "built-ins publish a schema";
    const std::string name = t.at("name");
    EXPECT_EQ(t.at("file"), builtin_lib_of(name));
    EXPECT_EQ(t.at("library"), name == "python" ? "sluice-python"
                               : is_linked(name) ? "sluice-" + name
                                                 : "sluice-builtin");
    EXPECT_EQ(t.at("abi"), "1.4");
  }
  const json& generator = *find_type(j, "generator");
  EXPECT_EQ(generator.at("kinds"), json::array({"source"}));
  EXPECT_EQ(generator.at("thread_safe"), false);
  EXPECT_EQ(generator.at("config_schema").at("additionalProperties"), false);
  std::vector<std::string> keys;
  for (const auto& [key, value] : generator.at("config_schema").at("properties").items())
    keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"count", "eventTimeStart", "eventTimeStep", "keys", "rate", "size", "start", "template"}));
  EXPECT_EQ(find_type(j, "cat")->at("kinds"), json::array({"map"}));
  EXPECT_EQ(find_type(j, "cat")->at("thread_safe"), true);
  EXPECT_EQ(find_type(j, "blackhole")->at("kinds"), json::array({"sink"}));
  EXPECT_EQ(find_type(j, "file")->at("kinds"), json::array({"source", "sink", "side-input"}));
  EXPECT_EQ(find_type(j, "file")->at("thread_safe"), false);
  EXPECT_EQ(find_type(j, "filter")->at("kinds"), json::array({"map"}));
  EXPECT_EQ(find_type(j, "filter")->at("thread_safe"), true);
  for (const char* sink : {"log", "stdout", "serve"})
    EXPECT_EQ(find_type(j, sink)->at("kinds"), json::array({"sink"})) << sink;
  for (const char* source : {"stdin", "serving"})
    EXPECT_EQ(find_type(j, source)->at("kinds"), json::array({"source"})) << source;

  EXPECT_EQ(j.at("errors"), json::array());
  ASSERT_FALSE(j.at("folders").empty());
  EXPECT_EQ(j.at("folders").back(), builtin_dir()) << "the built-in folder is searched last";
}

TEST(Plugins, FixtureFolderListsGoodTypesAndOneErrorLinePerBrokenLibrary) {
  RunResult r = sluice({"plugins", "--plugin-dir", kFixtureDir});
  EXPECT_EQ(r.exit_code, 3) << "a rejected library makes `plugins` exit 3" << r;

  // Good types from the fixtures sit beside the built-ins, which still load.
  std::vector<TableRow> rows = parse_table(r.out);
  EXPECT_EQ(type_names(rows),
            (std::vector<std::string>{"blackhole", "c-counter", "c-upper", "cat", "collect", "count",
                                      "cpp-ack-source", "cpp-drop-source", "cpp-finish", "cpp-misbehave", "cpp-status",
                                      "cpp-throw", "file", "filter", "generator", "http", "log", "max", "min",
                                      "old-minor", "python", "serve", "serving", "side-input", "stdin", "stdout", "sum",
                                      "test-ack-source",
                                      "test-flaky-map", "test-flaky-retriever", "test-flaky-sink", "test-side-input-map",
                                      "test-slow-sink", "test-tag-map",
                                      "twin"}))
      << r;
  std::map<std::string, std::string> file_of;
  for (const TableRow& row : rows) file_of[row.type] = row.file;
  EXPECT_EQ(file_of["c-upper"], fixture("c-example"));
  EXPECT_EQ(file_of["cpp-throw"], fixture("cpp-example"));
  EXPECT_EQ(file_of["old-minor"], fixture("old-minor"));
  EXPECT_EQ(file_of["test-ack-source"], fixture("flow-fixtures"));
  EXPECT_EQ(file_of["twin"], fixture("twin-a")) << "the first file found wins";
  EXPECT_EQ(file_of["generator"], builtin_lib());
  EXPECT_EQ(file_of["serving"], kLinkedLabel);
  EXPECT_EQ(file_of["side-input"], kLinkedLabel);

  // stderr: exactly one "sluice: error: <file>: ..." line per rejected library.
  std::set<std::string> named;
  std::vector<std::string> err = lines(r.err);
  for (const std::string& line : err) {
    const std::string prefix = "sluice: error: ";
    ASSERT_TRUE(starts_with(line, prefix)) << line;
    std::string rest = line.substr(prefix.size());
    std::string file = rest.substr(0, rest.find(": "));
    EXPECT_TRUE(named.insert(file).second) << "reported twice: " << file;
  }
  EXPECT_EQ(err.size(), kRejectedFixtures.size()) << r;
  EXPECT_EQ(named, rejected_fixture_files());

  // The clash names both files and says which one is used.
  EXPECT_NE(r.err.find("sluice: error: " + fixture("twin-b") + ": type \"twin\" is already "
                       "provided by " + fixture("twin-a") + "; the first one found is used"),
            std::string::npos)
      << r;
}

TEST(Plugins, JsonListsTheSameErrorsAndNothingOnStderr) {
  RunResult r = sluice({"plugins", "--plugin-dir", kFixtureDir, "--json"});
  EXPECT_EQ(r.exit_code, 3) << r;
  EXPECT_EQ(r.err, "") << "with --json the errors are in the document only";
  json j = parse_json(r);
  ASSERT_TRUE(j.is_object()) << r;

  std::set<std::string> files;
  for (const json& e : j.at("errors")) {
    std::string file = e.at("file"), message = e.at("message");
    EXPECT_TRUE(files.insert(file).second) << "reported twice: " << file;
    EXPECT_TRUE(starts_with(message, file + ": ")) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  EXPECT_EQ(j.at("errors").size(), kRejectedFixtures.size());
  EXPECT_EQ(files, rejected_fixture_files());

  EXPECT_EQ(j.at("folders"), json::array({kFixtureDir, builtin_dir()}));
  const json* upper = find_type(j, "c-upper");
  ASSERT_NE(upper, nullptr);
  EXPECT_EQ(upper->at("file"), fixture("c-example"));
  EXPECT_EQ(upper->at("library"), "c-example");
  EXPECT_TRUE(upper->at("config_schema").is_null()) << "c-upper publishes no schema";
  ASSERT_NE(find_type(j, "old-minor"), nullptr);
  EXPECT_EQ(find_type(j, "old-minor")->at("abi"), "1.0");
}

TEST(Plugins, TableAndJsonReportTheSameErrors) {
  RunResult table = sluice({"plugins", "--plugin-dir", kFixtureDir});
  RunResult as_json = sluice({"plugins", "--plugin-dir", kFixtureDir, "--json"});
  const json doc = parse_json(as_json);
  std::vector<std::string> from_json;
  for (const json& e : doc.at("errors"))
    from_json.push_back("sluice: error: " + e.at("message").get<std::string>());
  EXPECT_EQ(lines(table.err), from_json);
}

TEST(Plugins, PluginPathVariableActsLikePluginDir) {
  RunResult by_option = sluice({"plugins", "--plugin-dir", kFixtureDir, "--json"});
  RunOptions env;
  env.env["SLUICE_PLUGIN_PATH"] = kFixtureDir;
  RunResult by_env = sluice({"plugins", "--json"}, env);
  EXPECT_EQ(by_env.exit_code, 3) << by_env;
  json a = parse_json(by_option), b = parse_json(by_env);
  EXPECT_EQ(type_names(b), type_names(a));
  EXPECT_EQ(b.at("types"), a.at("types"));
  EXPECT_EQ(b.at("errors"), a.at("errors"));
  EXPECT_EQ(b.at("folders"), json::array({kFixtureDir, builtin_dir()}));
}

TEST(Plugins, PluginPathVariableSkipsEmptyEntries) {
  RunOptions env;
  env.env["SLUICE_PLUGIN_PATH"] = ":" + kFixtureDir + "::";
  RunResult r = sluice({"plugins", "--json"}, env);
  EXPECT_EQ(parse_json(r).at("folders"), json::array({kFixtureDir, builtin_dir()})) << r;
}

TEST(Plugins, FoldersAreSearchedOptionThenVariableThenBuiltins) {
  RunOptions env;
  env.env["SLUICE_PLUGIN_PATH"] = "/nonexistent/from-env";
  RunResult r = sluice({"plugins", "--json", "--plugin-dir", "/nonexistent/from-option"}, env);
  EXPECT_EQ(r.exit_code, 3) << r;
  json j = parse_json(r);
  EXPECT_EQ(j.at("folders"),
            json::array({"/nonexistent/from-option", "/nonexistent/from-env", builtin_dir()}));
  EXPECT_EQ(j.at("errors").size(), 2u) << r;
}

TEST(Plugins, EarlierFolderShadowsTheBuiltinsAndTheLaterFileIsReported) {
  // A user folder that provides the built-in type names too: it is searched first.
  TempDir tmp;
  fs::copy_file(builtin_lib(), tmp.path() / "libmine.so");
  const std::string mine = (tmp.path() / "libmine.so").string();
  RunResult r = sluice({"plugins", "--json", "--plugin-dir", tmp.path().string()});
  EXPECT_EQ(r.exit_code, 3) << r;
  json j = parse_json(r);
  for (const std::string& name : kBuiltinTypes) {
    ASSERT_NE(find_type(j, name), nullptr) << name;
    EXPECT_EQ(find_type(j, name)->at("file"), mine) << name;
  }
  // The linked types come before every folder: the copy does not provide them anyway.
  for (const std::string& linked : kLinkedTypes) {
    ASSERT_NE(find_type(j, linked), nullptr) << linked;
    EXPECT_EQ(find_type(j, linked)->at("file"), kLinkedLabel);
  }
  // One error per shadowed type, naming both files.
  std::set<std::string> messages, expected;
  for (const json& e : j.at("errors")) messages.insert(e.at("message").get<std::string>());
  for (const std::string& name : kBuiltinTypes)
    expected.insert(builtin_lib() + ": type \"" + name + "\" is already provided by " + mine +
                    "; the first one found is used (rename one, or remove one of the files)");
  EXPECT_EQ(messages, expected) << r;
  EXPECT_EQ(j.at("errors").size(), kBuiltinTypes.size()) << r;
}

TEST(Plugins, SameFileThroughTwoFoldersLoadsOnce) {
  // The built-in folder named again with --plugin-dir: not a clash with itself.
  RunResult r = sluice({"plugins", "--json", "--plugin-dir", SLUICE_BUILTIN_DIR});
  EXPECT_EQ(r.exit_code, 0) << r;
  json j = parse_json(r);
  EXPECT_EQ(j.at("errors"), json::array());
  EXPECT_EQ(type_names(j), and_linked(kBuiltinFolderTypes));
  EXPECT_EQ(j.at("folders").size(), 2u);
}

TEST(Plugins, MissingPluginDirIsReportedAndBuiltinsStillLoad) {
  RunResult r = sluice({"plugins", "--plugin-dir", "/nonexistent/sluice-plugins"});
  EXPECT_EQ(r.exit_code, 3) << r;
  EXPECT_EQ(r.err,
            "sluice: error: /nonexistent/sluice-plugins: plugin folder does not exist or is "
            "not a folder\n");
  EXPECT_EQ(type_names(parse_table(r.out)), and_linked(kBuiltinFolderTypes));
}

TEST(Plugins, BuiltinsAreFoundRelativeToTheExecutable) {
  // <tmp>/bin/sluice and <tmp>/<libdir>/sluice/plugins/libsluice-builtin.so, as in an
  // install tree: the copy must load its own built-ins, not the build tree's.
  TempDir tmp;
  fs::path exe = copy_sluice_to(tmp.path());
  fs::path plugins = tmp.path() / builtin_subdir();
  fs::create_directories(plugins);
  fs::copy_file(builtin_lib(), plugins / "libsluice-builtin.so");

  RunResult r = run_sluice_at(exe.string(), {"plugins"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err, "");
  std::vector<TableRow> rows = parse_table(r.out);
  EXPECT_EQ(type_names(rows), and_linked(kBuiltinTypes)) << r;
  for (const TableRow& row : rows) {
    EXPECT_EQ(row.file,
              is_linked(row.type) ? kLinkedLabel : (plugins / "libsluice-builtin.so").string())
        << row.type;
  }
}

TEST(Plugins, ExecutableWithoutABuiltinFolderSaysSo) {
  TempDir tmp;
  fs::path exe = copy_sluice_to(tmp.path());
  RunResult r = run_sluice_at(exe.string(), {"plugins"});
  EXPECT_EQ(r.exit_code, 3) << r;
  // Only the types linked into the executable are left.
  std::vector<TableRow> rows = parse_table(r.out);
  ASSERT_EQ(type_names(rows), kLinkedTypes) << r;
  for (const TableRow& row : rows) EXPECT_EQ(row.file, kLinkedLabel);
  EXPECT_EQ(r.err, "sluice: error: " + (tmp.path() / builtin_subdir()).string() +
                       ": plugin folder does not exist or is not a folder\n");
}

// --- sluice try: the generator source ------------------------------------------------

TEST(TryGenerator, TemplateReplacesSeq) {
  RunResult r = sluice({"try", "generator", "--config", R"({"count":3,"template":"m{seq}"})"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "m0\nm1\nm2\n");
  EXPECT_EQ(r.err, "");
}

TEST(TryGenerator, KeysCycleThroughTheCardinality) {
  RunResult r = sluice({"try", "generator", "--json", "--config",
                        R"({"count":4,"keys":2,"template":"m{seq}"})"});
  EXPECT_EQ(r.exit_code, 0) << r;
  std::vector<std::string> out = lines(r.out);
  ASSERT_EQ(out.size(), 4u) << r;
  for (size_t i = 0; i < out.size(); ++i) {
    // A source's outputs have no input index; the generator sets no time or tags.
    json expected = {{"keys", {"key-" + std::to_string(i % 2)}},
                     {"value", "m" + std::to_string(i)}};
    EXPECT_EQ(json::parse(out[i]), expected) << out[i];
  }
}

TEST(TryGenerator, DefaultValuesAre100BytesStartingWithThePaddedSequence) {
  RunResult r = sluice({"try", "generator", "--config", R"({"count":3})"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(lines(r.out), (std::vector<std::string>{
                              "00000000000000000000" + std::string(80, 'x'),
                              "00000000000000000001" + std::string(80, 'x'),
                              "00000000000000000002" + std::string(80, 'x')}));
}

TEST(TryGenerator, SizeSetsTheValueLength) {
  RunResult r = sluice({"try", "generator", "--config", R"({"count":2,"size":25})"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "00000000000000000000xxxxx\n00000000000000000001xxxxx\n");
}

TEST(TryGenerator, StartOffsetsTheSequence) {
  RunResult r = sluice(
      {"try", "generator", "--config", R"({"count":3,"start":5,"template":"v{seq}"})"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "v5\nv6\nv7\n");
}

TEST(TryGenerator, RateThrottlesButProducesEveryMessage) {
  // --count above the config's count, so only the generator decides when to stop.
  RunResult r = sluice({"try", "generator", "--count", "100", "--config",
                        R"({"count":20,"rate":200,"template":"{seq}"})"});
  EXPECT_EQ(r.exit_code, 0) << r;
  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i) expected.push_back(std::to_string(i));
  EXPECT_EQ(lines(r.out), expected);
  // At 200/s the 20th message is due 95 ms after the first: a lower bound only, so a
  // slow machine cannot make this flaky.
  EXPECT_GE(r.elapsed.count(), 90) << "the rate was not applied";
}

TEST(TryGenerator, TryStopsAnUnboundedSourceAfterTenMessagesByDefault) {
  RunResult r = sluice({"try", "generator", "--config", R"({"template":"{seq}"})"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n");
}

TEST(TryGenerator, CountOptionStopsTheSource) {
  RunResult r = sluice({"try", "generator", "--count", "3", "--config", R"({"template":"{seq}"})"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "0\n1\n2\n");
  // Cutting a source short is said, so a bounded source's own count is not mistaken.
  EXPECT_EQ(r.err, "sluice: generator: stopped after 3 messages (--count); the source had not ended\n");
}

TEST(TryGenerator, SourceThatEndsWithinCountSaysNothing) {
  RunResult r = sluice({"try", "generator", "--count", "5", "--config", R"({"count":2,"template":"{seq}"})"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "0\n1\n");
  EXPECT_EQ(r.err, "");
}

TEST(Cli, UnknownCommandAfterAGlobalOptionIsNamed) {
  RunResult r = sluice({"--log-level", "debug", "bogus"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.err,
            "sluice: error: unknown command \"bogus\" (commands: run, check, graph, plugins, "
            "try); see sluice --help\n");
}

// Bad configs: exit 2 (usage), nothing on stdout, one line naming the key and why.
void expect_config_error(const std::string& config, const std::string& message) {
  RunResult r = sluice({"try", "generator", "--config", config});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "sluice: error: generator (" + builtin_lib() + "): create failed (config error): " + message + "\n");
}

TEST(TryGenerator, UnknownConfigKeyIsAUsageError) {
  expect_config_error(R"({"count":1,"bogus":1})",
                      "config.bogus: unknown key (known keys: count, eventTimeStart, eventTimeStep, "
                      "keys, rate, size, start, template)");
}

TEST(TryGenerator, WrongConfigTypeIsAUsageError) {
  expect_config_error(R"({"count":"ten"})", R"(config.count: expected an integer, got "ten")");
}

TEST(TryGenerator, OutOfRangeConfigIsAUsageError) {
  expect_config_error(R"({"size":-1})", "config.size: -1 is out of range [0, 67108864]");
}

TEST(TryGenerator, ConfigThatIsNotAnObjectIsAUsageError) {
  expect_config_error("[1]", "config must be a mapping of keys to values");
}

TEST(TryGenerator, ConfigThatIsNotJsonIsAUsageError) {
  // Caught by the host before the plugin sees it.
  RunResult r = sluice({"try", "generator", "--config", "{count: 3"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "sluice: error: --config is not valid JSON: {count: 3\n");
}

// --- sluice try: the other built-ins -------------------------------------------------

TEST(TryBuiltins, CatEchoesStdinLines) {
  // An empty line stays a message; a last line without '\n' is still a message.
  RunResult r = sluice_with_input({"try", "cat"}, "a\nb c\n\nlast");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "a\nb c\n\nlast\n");
  EXPECT_EQ(r.err, "");
}

TEST(TryBuiltins, CatPassesManyLinesThroughSeveralBatches) {
  // More lines than one batch (256) and more bytes than a pipe buffer each way.
  std::string input;
  for (int i = 0; i < 5000; ++i) input += "line " + std::to_string(i) + " " + std::string(40, 'y') + "\n";
  RunResult r = sluice_with_input({"try", "cat", "--batch", "100"}, input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, input);
}

TEST(TryBuiltins, CatRejectsAnyConfig) {
  RunResult r = sluice_with_input({"try", "cat", "--config", R"({"x":1})"}, "a\n");
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "sluice: error: cat (" + builtin_lib() +
                       "): create failed (config error): config.x: unknown key (this type takes no config)\n");
}

TEST(TryBuiltins, BlackholePrintsNothingAndLogsTheCount) {
  RunResult r = sluice_with_input({"try", "blackhole"}, "a\nb\nc\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "sluice: info: blackhole: discarded 3 messages\n");
}

TEST(TryBuiltins, BlackholeWithNoInputDiscardsZero) {
  RunResult r = sluice({"try", "blackhole"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err, "sluice: info: blackhole: discarded 0 messages\n");
}

TEST(TryBuiltins, LogLevelWarnHidesInfoLines) {
  RunResult r = sluice_with_input({"--log-level", "warn", "try", "blackhole"}, "a\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err, "");
}

// --- sluice try: fixture plugins -------------------------------------------------------

// `try` with the fixture folder. The broken fixtures there are logged as warnings (see
// BrokenLibrariesOnlyWarn); --log-level error hides those so stderr can be compared
// exactly.
RunResult try_fixture(const std::string& type, std::vector<std::string> extra = {},
                      std::string input = "") {
  std::vector<std::string> args{"--log-level", "error", "try", type, "--plugin-dir", kFixtureDir};
  args.insert(args.end(), extra.begin(), extra.end());
  return sluice_with_input(args, std::move(input));
}

TEST(TryFixtures, BrokenLibrariesOnlyWarn) {
  // The same rejections `plugins` reports as errors are warnings for `try`, and do not
  // change its exit code.
  RunResult r = sluice_with_input({"try", "c-upper", "--plugin-dir", kFixtureDir}, "x\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "X\n");
  const json plugins = parse_json(sluice({"plugins", "--plugin-dir", kFixtureDir, "--json"}));
  std::vector<std::string> expected;
  for (const json& e : plugins.at("errors"))
    expected.push_back("sluice: warning: " + e.at("message").get<std::string>());
  EXPECT_EQ(expected.size(), kRejectedFixtures.size());
  EXPECT_EQ(lines(r.err), expected);
}

TEST(TryFixtures, CUpperUpperCasesStdin) {
  RunResult r = try_fixture("c-upper", {}, "hello World\nabc-1\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "HELLO WORLD\nABC-1\n");
  EXPECT_EQ(r.err, "");
}

TEST(TryFixtures, CUpperJsonShowsInputIndexAndTag) {
  RunResult r = try_fixture("c-upper", {"--json"}, "ab\ncd\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  std::vector<std::string> out = lines(r.out);
  ASSERT_EQ(out.size(), 2u) << r;
  EXPECT_EQ(json::parse(out[0]), json({{"input", 0}, {"tags", {"upper"}}, {"value", "AB"}}));
  EXPECT_EQ(json::parse(out[1]), json({{"input", 1}, {"tags", {"upper"}}, {"value", "CD"}}));
}

TEST(TryFixtures, CUpperRejectsConfig) {
  // A C plugin's SLUICE_ERROR_CONFIG from create is a usage error too.
  RunResult r = try_fixture("c-upper", {"--config", R"({"x":1})"}, "a\n");
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.err, "sluice: error: c-upper (" + fixture("c-example") +
                       "): create failed (config error): c-upper takes no config\n");
}

TEST(TryFixtures, CCounterSinkPrintsItsResponses) {
  RunResult r = try_fixture("c-counter", {}, "a\nb\nc\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "1\n2\n3\n");
  EXPECT_EQ(r.err, "");
}

TEST(TryFixtures, CCounterJsonShowsWhichMessageEachResponseIsFor) {
  RunResult r = try_fixture("c-counter", {"--json"}, "a\nb\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "{\"input\":0,\"response\":\"1\"}\n{\"input\":1,\"response\":\"2\"}\n");
}

TEST(TryFixtures, ExceptionInProcessFailsTheRunWithItsMessage) {
  RunResult r = try_fixture("cpp-throw", {}, "boom\n");
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "sluice: error: cpp-throw (" + fixture("cpp-example") +
                       "): process failed (error): boom at message 0\n");
}

TEST(TryFixtures, FatalErrorFailsTheRun) {
  RunResult r = try_fixture("cpp-throw", {}, "fatal\n");
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(r.err, "sluice: error: cpp-throw (" + fixture("cpp-example") +
                       "): process failed (fatal error): cannot go on\n");
}

TEST(TryFixtures, MapFailingOneMessageKeepsTheOthers) {
  // A per-message failure is reported and the rest of the batch goes through; a message
  // was not delivered, so the run is not a success (exit 1).
  RunResult r = try_fixture("cpp-throw", {}, "a\nfail\nb\n");
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(r.out, "a\nb\n");
  EXPECT_EQ(r.err, "sluice: message 1: failed: refused this one\nsluice: 1 failed, 0 to retry\n");
}

TEST(TryFixtures, ConfigErrorAfterCreateIsAPlainStageFailure) {
  // SLUICE_ERROR_CONFIG is create's status: thrown later, it fails the stage (exit 1).
  RunResult r = try_fixture("cpp-throw", {}, "config\n");
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(r.err, "sluice: error: cpp-throw (" + fixture("cpp-example") +
                       "): process failed (error): a ConfigError after create\n");
}

TEST(TryFixtures, ConfigErrorFromConstructorIsAUsageError) {
  RunResult r = try_fixture("cpp-throw", {"--config", R"({"reject":true})"}, "x\n");
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "sluice: error: cpp-throw (" + fixture("cpp-example") +
                       "): create failed (config error): config.reject: this stage was told to reject its config\n");
}

TEST(TryFixtures, RefusedEmitFailsTheRun) {
  RunResult r = try_fixture("cpp-misbehave", {}, "a\nb\n");
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "sluice: error: cpp-misbehave: emit: input index 102 is out of range (batch of 2)\n"
            "sluice: error: cpp-misbehave (" + fixture("cpp-example") +
                "): process failed (error): host refused emit\n");
}

TEST(TryFixtures, FinishCanEmit) {
  RunResult r = try_fixture("cpp-finish", {"--json"}, "a\nb\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "{\"keys\":[\"all\"],\"value\":\"a+b\"}\n");
}

TEST(TryFixtures, AckSourcePrintsItsMessages) {
  RunResult r = try_fixture("cpp-ack-source");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "m0\nm1\nm2\n");
  EXPECT_EQ(r.err, "");
}

TEST(TryFixtures, AckSourceIsAckedForEveryPrintedMessageEvenAfterEnd) {
  // cpp-ack-source ends in its first call; `try` still acks the three messages it
  // printed, by the ids the source gave them, and the source logs each ack.
  RunResult r = sluice({"--log-level", "warn", "try", "cpp-ack-source", "--plugin-dir",
                        kFixtureDir});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "m0\nm1\nm2\n");
  EXPECT_NE(r.err.find("sluice: warning: cpp-ack-source: acked offset-0\n"
                       "sluice: warning: cpp-ack-source: acked offset-1\n"
                       "sluice: warning: cpp-ack-source: acked offset-2\n"),
            std::string::npos)
      << r;
}

// --- sluice try: usage errors ----------------------------------------------------------

TEST(TryErrors, UnknownTypeIsNamed) {
  RunResult r = sluice({"try", "no-such-type"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "sluice: error: no plugin provides type \"no-such-type\"; run `sluice plugins` to "
            "list the types found\n");
}

TEST(TryErrors, KindTheTypeDoesNotHaveIsAUsageError) {
  RunResult r = sluice({"try", "cat", "--kind", "source"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "sluice: error: type \"cat\" has kinds map, not \"source\"\n");
}

TEST(TryErrors, KindThatDoesNotExistIsAUsageError) {
  RunResult r = sluice({"try", "cat", "--kind", "nonsense"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_NE(r.err.find("nonsense"), std::string::npos) << r;
}

TEST(TryErrors, TypeIsRequired) {
  RunResult r = sluice({"try"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err, "");
}

// A dropped output is finished like a delivered one: a source is acked for it with or
// without --json; only its printing differs.
TEST(TryFixtures, DroppedSourceMessagesAreAckedButNotPrinted) {
  RunResult r = sluice({"--log-level", "warn", "try", "cpp-drop-source", "--plugin-dir", kFixtureDir});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "m0\nm2\n");
  for (const char* id : {"id0", "id1", "id2", "id3"})
    EXPECT_NE(r.err.find(std::string("cpp-drop-source: acked ") + id + "\n"), std::string::npos) << id << r;
  EXPECT_NE(r.err.find("sluice: 2 outputs dropped (tagged U+005C__DROP__)\n"), std::string::npos) << r;

  RunResult j = sluice({"--log-level", "warn", "try", "cpp-drop-source", "--json", "--plugin-dir", kFixtureDir});
  EXPECT_EQ(j.exit_code, 0) << j;
  EXPECT_NE(j.out.find(R"({"id":"id1","tags":["U+005C__DROP__"],"value":"m1"})"), std::string::npos) << j;
  EXPECT_NE(j.err.find("cpp-drop-source: acked id3\n"), std::string::npos) << j;
}

}  // namespace
}  // namespace sluice::test
