// The built-in reducers sum, min, max and collect end to end through the `sluice`
// binary: the fixtures' ack source with chosen keys, event times and values
// ("key@ms=value"), real file sinks, exact result lines. Fixed, sliding and session
// windows (merges), integers against doubles, invalid values (fail and skip), JSON
// fields and pointers, collect's caps, config errors, and a stop that discards windows.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "run_process.h"
#include "test_folder.h"

namespace sluice::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;


// "1970-01-01T00:00:04.000Z" for 4000 (and for negative times, before the epoch).
std::string rfc3339(int64_t ms) {
  const int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms - secs * 1000));
  return buf;
}

// One result line: the window's keys and bounds, then `fields` (JSON text, no braces).
std::string result(const std::string& key, int64_t start, int64_t end, const std::string& fields) {
  return R"({"keys":[")" + key + R"("],"start":")" + rfc3339(start) + R"(","end":")" + rfc3339(end) + "\"," +
         fields + "}";
}

struct Event {
  std::string key;
  int64_t ms;
  std::string value;
};

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

class ReducersTest : public FolderTest {
 protected:
  ReducersTest() : FolderTest("sluice-reducers") {}

  RunOptions options() const {
    RunOptions opts;
    opts.env["SLUICE_PLUGIN_PATH"] = std::nullopt;
    opts.timeout = 90s;
    return opts;
  }
  // The ack source's config for these events: each "key@ms=value", JSON-quoted (a valid
  // YAML double-quoted scalar, so values may hold any character).
  std::string source_config(const std::vector<Event>& events, const std::string& extra = "") const {
    std::string s = "{events: [";
    for (size_t i = 0; i < events.size(); ++i)
      s += (i ? ", " : "") + json(events[i].key + "@" + std::to_string(events[i].ms) + "=" + events[i].value).dump();
    return s + "], ack_log: " + at("acks.txt").string() + extra + "}";
  }
  // A job: the events, one per batch (so a reducer sees a session's messages before a
// later message merges it; all windows close at the end of input: maxDelay 1m), then one
  // reduce stage per entry of `reduces` ("name: ..., reduce: ..., ..." without braces),
  // each into its own file <name>.txt.
  RunResult run_job(const std::vector<Event>& events, const std::vector<std::pair<std::string, std::string>>& reduces) {
    std::string yaml = "plugins: [" + std::string(SLUICE_FIXTURE_DIR) + "]\nname: reducers\nmode: job\nstages:\n";
    yaml += "  - name: in\n    source: test-ack-source\n    batch: 1\n    config: " + source_config(events) +
            "\n    watermark: {maxDelay: 1m}\n";
    std::string edges = "edges:\n";
    for (const auto& [name, spec] : reduces) {
      yaml += "  - {name: " + name + ", " + spec + "}\n";
      yaml += "  - {name: " + name + "-out, sink: file, config: {path: " + name + ".txt}}\n";
      edges += "  - {from: in, to: " + name + "}\n  - {from: " + name + ", to: " + name + "-out}\n";
    }
    write("flow.yaml", yaml + edges);
    return run_process(SLUICE_BIN, {"run", at("flow.yaml").string(), "--no-summary"}, options());
  }
};

// sum of plain numbers per key and fixed window; a message at a window's end is in the
// next window.
TEST_F(ReducersTest, SumOfPlainNumbersPerKeyAndFixedWindow) {
  RunResult r = run_job({{"a", 1000, "3"}, {"a", 2000, "4"}, {"b", 1500, " 10 "}, {"a", 4000, "-2"}, {"b", 3999, "0"}},
                        {{"sums", "reduce: sum, window: {fixed: 4s}"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(sorted(lines("sums.txt")),
            sorted({result("a", 0, 4000, R"("sum":7)"), result("b", 0, 4000, R"("sum":10)"),
                    result("a", 4000, 8000, R"("sum":-2)")}));
  EXPECT_EQ(sorted(lines("acks.txt")), (std::vector<std::string>{"id-0", "id-1", "id-2", "id-3", "id-4"}));
}

// Integers stay integers; one double makes the sum a double (written so it reads back as
// one: "3.5", "1.0", "100.0"); an int64 overflow too.
TEST_F(ReducersTest, SumIntegersStayIntegersDoublesAndOverflowMakeDoubles) {
  RunResult r = run_job({{"ints", 1000, "1"},
                         {"ints", 1001, "2"},
                         {"ints", 1002, "-9000000000"},
                         {"mixed", 1000, "1"},
                         {"mixed", 1001, "2.5"},
                         {"halves", 1000, "0.5"},
                         {"halves", 1001, "0.5"},
                         {"exp", 1000, "1e2"},
                         {"big", 1000, "9223372036854775807"},
                         {"big", 1001, "1"},
                         {"huge", 1000, "18446744073709551615"}},
                        {{"sums", "reduce: sum, window: {fixed: 10s}"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(sorted(lines("sums.txt")),
            sorted({result("ints", 0, 10000, R"("sum":-8999999997)"), result("mixed", 0, 10000, R"("sum":3.5)"),
                    result("halves", 0, 10000, R"("sum":1.0)"), result("exp", 0, 10000, R"("sum":100.0)"),
                    result("big", 0, 10000, R"("sum":9223372036854775808.0)"),
                    result("huge", 0, 10000, R"("sum":18446744073709551616.0)")}));
  for (const std::string& l : lines("sums.txt")) EXPECT_TRUE(json::accept(l)) << l;
}

// field: a top-level field of a JSON object, or a JSON pointer into nested values.
TEST_F(ReducersTest, SumOfAJsonFieldOrPointer) {
  RunResult r = run_job({{"a", 1000, R"({"n": 2, "other": "x"})"},
                         {"a", 2000, R"({"n": 3.25, "m": {"k": [10, 20]}})"},
                         {"a", 3000, R"({"n": -1, "m": {"k": [1, 5]}})"}},
                        {{"by-field", "reduce: sum, window: {fixed: 10s}, config: {field: n}"},
                         {"by-pointer", "reduce: sum, window: {fixed: 10s}, config: {field: /m/k/1, onInvalid: skip}"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(lines("by-field.txt"), (std::vector<std::string>{result("a", 0, 10000, R"("sum":4.25)")}));
  EXPECT_EQ(lines("by-pointer.txt"), (std::vector<std::string>{result("a", 0, 10000, R"("sum":25,"skipped":1)")}));
  EXPECT_TRUE(contains(r.err, R"(sum: keys ["a"], window [1970-01-01T00:00:00.000Z, 1970-01-01T00:00:10.000Z): )"
                              R"(message id-0: no value at "/m/k/1": value "{\"n\": 2, \"other\": \"x\"}"; skipped)"))
      << r;
}

// By default a value without a number fails the flow with an error naming the reducer,
// the window, the message and the value; onInvalid: skip skips it with a warning (the
// first 10 per worker) and counts it in the result's "skipped".
TEST_F(ReducersTest, InvalidValuesFailTheFlowOrAreSkippedAndCounted) {
  RunResult failed = run_job({{"a", 1000, "3"}, {"a", 2000, "three"}}, {{"sums", "reduce: sum, window: {fixed: 4s}"}});
  EXPECT_EQ(failed.exit_code, 1) << failed;
  EXPECT_TRUE(contains(failed.err, R"(sum: keys ["a"], window [1970-01-01T00:00:00.000Z, 1970-01-01T00:00:04.000Z): )"
                                   R"(message id-1: the value is not a number: value "three" )"
                                   "(onInvalid: skip would skip such messages)"))
      << failed;
  EXPECT_EQ(read("sums.txt"), "");
  EXPECT_EQ(read("acks.txt"), "");

  std::vector<Event> events;
  for (int i = 0; i < 12; ++i) events.push_back({"a", 1000 + i, "x" + std::to_string(i)});
  events.push_back({"a", 2000, R"({"n": 5})"});
  events.push_back({"a", 2001, R"({"n": "5"})"});
  events.push_back({"a", 2002, R"({"n": null})"});
  events.push_back({"a", 2003, R"([1, 2])"});
  events.push_back({"a", 2004, R"({"n": 7})"});
  events.push_back({"b", 2005, R"({"m": 7})"});  // b: every value skipped, the sum is 0
  RunResult skipped = run_job(events, {{"sums", "reduce: sum, window: {fixed: 4s}, config: {field: n, onInvalid: skip}"}});
  ASSERT_EQ(skipped.exit_code, 0) << skipped;
  EXPECT_EQ(sorted(lines("sums.txt")), sorted({result("a", 0, 4000, R"("sum":12,"skipped":15)"),
                                               result("b", 0, 4000, R"("sum":0,"skipped":1)")}));
  EXPECT_TRUE(contains(skipped.err, R"(message id-0: the value is not JSON: value "x0"; skipped)")) << skipped;
  EXPECT_TRUE(contains(skipped.err, R"(message id-9: the value is not JSON: value "x9" (further invalid values are )"
                                    R"(not logged; the results' "skipped" counts them); skipped)"))
      << skipped;
  EXPECT_FALSE(contains(skipped.err, "message id-10:")) << skipped;
}

// The field's type and a missing field are named in the error.
TEST_F(ReducersTest, InvalidFieldErrorsNameTheField) {
  RunResult r = run_job({{"a", 1000, R"({"n": "5"})"}}, {{"m", "reduce: max, window: {fixed: 4s}, config: {field: n}"}});
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.err, R"(max: keys ["a"], window [1970-01-01T00:00:00.000Z, 1970-01-01T00:00:04.000Z): )"
                              R"(message id-0: the field "n" is a string, not a number: value "{\"n\": \"5\"}")"))
      << r;
  r = run_job({{"a", 1000, R"({"m": 5})"}}, {{"m", "reduce: min, window: {fixed: 4s}, config: {field: n}"}});
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.err, R"(message id-0: no field "n": value "{\"m\": 5}")")) << r;
}

// min and max compare integers and doubles exactly and keep the winner as it came; a
// window whose values were all skipped has null.
TEST_F(ReducersTest, MinAndMaxKeepTheWinningValueAndNullWhenAllWereSkipped) {
  const std::vector<Event> events = {{"a", 1000, "5"},   {"a", 1001, "-3"},  {"a", 1002, "2.5"}, {"a", 1003, "7"},
                                     {"a", 1004, "-3.0"}, {"b", 1000, "1.5"}, {"b", 1001, "1"},  {"c", 1000, "?"},
                                     {"c", 1001, "!"},    {"d", 1000, "9007199254740993"}, {"d", 1001, "9007199254740992.0"}};
  RunResult r = run_job(events, {{"mins", "reduce: min, window: {fixed: 4s}, config: {onInvalid: skip}"},
                                 {"maxs", "reduce: max, window: {fixed: 4s}, config: {onInvalid: skip}"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(sorted(lines("mins.txt")),
            sorted({result("a", 0, 4000, R"("min":-3,"skipped":0)"), result("b", 0, 4000, R"("min":1,"skipped":0)"),
                    result("c", 0, 4000, R"("min":null,"skipped":2)"),
                    result("d", 0, 4000, R"("min":9007199254740992.0,"skipped":0)")}));
  EXPECT_EQ(sorted(lines("maxs.txt")),
            sorted({result("a", 0, 4000, R"("max":7,"skipped":0)"), result("b", 0, 4000, R"("max":1.5,"skipped":0)"),
                    result("c", 0, 4000, R"("max":null,"skipped":2)"),
                    result("d", 0, 4000, R"("max":9007199254740993,"skipped":0)")}));
}

// collect: each value as JSON when it is JSON (compacted when it spans lines), else as
// a string; format: string keeps every value a string.
TEST_F(ReducersTest, CollectGathersValuesAsJsonOrStrings) {
  const std::vector<Event> events = {{"a", 1000, "1"},
                                     {"a", 1001, R"({"x": [1, true]})"},
                                     {"a", 1002, "hello world"},
                                     {"a", 1003, R"("quoted")"},
                                     {"a", 1004, "{\n  \"multi\": \"line\"\n}"},
                                     {"a", 1005, "{broken"}};
  RunResult r = run_job(events, {{"auto", "reduce: collect, window: {fixed: 4s}"},
                                 {"strings", "reduce: collect, window: {fixed: 4s}, config: {format: string}"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(lines("auto.txt"),
            (std::vector<std::string>{result(
                "a", 0, 4000,
                R"("values":[1,{"x": [1, true]},"hello world","quoted",{"multi":"line"},"{broken"],"count":6,"truncated":false)")}));
  EXPECT_EQ(lines("strings.txt"),
            (std::vector<std::string>{result(
                "a", 0, 4000,
                R"("values":["1","{\"x\": [1, true]}","hello world","\"quoted\"","{\n  \"multi\": \"line\"\n}","{broken"],)"
                R"("count":6,"truncated":false)")}));
}

// The caps: maxItems and maxBytes stop adding (the values stay a prefix) and set
// truncated; count is still every message of the window.
TEST_F(ReducersTest, CollectStopsAtItsCapsAndSaysTruncated) {
  const std::vector<Event> events = {{"a", 1000, "aaaa"}, {"a", 1001, "bbbb"}, {"a", 1002, "c"},
                                     {"b", 1000, "1"},    {"b", 1001, "2"}};
  RunResult r = run_job(events, {{"items", "reduce: collect, window: {fixed: 4s}, config: {maxItems: 2}"},
                                 {"bytes", "reduce: collect, window: {fixed: 4s}, config: {maxBytes: 10}"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(sorted(lines("items.txt")),
            sorted({result("a", 0, 4000, R"("values":["aaaa","bbbb"],"count":3,"truncated":true)"),
                    result("b", 0, 4000, R"("values":[1,2],"count":2,"truncated":false)")}));
  // "aaaa" is 6 bytes of JSON; "bbbb" would make 12 > 10: not added, nor is "c" after it.
  EXPECT_EQ(sorted(lines("bytes.txt")),
            sorted({result("a", 0, 4000, R"("values":["aaaa"],"count":3,"truncated":true)"),
                    result("b", 0, 4000, R"("values":[1,2],"count":2,"truncated":false)")}));
}

// Sessions: a message that bridges two sessions of a key merges them; every reducer
// folds the merged window's state into the survivor.
TEST_F(ReducersTest, SessionMergesFoldTheStateOfEveryReducer) {
  const std::vector<Event> events = {{"a", 1000, "1"}, {"a", 5000, "10"}, {"a", 6000, "20"},
                                     {"b", 1000, "4"}, {"b", 4000, "8"},  {"a", 3500, "100"}};
  RunResult r = run_job(events, {{"sum", "reduce: sum, window: {session: {gap: 3s}}"},
                                 {"min", "reduce: min, window: {session: {gap: 3s}}"},
                                 {"max", "reduce: max, window: {session: {gap: 3s}}"},
                                 {"collect", "reduce: collect, window: {session: {gap: 3s}}"},
                                 {"capped", "reduce: collect, window: {session: {gap: 3s}}, config: {maxItems: 2}"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  // a: [1000,4000) and [5000,9000) merge through 3500 into [1000,9000).
  // b: 1000 and 4000 are exactly 3 s apart: [1000,4000) and [4000,7000).
  EXPECT_EQ(sorted(lines("sum.txt")), sorted({result("a", 1000, 9000, R"("sum":131)"),
                                              result("b", 1000, 4000, R"("sum":4)"),
                                              result("b", 4000, 7000, R"("sum":8)")}));
  EXPECT_EQ(sorted(lines("min.txt")), sorted({result("a", 1000, 9000, R"("min":1)"),
                                              result("b", 1000, 4000, R"("min":4)"),
                                              result("b", 4000, 7000, R"("min":8)")}));
  EXPECT_EQ(sorted(lines("max.txt")), sorted({result("a", 1000, 9000, R"("max":100)"),
                                              result("b", 1000, 4000, R"("max":4)"),
                                              result("b", 4000, 7000, R"("max":8)")}));
  // collect: every value once (the order across a merge follows the sessions' starts
  // and the delivery of their messages; see docs/builtin-plugins.md).
  json merged;
  for (const std::string& l : lines("collect.txt")) {
    const json j = json::parse(l);
    if (j["keys"][0] == "a") merged = j;
    else EXPECT_TRUE(l == result("b", 1000, 4000, R"("values":[4],"count":1,"truncated":false)") ||
                     l == result("b", 4000, 7000, R"("values":[8],"count":1,"truncated":false)")) << l;
  }
  ASSERT_TRUE(merged.is_object()) << read("collect.txt");
  EXPECT_EQ(merged["start"], rfc3339(1000));
  EXPECT_EQ(merged["end"], rfc3339(9000));
  EXPECT_EQ(merged["count"], 4);
  EXPECT_EQ(merged["truncated"], false);
  std::vector<int> values = merged["values"].get<std::vector<int>>();
  ASSERT_EQ(values.size(), 4u) << merged;
  EXPECT_EQ(values[0], 1) << "the earlier session's values first: " << merged;
  EXPECT_LT(std::find(values.begin(), values.end(), 10), std::find(values.begin(), values.end(), 20)) << merged;
  std::sort(values.begin(), values.end());
  EXPECT_EQ(values, (std::vector<int>{1, 10, 20, 100}));
  // Capped at 2 across the merge: 2 values kept, all 4 counted.
  for (const std::string& l : lines("capped.txt")) {
    const json j = json::parse(l);
    if (j["keys"][0] != "a") continue;
    EXPECT_EQ(j["values"].size(), 2u) << l;
    EXPECT_EQ(j["count"], 4) << l;
    EXPECT_EQ(j["truncated"], true) << l;
  }
  EXPECT_EQ(lines("capped.txt").size(), 3u);
}

// Sliding windows: a message is in length/slide windows, each with its own state.
TEST_F(ReducersTest, SlidingWindowsEachKeepTheirOwnState) {
  const std::vector<Event> events = {{"a", 1000, "1"}, {"a", 3000, "2"}, {"a", 5000, "4"}};
  RunResult r = run_job(events, {{"sum", "reduce: sum, window: {sliding: {length: 4s, slide: 2s}}"},
                                 {"max", "reduce: max, window: {sliding: {length: 4s, slide: 2s}}"},
                                 {"collect", "reduce: collect, window: {sliding: {length: 4s, slide: 2s}}"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  // Windows [-2,2): 1   [0,4): 1 2   [2,6): 2 4   [4,8): 4
  EXPECT_EQ(sorted(lines("sum.txt")),
            sorted({result("a", -2000, 2000, R"("sum":1)"), result("a", 0, 4000, R"("sum":3)"),
                    result("a", 2000, 6000, R"("sum":6)"), result("a", 4000, 8000, R"("sum":4)")}));
  EXPECT_EQ(sorted(lines("max.txt")),
            sorted({result("a", -2000, 2000, R"("max":1)"), result("a", 0, 4000, R"("max":2)"),
                    result("a", 2000, 6000, R"("max":4)"), result("a", 4000, 8000, R"("max":4)")}));
  EXPECT_EQ(sorted(lines("collect.txt")),
            sorted({result("a", -2000, 2000, R"("values":[1],"count":1,"truncated":false)"),
                    result("a", 0, 4000, R"("values":[1,2],"count":2,"truncated":false)"),
                    result("a", 2000, 6000, R"("values":[2,4],"count":2,"truncated":false)"),
                    result("a", 4000, 8000, R"("values":[4],"count":1,"truncated":false)")}));
}

// Config mistakes stop the flow before it starts (exit code 2) and name the key.
TEST_F(ReducersTest, ConfigErrorsNameTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // The host checks the config against the type's schema first ...
      {"reduce: sum, window: {fixed: 4s}, config: {feild: n}",
       R"(stage "r" config.feild: unknown key "feild" (known keys: field, onInvalid))"},
      {"reduce: min, window: {fixed: 4s}, config: {onInvalid: ignore}",
       R"(config.onInvalid: "ignore" is not one of: "fail", "skip")"},
      {"reduce: collect, window: {fixed: 4s}, config: {maxItems: 0}", "config.maxItems: 0 is less than the minimum 1"},
      {"reduce: collect, window: {fixed: 4s}, config: {format: json}",
       R"(config.format: "json" is not one of: "auto", "string")"},
      // ... and the reducer what a schema cannot say.
      {"reduce: max, window: {fixed: 4s}, config: {field: \"/a~2\"}", R"(config.field: "/a~2" is not a JSON pointer)"},
  };
  for (const auto& [spec, error] : cases) {
    RunResult r = run_job({{"a", 1000, "1"}}, {{"r", spec}});
    EXPECT_EQ(r.exit_code, 2) << spec << r;
    EXPECT_TRUE(contains(r.err, error)) << spec << r;
  }
}

// A stop of a streaming flow discards the open windows: no result, no error.
TEST_F(ReducersTest, AStopDiscardsOpenWindowsWithoutResults) {
  std::string yaml = "plugins: [" + std::string(SLUICE_FIXTURE_DIR) + "]\nname: discard\nstages:\n";
  yaml += "  - name: in\n    source: test-ack-source\n    config: " +
          source_config({{"a", 1000, "1"}, {"a", 6000, "2"}, {"b", 1000, R"({"v":1})"}}, ", hold: true") +
          "\n    watermark: {maxDelay: 1h}\n";
  std::string edges = "edges:\n";
  for (const std::string type : {"sum", "min", "max", "collect"}) {
    yaml += "  - {name: " + type + ", reduce: " + type + ", window: {session: {gap: 10s}}" +
            (type == "collect" ? "" : ", config: {onInvalid: skip}") + "}\n";
    yaml += "  - {name: " + type + "-out, sink: file, config: {path: " + type + ".txt}}\n";
    edges += "  - {from: in, to: " + type + "}\n  - {from: " + type + ", to: " + type + "-out}\n";
  }
  write("flow.yaml", yaml + edges);
  ChildProcess proc(SLUICE_BIN, {"run", at("flow.yaml").string(), "--no-summary"}, options());
  std::this_thread::sleep_for(1000ms);
  proc.signal(SIGTERM);
  RunResult r = proc.wait();
  EXPECT_EQ(r.exit_code, 4) << r;  // stopped with source messages not acknowledged
  for (const std::string type : {"sum", "min", "max", "collect"}) EXPECT_EQ(read(type + ".txt"), "") << type;
}

}  // namespace
}  // namespace sluice::test
