// Tests of the built-in stage types (plugins/builtin, docs/builtin-plugins.md).
//
// Most run the real `sluice try TYPE` (see cli_test.cc): one stage over stdin/stdout
// through the real loader and ABI. What `try` cannot set up (a streaming flow, a
// flow_dir, several workers, keys and headers on a sink's input, a disk that fills up
// mid-batch) runs in-process instead: the built-in library is dlopen'ed and driven
// through its C ABI by the small host at the end of this file.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

// The ABI, from the source tree: this test binary does not link the plugin API target.
#include "../../plugin-api/include/sluice/plugin.h"
#include "run_process.h"
#include "temp_dir.h"

namespace sluice::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// --- helpers -------------------------------------------------------------------------

// Runs build/bin/sluice with `input` on stdin; SLUICE_PLUGIN_PATH unset, so only the
// built-in folder is searched.
RunResult sluice(const std::vector<std::string>& args, std::string input = "") {
  RunOptions opts;
  opts.stdin_data = std::move(input);
  opts.env["SLUICE_PLUGIN_PATH"] = std::nullopt;
  return run_process(SLUICE_BIN, args, opts);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// Each line of `text` parsed as JSON (try --json output, the sinks' json format).
std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  for (const std::string& line : lines(text)) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
    out.push_back(j);
  }
  return out;
}

// The given field of each line of try --json output (absent: null).
std::vector<json> field_of_each(const std::string& out, const std::string& field) {
  std::vector<json> values;
  for (const json& j : json_lines(out)) values.push_back(j.value(field, json()));
  return values;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, const std::string& content,
                std::ios::openmode mode = std::ios::trunc) {
  std::ofstream out(p, std::ios::binary | mode);
  out << content;
}

// A fresh directory per test, removed at its end (tests/support/temp_dir.h).
struct TempDir : test::TempDir {
  TempDir() : test::TempDir("sluice-builtin") {}
};

// The config {"path": <p>, ...extra}.
std::string path_config(const fs::path& p, json extra = json::object()) {
  extra["path"] = p.string();
  return extra.dump();
}

// --- file source ---------------------------------------------------------------------

TEST(BuiltinFileSource, LinesFormatEmitsEveryLineWithItsOffsetAsIdAndEndsAtEof) {
  TempDir tmp;
  // An empty line, a CRLF line end, and a last line without '\n'.
  write_file(tmp / "in.txt", "a\n\nccc\r\nlast");
  RunResult r = sluice({"try", "file", "--kind", "source", "--json", "--config",
                        path_config(tmp / "in.txt")});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(field_of_each(r.out, "value"), (std::vector<json>{"a", "", "ccc", "last"})) << r;
  EXPECT_EQ(field_of_each(r.out, "id"), (std::vector<json>{"0", "2", "3", "8"})) << r;
  EXPECT_EQ(field_of_each(r.out, "keys"), std::vector<json>(4)) << r;  // no keys
  // END at the end of the file: no "idle" or "stopped after" note from try.
  EXPECT_EQ(r.err, "") << r;
}

TEST(BuiltinFileSource, JsonFormatSkipsBlankAndBadLinesAndTakesTheKeyField) {
  TempDir tmp;
  const fs::path in = tmp / "in.jsonl";
  write_file(in,
             "{\"id\":\"k1\",\"v\":1}\n"  // line 1: a string key
             "\n"                         // 2: blank, skipped silently
             "not json\n"                 // 3: skipped with a warning
             "{\"id\":7}\n"               // 4: an integer key
             "{\"v\":{\"id\":\"deep\"}}\n"  // 5: only a top-level field counts
             "[1,2]\n"                    // 6: not an object: no key
             " {\"id\":{\"x\":1}} \n"     // 7: an object value: no key
             "{\"id\":\"a\"} x\n");       // 8: trailing garbage: not JSON
  RunResult r = sluice({"try", "file", "--kind", "source", "--json", "--config",
                        path_config(in, {{"format", "json"}, {"key", "id"}})});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::vector<json> out = json_lines(r.out);
  ASSERT_EQ(out.size(), 5u) << r;
  EXPECT_EQ(out[0], (json{{"id", "0"}, {"keys", {"k1"}}, {"value", "{\"id\":\"k1\",\"v\":1}"}}));
  EXPECT_EQ(out[1], (json{{"id", "28"}, {"keys", {"7"}}, {"value", "{\"id\":7}"}}));
  EXPECT_EQ(out[2].value("keys", json()), json()) << out[2];
  EXPECT_EQ(out[3].value("value", ""), "[1,2]");
  EXPECT_EQ(out[4].value("value", ""), " {\"id\":{\"x\":1}} ");  // the line unchanged
  EXPECT_EQ(out[4].value("keys", json()), json()) << out[4];
  const std::vector<std::string> err = lines(r.err);
  ASSERT_EQ(err.size(), 3u) << r;
  EXPECT_EQ(err[0].rfind("sluice: warning: file: " + in.string() +
                             ":3: not JSON, skipped: column 2: syntax error",
                         0),
            0u)
      << r;
  EXPECT_EQ(err[1].rfind("sluice: warning: file: " + in.string() + ":8: not JSON, skipped: ", 0),
            0u)
      << r;
  EXPECT_EQ(err[2],
            "sluice: warning: file: " + in.string() + ": skipped 2 lines that are not JSON");
}

TEST(BuiltinFileSource, WarnsAboutTheFirstTenBadLinesAndCountsTheRest) {
  TempDir tmp;
  std::string text;
  for (int i = 0; i < 12; ++i) text += "bad\n";
  write_file(tmp / "in.jsonl", text + "{}\n");
  RunResult r = sluice({"try", "file", "--kind", "source", "--config",
                        path_config(tmp / "in.jsonl", {{"format", "json"}})});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "{}\n");
  std::vector<std::string> err = lines(r.err);
  ASSERT_EQ(err.size(), 12u) << r;  // 10 warnings, the note that more follow, the count
  EXPECT_TRUE(contains(err[9], ":10: not JSON")) << r;
  EXPECT_TRUE(contains(err[10], "further lines that are not JSON are skipped without a warning"))
      << r;
  EXPECT_TRUE(contains(err[11], ": skipped 12 lines that are not JSON")) << r;
}

// eventTime: the field's number (ms) or RFC 3339 text is the message's event time.
TEST(BuiltinFileSource, EventTimeFieldGivesTheEventTime) {
  TempDir tmp;
  const fs::path in = tmp / "in.jsonl";
  write_file(in,
             "{\"ts\":1795240800000,\"user\":\"a\"}\n"           // integer ms
             "{\"ts\":\"2026-11-21T06:00:00Z\"}\n"               // RFC 3339, UTC
             "{\"ts\":\"2026-11-21T06:00:00.250Z\"}\n"           // with a fraction
             "{\"ts\":\"2026-11-21T07:30:00.2509+01:30\"}\n"     // an offset; below ms dropped
             "{\"ts\":\"2024-02-29t23:59:59.999z\"}\n"           // lower case t, z; a leap day
             "{\"ts\":\"2024-02-29 23:59:59.999-00:00\"}\n"      // a space for T
             "{\"ts\":1795240800000.9}\n"                        // a fraction of a ms dropped
             "{\"ts\":1,\"ts\":2}\n"                              // a later duplicate wins
             "{\"v\":{\"ts\":5},\"ts\":3}\n");                    // only the top level counts
  RunResult r = sluice({"try", "file", "--kind", "source", "--json", "--config",
                        path_config(in, {{"format", "json"}, {"eventTime", "ts"}, {"key", "user"}})});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err, "") << r;
  EXPECT_EQ(field_of_each(r.out, "event_time"),
            (std::vector<json>{1795240800000, 1795240800000, 1795240800250, 1795240800250,
                               1709251199999, 1709251199999, 1795240800000, 2, 3}))
      << r;
  EXPECT_EQ(field_of_each(r.out, "keys")[0], json({"a"})) << r;  // key and time together
  // The value is the line unchanged.
  EXPECT_EQ(field_of_each(r.out, "value")[0], "{\"ts\":1795240800000,\"user\":\"a\"}") << r;
}

TEST(BuiltinFileSource, EventTimeUnitSecondsScalesNumbersOnly) {
  TempDir tmp;
  const fs::path in = tmp / "in.jsonl";
  write_file(in, "{\"t\":1795240800}\n{\"t\":1795240800.25}\n{\"t\":\"2026-11-21T06:00:01Z\"}\n");
  RunResult r = sluice({"try", "file", "--kind", "source", "--json", "--config",
                        path_config(in, {{"format", "json"}, {"eventTime", "t"}, {"eventTimeUnit", "s"}})});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(field_of_each(r.out, "event_time"),
            (std::vector<json>{1795240800000, 1795240800250, 1795240801000}))
      << r;
}

// A missing or invalid event time skips the line, as a line that is not JSON is: a
// warning naming <path>:<line> and the field, and a count at the end.
TEST(BuiltinFileSource, LinesWithoutAValidEventTimeAreSkippedWithAWarning) {
  TempDir tmp;
  const fs::path in = tmp / "in.jsonl";
  write_file(in,
             "{\"ts\":1000}\n"                          // 1: fine
             "{\"other\":1}\n"                          // 2: missing
             "{\"ts\":\"yesterday\"}\n"                 // 3: not RFC 3339
             "{\"ts\":\"2026-02-30T00:00:00Z\"}\n"      // 4: no such day
             "{\"ts\":\"2026-11-21T06:00:00\"}\n"       // 5: no offset
             "{\"ts\":{\"ms\":1}}\n"                    // 6: an object
             "{\"ts\":null}\n"                          // 7: null
             "{\"ts\":0}\n"                             // 8: the epoch: means 'no time'
             "{\"ts\":-5}\n"                            // 9: before the epoch
             "[1]\n"                                    // 10: not an object: missing
             "oops\n"                                   // 11: not JSON
             "{\"ts\":\"1970-01-01T00:00:00.001Z\"}\n");  // 12: the first valid time
  RunResult r = sluice({"try", "file", "--kind", "source", "--json", "--config",
                        path_config(in, {{"format", "json"}, {"eventTime", "ts"}})});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(field_of_each(r.out, "event_time"), (std::vector<json>{1000, 1})) << r;
  const std::string p = "sluice: warning: file: " + in.string() + ":";
  const std::vector<std::string> err = lines(r.err);
  const std::vector<std::string> expected = {
      p + "2: no event time, skipped: field \"ts\" is missing",
      p + "3: no event time, skipped: field \"ts\" is \"yesterday\": not an RFC 3339 time "
          "(such as \"2026-11-21T06:00:00Z\") or a number",
      p + "4: no event time, skipped: field \"ts\" is \"2026-02-30T00:00:00Z\": not an RFC 3339 "
          "time (such as \"2026-11-21T06:00:00Z\") or a number",
      p + "5: no event time, skipped: field \"ts\" is \"2026-11-21T06:00:00\": not an RFC 3339 "
          "time (such as \"2026-11-21T06:00:00Z\") or a number",
      p + "6: no event time, skipped: field \"ts\" is an object: expected an RFC 3339 time "
          "string or a number of ms",
      p + "7: no event time, skipped: field \"ts\" is null: expected an RFC 3339 time string "
          "or a number of ms",
      p + "8: no event time, skipped: field \"ts\" is 0 ms: out of range (event times start "
          "after 1970-01-01T00:00:00Z)",
      p + "9: no event time, skipped: field \"ts\" is -5 ms: out of range (event times start "
          "after 1970-01-01T00:00:00Z)",
      p + "10: no event time, skipped: field \"ts\" is missing",
  };
  ASSERT_EQ(err.size(), expected.size() + 3) << r;
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(err[i], expected[i]) << r;
  EXPECT_EQ(err[9].rfind(p + "11: not JSON, skipped: ", 0), 0u) << r;
  EXPECT_EQ(err[10], "sluice: warning: file: " + in.string() + ": skipped 1 line that is not JSON");
  EXPECT_EQ(err[11], "sluice: warning: file: " + in.string() +
                         ": skipped 9 lines without a valid event time (field \"ts\")");
}

TEST(BuiltinFileSource, WarnsAboutTheFirstTenLinesWithoutEventTimeAndCountsTheRest) {
  TempDir tmp;
  std::string text;
  for (int i = 0; i < 12; ++i) text += "{}\n";
  write_file(tmp / "in.jsonl", text);
  RunResult r = sluice({"try", "file", "--kind", "source", "--config",
                        path_config(tmp / "in.jsonl", {{"format", "json"}, {"eventTime", "at"}})});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "");
  std::vector<std::string> err = lines(r.err);
  ASSERT_EQ(err.size(), 12u) << r;
  EXPECT_TRUE(contains(err[9], ":10: no event time, skipped: field \"at\" is missing")) << r;
  EXPECT_TRUE(contains(err[10], "further lines without a valid event time are skipped")) << r;
  EXPECT_TRUE(contains(err[11], ": skipped 12 lines without a valid event time (field \"at\")")) << r;
}

TEST(BuiltinFileSource, ReadsPastItsBufferAndLinesLongerThanIt) {
  TempDir tmp;
  // More than the 1 MiB read buffer in all, and one line of 3 MiB in the middle.
  std::string text;
  const int kShort = 60000;
  for (int i = 0; i < kShort; ++i) text += "line-" + std::to_string(i) + "\n";
  const size_t long_offset = text.size();
  text += std::string(3 << 20, 'x') + "\n";
  const size_t tail_offset = text.size();
  text += "tail\n";
  write_file(tmp / "big.txt", text);
  RunResult r = sluice({"try", "file", "--kind", "source", "--json", "--count", "100000",
                        "--batch", "4096", "--config", path_config(tmp / "big.txt")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> out = json_lines(r.out);
  ASSERT_EQ(out.size(), static_cast<size_t>(kShort) + 2);
  EXPECT_EQ(out[12345].at("value"), "line-12345");
  EXPECT_EQ(out[kShort].at("value").get<std::string>().size(), size_t{3} << 20);
  EXPECT_EQ(out[kShort].at("id"), std::to_string(long_offset));
  EXPECT_EQ(out[kShort + 1], (json{{"id", std::to_string(tail_offset)}, {"value", "tail"}}));
}

TEST(BuiltinFileSource, MissingFileIsAConfigErrorNamingIt) {
  TempDir tmp;
  RunResult r = sluice({"try", "file", "--kind", "source", "--config",
                        path_config(tmp / "nope.txt")});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "create failed (config error): config.path: \"" +
                                  (tmp / "nope.txt").string() + "\" does not exist"))
      << r;
}

TEST(BuiltinFileSource, DirectoryIsAConfigError) {
  TempDir tmp;
  RunResult r = sluice({"try", "file", "--kind", "source", "--config", path_config(tmp.path())});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "config.path: \"" + tmp.path().string() +
                                  "\" is a directory, not a file"))
      << r;
}

TEST(BuiltinFileSource, ChecksTheKeysOfItsKind) {
  TempDir tmp;
  write_file(tmp / "in.txt", "a\n");
  const fs::path in = tmp / "in.txt";
  struct Case {
    std::string config, error;
  };
  for (const Case& c : std::vector<Case>{
           {R"({})", "config.path: required (the file to read)"},
           {path_config(in, {{"append", true}}),
            "config.append: unknown key (known keys: eventTime, eventTimeUnit, follow, format, key, path)"},
           {path_config(in, {{"format", "value"}}),
            "config.format: expected one of lines, json, got \"value\""},
           {path_config(in, {{"key", "id"}}),
            "config.key: only used with format: json (it names a top-level field)"},
           {path_config(in, {{"follow", "yes"}}), "config.follow: expected true or false"},
           {path_config(in, {{"eventTime", "ts"}}),
            "config.eventTime: only used with format: json (it names a top-level field)"},
           {path_config(in, {{"format", "json"}, {"eventTime", ""}}),
            "config.eventTime: must not be empty (the top-level field that gives the event time)"},
           {path_config(in, {{"format", "json"}, {"eventTimeUnit", "s"}}),
            "config.eventTimeUnit: only used with eventTime (the unit of its numbers)"},
           {path_config(in, {{"format", "json"}, {"eventTime", "ts"}, {"eventTimeUnit", "us"}}),
            "config.eventTimeUnit: expected one of ms, s, got \"us\""},
       }) {
    RunResult r = sluice({"try", "file", "--kind", "source", "--config", c.config});
    EXPECT_EQ(r.exit_code, 2) << c.config << r;
    EXPECT_TRUE(contains(r.err, c.error)) << c.config << r;
  }
}

TEST(BuiltinFileSource, FollowWaitsAtTheEndAndHoldsAnUnterminatedLine) {
  TempDir tmp;
  write_file(tmp / "in.txt", "a\nb\npart");
  RunResult r = sluice({"try", "file", "--kind", "source", "--idle-timeout", "0.3", "--config",
                        path_config(tmp / "in.txt", {{"follow", true}})});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "a\nb\n");  // "part" may still be continued
  EXPECT_EQ(r.err, "sluice: file idle for 0.3 s; stopping\n");
}

TEST(BuiltinFileSource, FollowReadsWhatIsAppended) {
  TempDir tmp;
  const fs::path in = tmp / "in.txt";
  write_file(in, "a\npar");
  // Whenever the append lands, before or after the source reaches the end, the source
  // reads the same lines; --count ends the run once it has them all.
  std::thread appender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    write_file(in, "t\nb\n", std::ios::app);
  });
  RunResult r = sluice({"try", "file", "--kind", "source", "--json", "--count", "3",
                        "--idle-timeout", "10", "--config", path_config(in, {{"follow", true}})});
  appender.join();
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(field_of_each(r.out, "value"), (std::vector<json>{"a", "part", "b"})) << r;
  EXPECT_EQ(field_of_each(r.out, "id"), (std::vector<json>{"0", "2", "7"})) << r;
}

// --- stdin source --------------------------------------------------------------------

TEST(BuiltinStdinSource, EmitsTheLinesOfStdinAndEndsAtItsEnd) {
  RunResult r = sluice({"try", "stdin", "--json"}, "one\n\nthree");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(field_of_each(r.out, "value"), (std::vector<json>{"one", "", "three"})) << r;
  EXPECT_EQ(field_of_each(r.out, "id"), (std::vector<json>{"0", "4", "5"})) << r;
  EXPECT_EQ(r.err, "") << r;
}

TEST(BuiltinStdinSource, JsonFormatWithKey) {
  RunResult r = sluice({"try", "stdin", "--json", "--config", R"({"format":"json","key":"user"})"},
                       "{\"user\":\"ann\"}\n   \noops\n{\"user\":1}\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(field_of_each(r.out, "keys"), (std::vector<json>{{"ann"}, {"1"}})) << r;
  EXPECT_TRUE(contains(r.err, "sluice: warning: stdin: stdin:3: not JSON, skipped")) << r;
  EXPECT_TRUE(contains(r.err, "stdin: skipped 1 line that is not JSON")) << r;
}

TEST(BuiltinStdinSource, JsonFormatWithEventTime) {
  RunResult r = sluice({"try", "stdin", "--json", "--config",
                        R"({"format":"json","eventTime":"at","eventTimeUnit":"s"})"},
                       "{\"at\":1795240800}\n{\"at\":true}\n{\"at\":\"2026-11-21T06:00:00.5Z\"}\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(field_of_each(r.out, "event_time"), (std::vector<json>{1795240800000, 1795240800500})) << r;
  EXPECT_TRUE(contains(r.err, "sluice: warning: stdin: stdin:2: no event time, skipped: field \"at\" is "
                              "true: expected an RFC 3339 time string or a number of s"))
      << r;
  EXPECT_TRUE(contains(r.err, "stdin: skipped 1 line without a valid event time (field \"at\")")) << r;
}

TEST(BuiltinStdinSource, EmptyInputEndsAtOnce) {
  RunResult r = sluice({"try", "stdin"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST(BuiltinStdinSource, RejectsKeysOfTheFileSource) {
  RunResult r = sluice({"try", "stdin", "--config", R"({"path":"x"})"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "config.path: unknown key (known keys: eventTime, eventTimeUnit, format, key)")) << r;
}

// --- filter --------------------------------------------------------------------------

const std::vector<std::string> kDocs = {
    R"({"user":{"name":"ann","age":31},"tags":["a","b"],"n":2})",
    R"({"user":{"name":"bob","age":17},"tags":["c"],"n":2.5})",
    R"({"user":{"name":null},"n":"3"})",
    R"([])",
};

std::string joined(const std::vector<std::string>& values) {
  std::string s;
  for (const std::string& v : values) s += v + "\n";
  return s;
}

// Runs the filter over kDocs (or `input`) and returns the input index of each output.
std::vector<json> filter_inputs(const json& where, const std::vector<std::string>& input = kDocs) {
  RunResult r = sluice({"try", "filter", "--json", "--config", json{{"where", where}}.dump()},
                       joined(input));
  EXPECT_EQ(r.exit_code, 0) << where << r;
  return field_of_each(r.out, "input");
}

using Inputs = std::vector<json>;

TEST(BuiltinFilter, RegexSearchesTheWholeValueWhichNeedNotBeJson) {
  EXPECT_EQ(filter_inputs({{"regex", "b.b"}}, {"bob", "alice", "a bxb c", "BOB"}), (Inputs{0, 2}));
  EXPECT_EQ(filter_inputs({{"regex", "^a"}}, {"bob", "alice", "a bxb c"}), (Inputs{1, 2}));
}

TEST(BuiltinFilter, EqualsComparesJsonValues) {
  EXPECT_EQ(filter_inputs({{"field", "user.name"}, {"equals", "ann"}}), (Inputs{0}));
  EXPECT_EQ(filter_inputs({{"field", "user"}, {"equals", {{"age", 31}, {"name", "ann"}}}}),
            (Inputs{0}));
  EXPECT_EQ(filter_inputs({{"field", "user.name"}, {"equals", nullptr}}), (Inputs{2}));
  // Numbers compare by value: 2 equals 2.0; the string "3" is not the number 3.
  EXPECT_EQ(filter_inputs({{"field", "n"}, {"equals", 2.0}}), (Inputs{0}));
  EXPECT_EQ(filter_inputs({{"field", "n"}, {"equals", 3}}), (Inputs{}));
}

TEST(BuiltinFilter, NotEqualsAlsoMatchesAMissingField) {
  EXPECT_EQ(filter_inputs({{"field", "user.name"}, {"notEquals", "ann"}}), (Inputs{1, 2, 3}));
}

TEST(BuiltinFilter, InMatchesAnyListedValue) {
  EXPECT_EQ(filter_inputs({{"field", "user.name"}, {"in", {"bob", nullptr, "zed"}}}),
            (Inputs{1, 2}));
}

TEST(BuiltinFilter, FieldRegexMatchesStringsOnly) {
  EXPECT_EQ(filter_inputs({{"field", "n"}, {"regex", "^[0-9]"}}), (Inputs{2}));
  EXPECT_EQ(filter_inputs({{"field", "user.name"}, {"regex", "n"}}), (Inputs{0}));
}

TEST(BuiltinFilter, ExistsCountsNullAsPresent) {
  EXPECT_EQ(filter_inputs({{"field", "user.age"}, {"exists", true}}), (Inputs{0, 1}));
  EXPECT_EQ(filter_inputs({{"field", "user.age"}, {"exists", false}}), (Inputs{2, 3}));
  EXPECT_EQ(filter_inputs({{"field", "user.name"}, {"exists", true}}), (Inputs{0, 1, 2}));
}

TEST(BuiltinFilter, ComparisonsMatchNumbersOnly) {
  EXPECT_EQ(filter_inputs({{"field", "n"}, {"gt", 2}}), (Inputs{1}));  // not the string "3"
  EXPECT_EQ(filter_inputs({{"field", "n"}, {"ge", 2}}), (Inputs{0, 1}));
  EXPECT_EQ(filter_inputs({{"field", "n"}, {"lt", 2.5}}), (Inputs{0}));
  EXPECT_EQ(filter_inputs({{"field", "n"}, {"le", 2.5}}), (Inputs{0, 1}));
  EXPECT_EQ(filter_inputs({{"field", "user.age"}, {"lt", 18}}), (Inputs{1}));
}

TEST(BuiltinFilter, DigitSegmentsIndexArrays) {
  EXPECT_EQ(filter_inputs({{"field", "tags.1"}, {"equals", "b"}}), (Inputs{0}));
  EXPECT_EQ(filter_inputs({{"field", "tags.0"}, {"exists", true}}), (Inputs{0, 1}));
  EXPECT_EQ(filter_inputs({{"field", "0"}, {"exists", true}}, {"[5]", "[]", R"({"0":1})"}),
            (Inputs{0, 2}));
}

TEST(BuiltinFilter, KeptMessagesAreUnchanged) {
  RunResult r = sluice({"try", "filter", "--config", R"({"where":{"field":"n","ge":2}})"},
                       joined(kDocs));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, kDocs[0] + "\n" + kDocs[1] + "\n");
}

TEST(BuiltinFilter, DropActionDropsTheMatchingMessages) {
  RunResult r = sluice({"try", "filter", "--json", "--config",
                        R"({"where":{"field":"n","ge":2},"action":"drop"})"},
                       joined(kDocs));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(field_of_each(r.out, "input"), (Inputs{2, 3}));
  EXPECT_EQ(r.err, "");  // dropped by emitting nothing, not by the drop tag
}

TEST(BuiltinFilter, TagActionTagsMatchingAndOtherMessages) {
  RunResult r = sluice({"try", "filter", "--json", "--config",
                        R"({"where":{"field":"user.age","ge":18},"action":"tag",
                            "tag":"adult","otherwise":"other"})"},
                       joined(kDocs));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(field_of_each(r.out, "tags"),
            (std::vector<json>{{"adult"}, {"other"}, {"other"}, {"other"}}));
  EXPECT_EQ(field_of_each(r.out, "value")[0], kDocs[0]);

  r = sluice({"try", "filter", "--json", "--config",
              R"({"where":{"regex":"ann"},"action":"tag","tag":"ann"})"},
             joined(kDocs));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(field_of_each(r.out, "tags"), (std::vector<json>{{"ann"}, json(), json(), json()}));
}

TEST(BuiltinFilter, FieldConditionFailsAValueThatIsNotJson) {
  RunResult r = sluice({"try", "filter", "--config", R"({"where":{"field":"n","exists":true}})"},
                       kDocs[0] + "\nnot json\n" + kDocs[1] + "\n");
  EXPECT_EQ(r.exit_code, 1) << r;  // try: a failed message is not a success
  EXPECT_EQ(r.out, kDocs[0] + "\n" + kDocs[1] + "\n");
  std::vector<std::string> err = lines(r.err);
  ASSERT_EQ(err.size(), 2u) << r;
  EXPECT_EQ(err[0].rfind("sluice: message 1: failed: value is not JSON: parse error at line 1, "
                         "column 2: syntax error",
                         0),
            0u)
      << r;
  EXPECT_EQ(err[1], "sluice: 1 failed, 0 to retry");
}

TEST(BuiltinFilter, ConfigMistakesAreNamed) {
  struct Case {
    std::string config, error;
  };
  for (const Case& c : std::vector<Case>{
           {R"({})", "config.where: required (the condition)"},
           {R"({"where":"x"})", "config.where: expected a mapping (the condition), got \"x\""},
           {R"({"where":{"field":"a"}})",
            "config.where: field needs one of equals, notEquals, in, regex, exists, gt, ge, lt, "
            "le"},
           {R"({"where":{"field":"a","equals":1,"in":[1]}})",
            "config.where: give one operator only, not equals and in"},
           {R"({"where":{"field":"a","eqals":1}})", "config.where.eqals: unknown key"},
           {R"({"where":{"equals":1}})", "config.where.equals: needs field"},
           {R"({"where":{}})",
            "config.where: give regex (a pattern to search each value for) or field"},
           {R"({"where":{"regex":"("}})",
            "config.where.regex: not a valid regular expression \"(\""},
           {R"({"where":{"field":"a..b","exists":true}})",
            "config.where.field: \"a..b\" has an empty segment"},
           {R"({"where":{"field":"a","gt":"1"}})", "config.where.gt: expected a number, got \"1\""},
           {R"({"where":{"field":"a","in":1}})", "config.where.in: expected a list of values"},
           {R"({"where":{"field":"a","exists":null}})",
            "config.where.exists: expected true or false"},
           {R"({"where":{"regex":"x"},"action":"copy"})",
            "config.action: expected one of keep, drop, tag, got \"copy\""},
           {R"({"where":{"regex":"x"},"action":"tag"})",
            "config.tag: required (the tag for matching messages)"},
           {R"({"where":{"regex":"x"},"tag":"t"})", "config.tag: only used with action: tag"},
           {R"({"where":{"regex":"x"},"action":"drop","otherwise":"t"})",
            "config.otherwise: only used with action: tag"},
           {R"({"where":{"regex":"x"},"limit":1})", "config.limit: unknown key"},
       }) {
    RunResult r = sluice({"try", "filter", "--config", c.config}, "x\n");
    EXPECT_EQ(r.exit_code, 2) << c.config << r;
    EXPECT_TRUE(contains(r.err, "create failed (config error): " + c.error)) << c.config << r;
  }
}

// --- stdout sink ---------------------------------------------------------------------

TEST(BuiltinStdoutSink, ValueFormatWritesEachValueAsALine) {
  RunResult r = sluice({"try", "stdout"}, "hello\n\nworld\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "hello\n\nworld\n");
  EXPECT_EQ(r.err, "");
}

TEST(BuiltinStdoutSink, JsonFormatDescribesEachMessage) {
  RunResult r = sluice({"try", "stdout", "--config", R"({"format":"json"})"},
                       "plain\nq\"uote\\ \t\x01 \xff\xc3\xa9\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  std::vector<json> out = json_lines(r.out);
  ASSERT_EQ(out.size(), 2u) << r;
  EXPECT_EQ(out[0].at("id"), "0");
  EXPECT_EQ(out[0].at("keys"), json::array());
  EXPECT_EQ(out[0].at("value"), "plain");
  EXPECT_TRUE(out[0].at("event_time").is_number_integer()) << out[0];  // try stamps now
  EXPECT_EQ(out[0].at("headers"), json::object());
  EXPECT_EQ(out[0].at("tags"), json::array());
  // Escapes are decoded back; a byte that is not UTF-8 reads as U+FFFD.
  EXPECT_EQ(out[1].at("value"), "q\"uote\\ \t\x01 \xef\xbf\xbd\xc3\xa9");
}

TEST(BuiltinStdoutSink, RejectsAnUnknownFormat) {
  RunResult r = sluice({"try", "stdout", "--config", R"({"format":"lines"})"}, "x\n");
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "config.format: expected one of value, json, got \"lines\"")) << r;
}

// --- file sink -----------------------------------------------------------------------

RunResult file_sink(const json& config, const std::string& input,
                    const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"try", "file", "--kind", "sink", "--config", config.dump()};
  args.insert(args.end(), extra.begin(), extra.end());
  return sluice(args, input);
}

TEST(BuiltinFileSink, WritesEachValueAsALineAndTruncatesByDefault) {
  TempDir tmp;
  write_file(tmp / "out.txt", "old content\n");
  RunResult r = file_sink({{"path", (tmp / "out.txt").string()}}, "a\n\nc\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_file(tmp / "out.txt"), "a\n\nc\n");
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST(BuiltinFileSink, AppendKeepsWhatIsThere) {
  TempDir tmp;
  write_file(tmp / "out.txt", "old\n");
  RunResult r = file_sink({{"path", (tmp / "out.txt").string()}, {"append", true}}, "new\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_file(tmp / "out.txt"), "old\nnew\n");
}

TEST(BuiltinFileSink, CreatesTheFileAndWritesEveryBatch) {
  TempDir tmp;
  // Small batches, and one batch larger than the 256 KiB write buffer.
  std::string input;
  for (int i = 0; i < 50000; ++i) input += "value-" + std::to_string(i) + "\n";
  RunResult r = file_sink({{"path", (tmp / "new.txt").string()}}, "a\nb\nc\nd\ne\n",
                          {"--batch", "2"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_file(tmp / "new.txt"), "a\nb\nc\nd\ne\n");
  r = file_sink({{"path", (tmp / "big.txt").string()}}, input, {"--batch", "100000"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_file(tmp / "big.txt"), input);
}

TEST(BuiltinFileSink, JsonFormat) {
  TempDir tmp;
  RunResult r = file_sink({{"path", (tmp / "out.jsonl").string()}, {"format", "json"}}, "x\ny\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  std::vector<json> out = json_lines(read_file(tmp / "out.jsonl"));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].at("value"), "y");
  EXPECT_EQ(out[1].at("id"), "1");
}

TEST(BuiltinFileSink, MissingFolderIsAConfigError) {
  TempDir tmp;
  RunResult r = file_sink({{"path", (tmp / "no" / "out.txt").string()}}, "x\n");
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "config.path: the folder \"" + (tmp / "no").string() +
                                  "\" does not exist (the sink creates the file, not its folder)"))
      << r;
  EXPECT_FALSE(fs::exists(tmp / "no"));
}

TEST(BuiltinFileSink, ChecksTheKeysOfItsKind) {
  TempDir tmp;
  const std::string path = (tmp / "out.txt").string();
  struct Case {
    json config;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {json::object(), "config.path: required (the file to write)"},
           {{{"path", ""}}, "config.path: must not be empty"},
           {{{"path", path}, {"follow", true}},
            "config.follow: unknown key (known keys: append, format, path)"},
           {{{"path", path}, {"format", "lines"}},
            "config.format: expected one of value, json, got \"lines\""},
           {{{"path", path}, {"append", 1}}, "config.append: expected true or false, got 1"},
       }) {
    RunResult r = file_sink(c.config, "x\n");
    EXPECT_EQ(r.exit_code, 2) << c.config << r;
    EXPECT_TRUE(contains(r.err, c.error)) << c.config << r;
  }
}

TEST(BuiltinFileSink, WriteErrorFailsTheBatch) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  RunResult r = file_sink({{"path", "/dev/full"}}, "x\n");
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(contains(r.err, "process failed (error): writing \"/dev/full\" failed: "
                              "No space left on device"))
      << r;
}

// --- log sink ------------------------------------------------------------------------

TEST(BuiltinLogSink, LogsEachValueAtInfoLevel) {
  RunResult r = sluice({"try", "log"}, "hello\nq\"uote\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "sluice: info: log: value=\"hello\"\nsluice: info: log: value=\"q\\\"uote\"\n");
  // At a higher log level, nothing.
  r = sluice({"--log-level", "warn", "try", "log"}, "hello\n");
  EXPECT_EQ(r.err, "");
}

TEST(BuiltinLogSink, CutsValuesAtMaxBytesOnACharacterBoundary) {
  // "é" is two bytes: cutting at 2 would split it, so the cut moves back to 1.
  RunResult r = sluice({"try", "log", "--config", R"({"maxBytes":2})"},
                       "h\xc3\xa9llo\nab\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err,
            "sluice: info: log: value=\"h\"... (6 bytes)\nsluice: info: log: value=\"ab\"\n");
  r = sluice({"try", "log", "--config", R"({"maxBytes":0})"}, std::string(1000, 'z') + "\n");
  EXPECT_EQ(r.err, "sluice: info: log: value=\"" + std::string(1000, 'z') + "\"\n");
}

TEST(BuiltinLogSink, LimitsMessagesPerSecondAndCountsTheRest) {
  std::string input;
  for (int i = 0; i < 10; ++i) input += std::to_string(i) + "\n";
  RunResult r = sluice({"try", "log", "--config", R"({"maxPerSecond":3})"}, input);
  ASSERT_EQ(r.exit_code, 0) << r;
  // One batch within one second: 3 logged; the count comes at finish.
  EXPECT_EQ(r.err,
            "sluice: info: log: value=\"0\"\n"
            "sluice: info: log: value=\"1\"\n"
            "sluice: info: log: value=\"2\"\n"
            "sluice: info: log: not logged: 7 messages over the limit of 3 per second\n");
}

TEST(BuiltinLogSink, ConfigMistakesAreNamed) {
  RunResult r = sluice({"try", "log", "--config", R"({"maxBytes":-1})"}, "x\n");
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "config.maxBytes: -1 is out of range")) << r;
  r = sluice({"try", "log", "--config", R"({"max":1})"}, "x\n");
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "config.max: unknown key (known keys: maxBytes, maxPerSecond)")) << r;
}

// --- the list of types ---------------------------------------------------------------

TEST(BuiltinPlugins, ListsEveryTypeWithItsKindsAndAClosedSchema) {
  RunResult r = sluice({"plugins", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  json j = json::parse(r.out);
  std::map<std::string, json> types;
  for (const json& t : j.at("types")) types[t.at("name")] = t;
  struct Expected {
    std::string name;
    json kinds;
    bool thread_safe;
  };
  for (const Expected& e : std::vector<Expected>{{"file", {"source", "sink", "side-input"}, false},
                                                 {"stdin", {"source"}, false},
                                                 {"filter", {"map"}, true},
                                                 {"stdout", {"sink"}, false},
                                                 {"log", {"sink"}, false},
                                                 {"http", {"side-input"}, false},
                                                 {"count", {"reduce"}, false},
                                                 {"sum", {"reduce"}, false},
                                                 {"min", {"reduce"}, false},
                                                 {"max", {"reduce"}, false},
                                                 {"collect", {"reduce"}, false}}) {
    ASSERT_EQ(types.count(e.name), 1u) << e.name << r;
    const json& t = types[e.name];
    EXPECT_EQ(t.at("kinds"), e.kinds) << e.name;
    EXPECT_EQ(t.at("thread_safe"), e.thread_safe) << e.name;
    EXPECT_EQ(t.at("config_schema").at("additionalProperties"), false) << e.name;
    EXPECT_EQ(t.at("config_schema").at("type"), "object") << e.name;
  }
}

// --- in-process: the library driven through its C ABI --------------------------------

}  // namespace
}  // namespace sluice::test

// The calling context of the in-process host: what the plugin handed back.
struct sluice_ctx {
  struct Output {
    size_t input;
    std::string value, id;
    std::vector<std::string> keys, tags;
  };
  std::vector<Output> outputs;
  std::vector<std::pair<size_t, std::string>> failures;
  std::string error;
  std::vector<std::string> logs;  // "<level>: <message>"
};

namespace sluice::test {
namespace {

std::string to_string(sluice_str s) { return {s.data ? s.data : "", s.size}; }

// Logs without a context (none expected from these tests) land here.
std::vector<std::string>& loose_logs() {
  static std::vector<std::string> logs;
  return logs;
}

sluice_status host_emit(sluice_ctx* ctx, size_t input, const sluice_output* out) {
  sluice_ctx::Output o{input,
                       {reinterpret_cast<const char*>(out->value.data), out->value.size},
                       to_string(out->id),
                       {},
                       {}};
  for (size_t i = 0; i < out->key_count; ++i) o.keys.push_back(to_string(out->keys[i]));
  for (size_t i = 0; i < out->tag_count; ++i) o.tags.push_back(to_string(out->tags[i]));
  ctx->outputs.push_back(std::move(o));
  return SLUICE_OK;
}
sluice_status host_respond(sluice_ctx*, size_t, sluice_bytes) { return SLUICE_OK; }
sluice_status host_set_outcome(sluice_ctx* ctx, size_t input, sluice_outcome outcome,
                               const char* reason, size_t size) {
  if (outcome == SLUICE_OUTCOME_FAILED)
    ctx->failures.emplace_back(input, std::string(reason ? reason : "", size));
  return SLUICE_OK;
}
void host_set_error(sluice_ctx* ctx, const char* message, size_t size) {
  ctx->error.assign(message, size);
}
void host_log(sluice_ctx* ctx, sluice_log_level level, const char* message, size_t size) {
  static const char* const kLevels[] = {"debug", "info", "warn", "error"};
  (ctx ? ctx->logs : loose_logs())
      .push_back(std::string(kLevels[level & 3]) + ": " + std::string(message, size));
}

const sluice_host kHost = {sizeof(sluice_host), SLUICE_ABI_VERSION_MAJOR, SLUICE_ABI_VERSION_MINOR,
                           "test",               &host_emit,               &host_respond,
                           &host_set_outcome,    &host_set_error,          &host_log,
                           nullptr};  // side_input: no built-in type reads side inputs here

// The built-in library, loaded once for the test process (and never unloaded).
const sluice_type* builtin_type(const std::string& name) {
  static const sluice_library* library = [] {
    const std::string file = std::string(SLUICE_BUILTIN_DIR) + "/libsluice-builtin.so";
    void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) throw std::runtime_error(::dlerror());
    auto entry =
        reinterpret_cast<sluice_plugin_entry_fn>(::dlsym(handle, SLUICE_PLUGIN_ENTRY_NAME));
    if (entry == nullptr) throw std::runtime_error("no entry symbol in " + file);
    return entry(&kHost);
  }();
  for (size_t i = 0; i < library->type_count; ++i)
    if (library->types[i]->name == name) return library->types[i];
  throw std::runtime_error("no built-in type " + name);
}

struct StageOptions {
  StageOptions(sluice_kind k, std::string c = "{}", std::string dir = "", uint32_t workers = 1,
               uint32_t mode = SLUICE_FLOW_JOB)
      : kind(k), config(std::move(c)), flow_dir(std::move(dir)), worker_count(workers),
        flow_mode(mode) {}
  sluice_kind kind;
  std::string config;
  std::string flow_dir;  // "" as in a flow given on stdin
  uint32_t worker_count;
  uint32_t flow_mode;
};

// Input messages for a map or sink, with keys, headers and tags where given.
struct InputMessage {
  std::string value;
  std::vector<std::string> keys = {};
  std::vector<std::pair<std::string, std::string>> headers = {};
  std::vector<std::string> tags = {};
};

// One instance of a built-in type, destroyed with this object. ctx collects what every
// call produced; tests clear what they have checked.
class Stage {
 public:
  Stage(const std::string& type, const StageOptions& o) : type_(builtin_type(type)) {
    sluice_create_args args{};
    args.struct_size = sizeof(args);
    args.kind = o.kind;
    args.type_name = type_->name;
    args.stage_name = "stage";
    args.config_json = o.config.c_str();
    args.flow_dir = o.flow_dir.c_str();
    args.worker_count = o.worker_count;
    args.flow_mode = o.flow_mode;
    created = type_->create(&ctx, &args, &instance_);
    if (created != SLUICE_OK) instance_ = nullptr;
  }
  ~Stage() {
    if (created == SLUICE_OK) type_->destroy(instance_);
  }
  Stage(const Stage&) = delete;
  Stage& operator=(const Stage&) = delete;

  // A source call for up to `max` messages.
  sluice_status pull(size_t max = 100) {
    sluice_batch b = empty_batch();
    b.max_messages = max;
    b.budget_us = 1000;
    return type_->process(instance_, &ctx, &b);
  }

  sluice_status push(const std::vector<InputMessage>& input) {
    return call_with(input, type_->process);
  }

  sluice_status ack(const std::vector<std::string>& ids) {
    std::vector<InputMessage> input;
    for (const std::string& id : ids) input.push_back({id});
    return call_with(input, type_->ack, /*values_are_ids=*/true);
  }

  sluice_status finish() { return type_->finish(instance_, &ctx); }

  std::vector<std::string> values() const {
    std::vector<std::string> v;
    for (const auto& o : ctx.outputs) v.push_back(o.value);
    return v;
  }
  std::vector<std::string> ids() const {
    std::vector<std::string> v;
    for (const auto& o : ctx.outputs) v.push_back(o.id);
    return v;
  }

  sluice_status created = SLUICE_ERROR;
  sluice_ctx ctx;

 private:
  static sluice_batch empty_batch() {
    sluice_batch b{};
    b.struct_size = sizeof(b);
    b.watermark = b.window_start = b.window_end = SLUICE_TIME_UNSET;
    return b;
  }

  template <class Fn>
  sluice_status call_with(const std::vector<InputMessage>& input, Fn fn,
                          bool values_are_ids = false) {
    // Views into `input`, valid for the call.
    std::vector<std::string> ids;
    std::vector<std::vector<sluice_str>> keys(input.size()), tags(input.size());
    std::vector<std::vector<sluice_header>> headers(input.size());
    std::vector<sluice_message> messages(input.size());
    std::vector<const sluice_message*> pointers;
    for (size_t i = 0; i < input.size(); ++i) ids.push_back("m" + std::to_string(i));
    for (size_t i = 0; i < input.size(); ++i) {
      const InputMessage& in = input[i];
      for (const auto& k : in.keys) keys[i].push_back({k.data(), k.size()});
      for (const auto& t : in.tags) tags[i].push_back({t.data(), t.size()});
      for (const auto& [k, v] : in.headers)
        headers[i].push_back({{k.data(), k.size()}, {v.data(), v.size()}});
      sluice_message& m = messages[i];
      m.struct_size = sizeof(m);
      m.id = values_are_ids ? sluice_str{in.value.data(), in.value.size()}
                            : sluice_str{ids[i].data(), ids[i].size()};
      if (!values_are_ids)
        m.value = {reinterpret_cast<const uint8_t*>(in.value.data()), in.value.size()};
      m.keys = keys[i].data();
      m.key_count = keys[i].size();
      m.headers = headers[i].data();
      m.header_count = headers[i].size();
      m.tags = tags[i].data();
      m.tag_count = tags[i].size();
      m.event_time = 1700000000000 + static_cast<int64_t>(i);
      m.watermark = SLUICE_TIME_UNSET;
      pointers.push_back(&m);
    }
    sluice_batch b = empty_batch();
    b.messages = pointers.data();
    b.count = pointers.size();
    return fn(instance_, &ctx, &b);
  }

  const sluice_type* type_;
  void* instance_ = nullptr;
};

TEST(BuiltinInProcess, FileSourceFollowsByDefaultInAStreamingFlow) {
  TempDir tmp;
  const fs::path in = tmp / "in.txt";
  write_file(in, "a\npar");
  Stage s("file", {SLUICE_KIND_SOURCE, path_config(in), "", 1, SLUICE_FLOW_STREAMING});
  ASSERT_EQ(s.created, SLUICE_OK) << s.ctx.error;
  EXPECT_EQ(s.pull(), SLUICE_OK);
  EXPECT_EQ(s.values(), std::vector<std::string>{"a"});
  EXPECT_EQ(s.pull(), SLUICE_IDLE);  // "par" waits for its '\n'
  write_file(in, "t\nb\nc", std::ios::app);
  s.ctx.outputs.clear();
  EXPECT_EQ(s.pull(), SLUICE_OK);
  EXPECT_EQ(s.values(), (std::vector<std::string>{"part", "b"}));
  EXPECT_EQ(s.ids(), (std::vector<std::string>{"2", "7"}));
  EXPECT_EQ(s.pull(), SLUICE_IDLE);
  // follow: false overrides the streaming default.
  Stage job("file", {SLUICE_KIND_SOURCE, path_config(in, {{"follow", false}}), "", 1,
                     SLUICE_FLOW_STREAMING});
  EXPECT_EQ(job.pull(), SLUICE_END);
  EXPECT_EQ(job.values(), (std::vector<std::string>{"a", "part", "b", "c"}));
}

TEST(BuiltinInProcess, FileSourceEndsAtTheEndInAJobAndKeepsToMaxMessages) {
  TempDir tmp;
  write_file(tmp / "in.txt", "1\n2\n3\n4\n5");
  Stage s("file", {SLUICE_KIND_SOURCE, path_config(tmp / "in.txt")});
  ASSERT_EQ(s.created, SLUICE_OK) << s.ctx.error;
  EXPECT_EQ(s.pull(2), SLUICE_OK);
  EXPECT_EQ(s.pull(2), SLUICE_OK);
  EXPECT_EQ(s.values().size(), 4u);
  EXPECT_EQ(s.pull(2), SLUICE_END);  // the unterminated "5", then the end
  EXPECT_EQ(s.values(), (std::vector<std::string>{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(s.pull(2), SLUICE_END);  // and it stays ended
  EXPECT_EQ(s.values().size(), 5u);
}

TEST(BuiltinInProcess, FileSourceCountsAcksAndLogsThemAtFinish) {
  TempDir tmp;
  write_file(tmp / "in.txt", "a\nb\n");
  Stage s("file", {SLUICE_KIND_SOURCE, path_config(tmp / "in.txt")});
  ASSERT_EQ(s.created, SLUICE_OK) << s.ctx.error;
  EXPECT_EQ(s.pull(), SLUICE_END);
  EXPECT_EQ(s.ack(s.ids()), SLUICE_OK);
  EXPECT_EQ(s.finish(), SLUICE_OK);
  EXPECT_EQ(s.ctx.logs, std::vector<std::string>{"debug: " + (tmp / "in.txt").string() +
                                                 ": emitted 2 messages, 2 acknowledged"});
}

TEST(BuiltinInProcess, RelativePathsAreRelativeToTheFlowDir) {
  TempDir tmp;
  write_file(tmp / "in.txt", "x\n");
  Stage source("file", {SLUICE_KIND_SOURCE, R"({"path":"in.txt"})", tmp.path().string()});
  ASSERT_EQ(source.created, SLUICE_OK) << source.ctx.error;
  EXPECT_EQ(source.pull(), SLUICE_END);
  EXPECT_EQ(source.values(), std::vector<std::string>{"x"});

  fs::create_directory(tmp / "sub");
  {
    Stage sink("file", {SLUICE_KIND_SINK, R"({"path":"sub/out.txt"})", tmp.path().string()});
    ASSERT_EQ(sink.created, SLUICE_OK) << sink.ctx.error;
    EXPECT_EQ(sink.push({{"y"}}), SLUICE_OK);
  }
  EXPECT_EQ(read_file(tmp / "sub" / "out.txt"), "y\n");

  Stage missing("file", {SLUICE_KIND_SOURCE, R"({"path":"nope.txt"})", tmp.path().string()});
  EXPECT_EQ(missing.created, SLUICE_ERROR_CONFIG);
  EXPECT_EQ(missing.ctx.error,
            "config.path: \"" + (tmp / "nope.txt").string() + "\" does not exist");
}

TEST(BuiltinInProcess, StagesBoundToOneFileOrStreamTakeOneWorker) {
  TempDir tmp;
  write_file(tmp / "in.txt", "x\n");
  Stage sink("file", {SLUICE_KIND_SINK, path_config(tmp / "out.txt"), "", 2});
  EXPECT_EQ(sink.created, SLUICE_ERROR_CONFIG);
  EXPECT_EQ(sink.ctx.error,
            "threads: 2 is not supported by file (every worker would write the same file over "
            "the others); use threads: 1");
  EXPECT_FALSE(fs::exists(tmp / "out.txt"));  // refused before opening anything

  Stage source("file", {SLUICE_KIND_SOURCE, path_config(tmp / "in.txt"), "", 3});
  EXPECT_EQ(source.created, SLUICE_ERROR_CONFIG);
  EXPECT_TRUE(contains(source.ctx.error, "threads: 3 is not supported by file"))
      << source.ctx.error;

  Stage in("stdin", {SLUICE_KIND_SOURCE, "{}", "", 2});
  EXPECT_EQ(in.created, SLUICE_ERROR_CONFIG);
  EXPECT_TRUE(contains(in.ctx.error, "use threads: 1")) << in.ctx.error;

  // stdout writes each batch whole, so several workers are fine there.
  Stage out("stdout", {SLUICE_KIND_SINK, "{}", "", 2});
  EXPECT_EQ(out.created, SLUICE_OK) << out.ctx.error;
}

// Cuts the file size limit for this process (so a write stops part way, as on a full
// disk) and restores it when destroyed. SIGXFSZ is ignored meanwhile, so the write
// fails with EFBIG instead of killing the process.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    ok_ = ::setrlimit(RLIMIT_FSIZE, &limit) == 0;
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, old_handler_);
  }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
  void (*old_handler_)(int) = nullptr;
};

TEST(BuiltinInProcess, FileSinkRemovesAPartlyWrittenBatch) {
  TempDir tmp;
  const fs::path out = tmp / "out.txt";
  Stage s("file", {SLUICE_KIND_SINK, path_config(out)});
  ASSERT_EQ(s.created, SLUICE_OK) << s.ctx.error;
  std::vector<InputMessage> small(10, {"0123456789"});  // 110 bytes
  std::vector<InputMessage> large(100, {"abcdefghij"});  // 1100 bytes
  {
    FileSizeLimit limit(1000);
    if (!limit.ok()) GTEST_SKIP() << "cannot lower RLIMIT_FSIZE";
    EXPECT_EQ(s.push(small), SLUICE_OK);
    // The limit lets 890 bytes of this batch in, then the write fails.
    EXPECT_EQ(s.push(large), SLUICE_ERROR);
  }
  EXPECT_EQ(s.ctx.error, "writing \"" + out.string() + "\" failed: File too large");
  std::string batch;
  for (const auto& m : small) batch += m.value + "\n";
  EXPECT_EQ(read_file(out), batch);  // nothing of the failed batch is left
  // A retry goes right after the last complete batch, with no hole before it.
  EXPECT_EQ(s.push(small), SLUICE_OK);
  EXPECT_EQ(s.finish(), SLUICE_OK);
  EXPECT_EQ(read_file(out), batch + batch);
}

TEST(BuiltinInProcess, FileSinkJsonShowsKeysHeadersAndTags) {
  TempDir tmp;
  {
    Stage s("file", {SLUICE_KIND_SINK, path_config(tmp / "out.jsonl", {{"format", "json"}})});
    ASSERT_EQ(s.created, SLUICE_OK) << s.ctx.error;
    EXPECT_EQ(s.push({{"v", {"k1", "k2"}, {{"h", "1"}, {"other", "x"}, {"h", "2"}}, {"t"}}}),
              SLUICE_OK);
    EXPECT_EQ(s.finish(), SLUICE_OK);
  }
  // A repeated header keeps its last value, as header inheritance does.
  EXPECT_EQ(read_file(tmp / "out.jsonl"),
            R"({"id":"m0","keys":["k1","k2"],"value":"v","event_time":1700000000000,)"
            R"("headers":{"other":"x","h":"2"},"tags":["t"]})"
            "\n");
}

TEST(BuiltinInProcess, LogSinkShowsTheKeys) {
  Stage s("log", {SLUICE_KIND_SINK});
  ASSERT_EQ(s.created, SLUICE_OK) << s.ctx.error;
  EXPECT_EQ(s.push({{"v", {"k1", "k\"2"}}, {"w"}}), SLUICE_OK);
  EXPECT_EQ(s.ctx.logs, (std::vector<std::string>{R"(info: keys=["k1","k\"2"] value="v")",
                                                  R"(info: value="w")"}));
}

TEST(BuiltinInProcess, FilterFailsOnlyTheMessageThatIsNotJson) {
  Stage s("filter", {SLUICE_KIND_MAP, R"({"where":{"field":"a","equals":1}})"});
  ASSERT_EQ(s.created, SLUICE_OK) << s.ctx.error;
  EXPECT_EQ(s.push({{R"({"a":1})", {"key"}}, {"{"}, {R"({"a":2})"}}), SLUICE_OK);
  ASSERT_EQ(s.ctx.outputs.size(), 1u);
  EXPECT_EQ(s.ctx.outputs[0].input, 0u);
  EXPECT_TRUE(s.ctx.outputs[0].keys.empty());  // inherited from the input, not re-sent
  ASSERT_EQ(s.ctx.failures.size(), 1u);
  EXPECT_EQ(s.ctx.failures[0].first, 1u);
  EXPECT_EQ(s.ctx.failures[0].second.rfind("value is not JSON: ", 0), 0u)
      << s.ctx.failures[0].second;
}

}  // namespace
}  // namespace sluice::test
