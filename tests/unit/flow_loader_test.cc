// The flow loader: YAML text (and files) in, a checked sluice::flow::Flow out, with every
// mistake reported in one pass at file:line:column or at the --set that caused it.
#include "sluice/host/flow_loader.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "sluice/host/flow_values.h"

namespace sluice::host {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Loaded {
  std::optional<LoadedFlow> flow;
  Diagnostics diagnostics;

  const Diagnostic& error(size_t i) const { return diagnostics.items().at(i); }
};

FlowLoadOptions with_env(std::map<std::string, std::string> vars) {
  FlowLoadOptions options;
  auto env = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  options.getenv = [env](const char* name) -> const char* {
    const auto it = env->find(name);
    return it == env->end() ? nullptr : it->second.c_str();
  };
  return options;
}

FlowLoadOptions with_overrides(std::vector<std::string> overrides) {
  FlowLoadOptions options = with_env({});
  options.overrides = std::move(overrides);
  return options;
}

Loaded load(std::string_view yaml, const FlowLoadOptions& options = with_env({})) {
  Loaded result;
  result.flow = load_flow_text(yaml, "flow.yaml", "/flows", options, &result.diagnostics);
  // A result and errors never come together.
  EXPECT_EQ(result.flow.has_value(), result.diagnostics.empty()) << result.diagnostics.format();
  return result;
}

// A minimal valid flow with `extra` lines appended to its only source stage.
std::string source_stage_with(const std::string& extra) {
  return "stages:\n  - name: in\n    source: gen\n" + extra + "  - name: out\n    sink: stdout\n";
}

json config_of(const Loaded& loaded, int stage = 0) {
  return json::parse(loaded.flow->spec.stages(stage).config().json());
}

// ---- a complete flow --------------------------------------------------------------

constexpr const char* kFullFlow = R"yaml(name: orders
mode: job
plugins: [./plugins, /opt/sluice/plugins]
gracePeriod: 45s
defaults:
  batch: 128
  linger: 5ms
  capacity: 1024
  onError:
    then: drop
stages:
  - name: in
    source: file
    config:
      path: /data/in.jsonl
      count: 10
    threads: 2
    batch: 64
    linger: 250ms
    ordered: true
  - name: parse
    map: json-parse
    onError:
      retry:
        attempts: 3
        initialInterval: 100ms
        factor: 1.5
        cap: 10s
      then: fallback
      fallback: dead
  - name: count
    reduce: counter
  - name: out
    sink: stdout
  - name: dead
    sink: blackhole
edges:
  - from: in
    to: parse
    capacity: 512
  - from: parse
    to: count
    when:
      tags: [ok, valid]
      match: all
  - from: count
    to: out
)yaml";

TEST(FlowLoaderValid, MapsEveryField) {
  const Loaded loaded = load(kFullFlow);
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.format();
  const flow::Flow& f = loaded.flow->spec;

  EXPECT_EQ(f.name(), "orders");
  EXPECT_EQ(f.mode(), flow::MODE_JOB);
  ASSERT_EQ(f.plugins_size(), 2);
  EXPECT_EQ(f.plugins(0), "./plugins");
  EXPECT_EQ(f.plugins(1), "/opt/sluice/plugins");
  EXPECT_EQ(f.grace_period().seconds(), 45);
  EXPECT_EQ(f.grace_period().nanos(), 0);

  ASSERT_TRUE(f.has_defaults());
  EXPECT_TRUE(f.defaults().has_batch());
  EXPECT_EQ(f.defaults().batch(), 128u);
  EXPECT_EQ(f.defaults().linger().nanos(), 5'000'000);
  EXPECT_EQ(f.defaults().capacity(), 1024u);
  EXPECT_EQ(f.defaults().on_error().then(), flow::ERROR_ACTION_DROP);
  EXPECT_FALSE(f.defaults().on_error().has_retry());

  ASSERT_EQ(f.stages_size(), 5);
  const flow::Stage& in = f.stages(0);
  EXPECT_EQ(in.name(), "in");
  EXPECT_EQ(in.kind_case(), flow::Stage::kSource);
  EXPECT_EQ(in.source(), "file");
  EXPECT_EQ(json::parse(in.config().json()), json({{"path", "/data/in.jsonl"}, {"count", 10}}));
  EXPECT_TRUE(in.has_threads());
  EXPECT_EQ(in.threads(), 2u);
  EXPECT_EQ(in.batch(), 64u);
  EXPECT_EQ(in.linger().seconds(), 0);
  EXPECT_EQ(in.linger().nanos(), 250'000'000);
  EXPECT_TRUE(in.ordered());

  const flow::Stage& parse = f.stages(1);
  EXPECT_EQ(parse.kind_case(), flow::Stage::kMap);
  EXPECT_EQ(parse.map(), "json-parse");
  EXPECT_FALSE(parse.has_threads());  // absent stays absent: the validator fills defaults
  EXPECT_FALSE(parse.has_batch());
  EXPECT_FALSE(parse.has_config());
  EXPECT_FALSE(parse.ordered());
  const flow::Retry& retry = parse.on_error().retry();
  EXPECT_EQ(retry.attempts(), 3u);
  EXPECT_EQ(retry.initial_interval().nanos(), 100'000'000);
  EXPECT_TRUE(retry.has_factor());
  EXPECT_DOUBLE_EQ(retry.factor(), 1.5);
  EXPECT_EQ(retry.cap().seconds(), 10);
  EXPECT_EQ(parse.on_error().then(), flow::ERROR_ACTION_FALLBACK);
  EXPECT_EQ(parse.on_error().fallback(), "dead");

  EXPECT_EQ(f.stages(2).kind_case(), flow::Stage::kReduce);
  EXPECT_EQ(f.stages(2).reduce(), "counter");
  EXPECT_EQ(f.stages(3).kind_case(), flow::Stage::kSink);
  EXPECT_EQ(f.stages(3).sink(), "stdout");

  ASSERT_EQ(f.edges_size(), 3);
  EXPECT_EQ(f.edges(0).from(), "in");
  EXPECT_EQ(f.edges(0).to(), "parse");
  EXPECT_TRUE(f.edges(0).has_capacity());
  EXPECT_EQ(f.edges(0).capacity(), 512u);
  EXPECT_FALSE(f.edges(0).has_when());
  EXPECT_FALSE(f.edges(1).has_capacity());
  ASSERT_EQ(f.edges(1).when().tags_size(), 2);
  EXPECT_EQ(f.edges(1).when().tags(1), "valid");
  EXPECT_EQ(f.edges(1).when().match(), flow::TAG_MATCH_ALL);

  EXPECT_EQ(loaded.flow->file, "flow.yaml");
  EXPECT_EQ(loaded.flow->dir, "/flows");
}

TEST(FlowLoaderValid, RecordsLocations) {
  const Loaded loaded = load(kFullFlow);
  ASSERT_TRUE(loaded.flow);
  const LoadedFlow& f = *loaded.flow;
  EXPECT_EQ(f.where("name"), "flow.yaml:1:7");  // scalars: at the value
  EXPECT_EQ(f.where("defaults"), "flow.yaml:5:1");  // mappings: at the key
  EXPECT_EQ(f.where("stages"), "flow.yaml:11:1");
  EXPECT_EQ(f.where("stages[0]"), "flow.yaml:12:5");
  EXPECT_EQ(f.where("stages[3]"), "flow.yaml:33:5");
  EXPECT_EQ(f.where("stages[3].sink"), "flow.yaml:34:11");
  EXPECT_EQ(f.where("stages[0].config.count"), "flow.yaml:16:14");
  EXPECT_EQ(f.where("stages[1].onError.retry.initialInterval"), "flow.yaml:26:26");
  EXPECT_EQ(f.where("edges[1].when.tags[1]"), "flow.yaml:44:18");
}

TEST(FlowLoaderValid, WhereFallsBackToTheLongestRecordedPrefix) {
  const Loaded loaded = load(kFullFlow);
  ASSERT_TRUE(loaded.flow);
  const LoadedFlow& f = *loaded.flow;
  EXPECT_EQ(f.where("stages[0].config.count.deeper"), "flow.yaml:16:14");
  EXPECT_EQ(f.where("stages[1].threads"), "flow.yaml:21:5");  // not written: its stage
  EXPECT_EQ(f.where("stages[9]"), "flow.yaml:11:1");
  EXPECT_EQ(f.where("edges[2].when"), "flow.yaml:46:5");
  EXPECT_EQ(f.where("nowhere.at.all"), "flow.yaml");
  EXPECT_EQ(f.where(""), "flow.yaml");
}

TEST(FlowLoaderValid, NullMeansAbsent) {
  const Loaded loaded = load(R"yaml(name:
defaults:
gracePeriod: null
stages:
  - name: in
    source: gen
    map: ~
    threads:
    config:
)yaml");
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.format();
  const flow::Flow& f = loaded.flow->spec;
  EXPECT_EQ(f.name(), "");
  EXPECT_FALSE(f.has_defaults());
  EXPECT_FALSE(f.has_grace_period());
  EXPECT_EQ(f.stages(0).kind_case(), flow::Stage::kSource);  // a null `map` is no second kind
  EXPECT_FALSE(f.stages(0).has_threads());
  EXPECT_FALSE(f.stages(0).has_config());
}

TEST(FlowLoaderValid, ExplicitZeroIsPresent) {
  const Loaded loaded = load(source_stage_with("    threads: 0\n    ordered: false\n"));
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.format();
  EXPECT_TRUE(loaded.flow->spec.stages(0).has_threads());
  EXPECT_EQ(loaded.flow->spec.stages(0).threads(), 0u);
}

// ---- scalars ---------------------------------------------------------------------------

TEST(FlowLoaderScalars, StringsAreKeptAsWritten) {
  const Loaded loaded = load(R"yaml(name: 010
plugins: [yes, 1.50, "quoted", 'single', null-ish, ~x]
stages:
  - name: in
    source: gen
)yaml");
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.format();
  const flow::Flow& f = loaded.flow->spec;
  EXPECT_EQ(f.name(), "010");
  ASSERT_EQ(f.plugins_size(), 6);
  EXPECT_EQ(f.plugins(0), "yes");
  EXPECT_EQ(f.plugins(1), "1.50");
  EXPECT_EQ(f.plugins(2), "quoted");
  EXPECT_EQ(f.plugins(3), "single");
  EXPECT_EQ(f.plugins(4), "null-ish");
  EXPECT_EQ(f.plugins(5), "~x");
}

TEST(FlowLoaderScalars, CollectionWhereAStringBelongs) {
  const Loaded loaded = load("name: {a: 1}\nstages:\n  - name: [x]\n    source: gen\n");
  ASSERT_EQ(loaded.diagnostics.size(), 2u) << loaded.diagnostics.format();
  EXPECT_EQ(loaded.error(0).where, "flow.yaml:1:7");
  EXPECT_EQ(loaded.error(0).message, "name must be a string, not a mapping");
  EXPECT_EQ(loaded.error(1).where, "flow.yaml:3:11");
  EXPECT_EQ(loaded.error(1).message, "stages[0].name must be a string, not a list");
}

TEST(FlowLoaderScalars, BoolAcceptsOnlyPlainTrueAndFalse) {
  for (const char* good : {"true", "True", "TRUE"}) {
    const Loaded loaded = load(source_stage_with(std::string("    ordered: ") + good + "\n"));
    ASSERT_TRUE(loaded.flow) << good << ": " << loaded.diagnostics.format();
    EXPECT_TRUE(loaded.flow->spec.stages(0).ordered());
  }
  const Loaded loaded = load(source_stage_with("    ordered: False\n"));
  ASSERT_TRUE(loaded.flow);
  EXPECT_FALSE(loaded.flow->spec.stages(0).ordered());
}

TEST(FlowLoaderScalars, QuotedYesIsNotABool) {
  const Loaded loaded = load(source_stage_with("    ordered: \"yes\"\n"));
  ASSERT_EQ(loaded.diagnostics.size(), 1u);
  EXPECT_EQ(loaded.error(0).where, "flow.yaml:4:14");
  EXPECT_EQ(loaded.error(0).message, "stages[0].ordered must be true or false, not \"yes\"");
  EXPECT_EQ(loaded.error(0).hint,
            "\"yes\" is a string, not a bool; write true or false without quotes");
}

TEST(FlowLoaderScalars, PlainYesAndQuotedTrueAreNotBools) {
  for (const char* bad : {"yes", "on", "No", "'true'", "\"false\""}) {
    const Loaded loaded = load(source_stage_with(std::string("    ordered: ") + bad + "\n"));
    ASSERT_EQ(loaded.diagnostics.size(), 1u) << bad;
    EXPECT_NE(loaded.error(0).hint.find("write true or false without quotes"), std::string::npos)
        << bad;
  }
  const Loaded number = load(source_stage_with("    ordered: 1\n"));
  ASSERT_EQ(number.diagnostics.size(), 1u);
  EXPECT_EQ(number.error(0).hint, "");
}

TEST(FlowLoaderScalars, QuotedNumberIsNotAnInteger) {
  const Loaded loaded = load(source_stage_with("    threads: \"10\"\n"));
  ASSERT_EQ(loaded.diagnostics.size(), 1u);
  EXPECT_EQ(loaded.error(0).where, "flow.yaml:4:14");
  EXPECT_EQ(loaded.error(0).message, "stages[0].threads must be a whole number, not \"10\"");
  EXPECT_EQ(loaded.error(0).hint, "\"10\" is a string, not a number; write 10 without quotes");
}

TEST(FlowLoaderScalars, IntegerRangeAndForm) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"-1", "stages[0].threads must be from 0 to 4294967295, not -1"},
      {"4294967296", "stages[0].threads must be from 0 to 4294967295, not 4294967296"},
      {"99999999999999999999999", "stages[0].threads must be from 0 to 4294967295, not "
                                  "99999999999999999999999"},
      {"2.5", "stages[0].threads must be a whole number, not 2.5"},
      {"0x10", "stages[0].threads must be a whole number, not 0x10"},
      {"four", "stages[0].threads must be a whole number, not four"},
  };
  for (const Case& c : cases) {
    const Loaded loaded = load(source_stage_with(std::string("    threads: ") + c.text + "\n"));
    ASSERT_EQ(loaded.diagnostics.size(), 1u) << c.text;
    EXPECT_EQ(loaded.error(0).message, c.message);
  }
  const Loaded leading_zero = load(source_stage_with("    threads: 010\n"));
  ASSERT_TRUE(leading_zero.flow);
  EXPECT_EQ(leading_zero.flow->spec.stages(0).threads(), 10u);  // YAML 1.2: decimal
}

TEST(FlowLoaderScalars, Doubles) {
  const std::string retry = "    onError:\n      retry:\n        factor: ";
  const Loaded whole = load(source_stage_with(retry + "2\n"));
  ASSERT_TRUE(whole.flow) << whole.diagnostics.format();
  EXPECT_DOUBLE_EQ(whole.flow->spec.stages(0).on_error().retry().factor(), 2.0);
  const Loaded exponent = load(source_stage_with(retry + "1e1\n"));
  ASSERT_TRUE(exponent.flow);
  EXPECT_DOUBLE_EQ(exponent.flow->spec.stages(0).on_error().retry().factor(), 10.0);

  const Loaded quoted = load(source_stage_with(retry + "'1.5'\n"));
  ASSERT_EQ(quoted.diagnostics.size(), 1u);
  EXPECT_EQ(quoted.error(0).hint, "\"1.5\" is a string, not a number; write 1.5 without quotes");
  const Loaded infinite = load(source_stage_with(retry + ".inf\n"));
  ASSERT_EQ(infinite.diagnostics.size(), 1u);
  EXPECT_EQ(infinite.error(0).message,
            "stages[0].onError.retry.factor must be a finite number, not .inf");
}

TEST(FlowLoaderScalars, Enums) {
  const Loaded loaded = load("mode: streaming\n" + source_stage_with("") +
                             "edges:\n  - from: in\n    to: out\n    when: {match: none}\n");
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.format();
  EXPECT_EQ(loaded.flow->spec.mode(), flow::MODE_STREAMING);
  EXPECT_EQ(loaded.flow->spec.edges(0).when().match(), flow::TAG_MATCH_NONE);

  const Loaded wrong = load("mode: jobs\n" + source_stage_with(""));
  ASSERT_EQ(wrong.diagnostics.size(), 1u);
  EXPECT_EQ(wrong.error(0).where, "flow.yaml:1:7");
  EXPECT_EQ(wrong.error(0).message, "mode must be one of streaming, job, not jobs");
  EXPECT_EQ(wrong.error(0).hint, "did you mean job?");

  for (const char* bad : {"JOB", "MODE_JOB", "unspecified"}) {
    const Loaded rejected = load(std::string("mode: ") + bad + "\n" + source_stage_with(""));
    EXPECT_EQ(rejected.diagnostics.size(), 1u) << bad;
  }
}

TEST(FlowLoaderScalars, UnsupportedTag) {
  const Loaded loaded = load("name: !custom x\n" + source_stage_with(""));
  ASSERT_EQ(loaded.diagnostics.size(), 1u);
  EXPECT_EQ(loaded.error(0).message, "YAML tag !custom is not supported here");
  const Loaded str = load("name: !!str 10\n" + source_stage_with(""));
  ASSERT_TRUE(str.flow);
  EXPECT_EQ(str.flow->spec.name(), "10");
}

// ---- durations and sizes ------------------------------------------------------------

TEST(FlowLoaderDurations, Good) {
  struct Case {
    const char* text;
    int64_t seconds;
    int32_t nanos;
  } cases[] = {
      {"250ms", 0, 250'000'000}, {"2s", 2, 0},       {"1.5m", 90, 0},       {"1h", 3600, 0},
      {"100us", 0, 100'000},     {"10ns", 0, 10},    {"0", 0, 0},           {"'0'", 0, 0},
      {"1.25s", 1, 250'000'000}, {".5s", 0, 500'000'000}, {"0.0", 0, 0}, {"\"36h\"", 129600, 0},
  };
  for (const Case& c : cases) {
    const Loaded loaded =
        load("gracePeriod: " + std::string(c.text) + "\n" + source_stage_with(""));
    ASSERT_TRUE(loaded.flow) << c.text << ": " << loaded.diagnostics.format();
    EXPECT_EQ(loaded.flow->spec.grace_period().seconds(), c.seconds) << c.text;
    EXPECT_EQ(loaded.flow->spec.grace_period().nanos(), c.nanos) << c.text;
  }
}

TEST(FlowLoaderDurations, Bad) {
  struct Case {
    const char* text;
    const char* message;
    const char* hint;
  } cases[] = {
      {"5", "gracePeriod: '5' has no unit", "add a unit, e.g. 5s"},
      {"-1s", "gracePeriod: '-1s' is negative", "durations cannot be negative"},
      {"5sec", "gracePeriod: unknown unit 'sec' in '5sec'", "units: ns, us, ms, s, m, h"},
      {"5 s", "gracePeriod: unknown unit ' s' in '5 s'", "units: ns, us, ms, s, m, h"},
      {"1.5ns", "gracePeriod: '1.5ns' is not a whole number of nanoseconds", ""},
      {"soon", "gracePeriod: 'soon' is not a duration",
       "write a number and a unit, e.g. 250ms, 2s, 1.5m; units: ns, us, ms, s, m, h"},
      {"[1s]", "gracePeriod must be a duration such as 250ms or 2s, not a list", ""},
      {"10000000h", "gracePeriod: '10000000h' is too long", "durations go up to about 292 years"},
  };
  for (const Case& c : cases) {
    const Loaded loaded =
        load("gracePeriod: " + std::string(c.text) + "\n" + source_stage_with(""));
    ASSERT_EQ(loaded.diagnostics.size(), 1u) << c.text;
    EXPECT_EQ(loaded.error(0).where, "flow.yaml:1:14") << c.text;
    EXPECT_EQ(loaded.error(0).message, c.message);
    EXPECT_EQ(loaded.error(0).hint, c.hint);
  }
}

TEST(FlowLoaderValues, ByteSizes) {
  struct Case {
    const char* text;
    uint64_t bytes;
  } cases[] = {
      {"1024", 1024},        {"512B", 512},          {"64KiB", 65536},
      {"16MiB", 16u << 20},  {"1GiB", 1u << 30},     {"10kB", 10'000},
      {"2MB", 2'000'000},    {"1.5KiB", 1536},       {"0", 0},
      {"3TB", 3'000'000'000'000},
  };
  for (const Case& c : cases) {
    uint64_t bytes = 0;
    ValueError error;
    ASSERT_TRUE(parse_byte_size(c.text, &bytes, &error)) << c.text << ": " << error.message;
    EXPECT_EQ(bytes, c.bytes) << c.text;
  }
  for (const char* bad : {"", "-1", "1KB", "1k", "0.5B", "MiB", "99999999999TiB"}) {
    uint64_t bytes = 0;
    ValueError error;
    EXPECT_FALSE(parse_byte_size(bad, &bytes, &error)) << bad;
    EXPECT_FALSE(error.message.empty()) << bad;
  }
}

TEST(FlowLoaderValues, DurationsExactly) {
  std::chrono::nanoseconds d{};
  ValueError error;
  ASSERT_TRUE(parse_duration("0.1s", &d, &error));
  EXPECT_EQ(d.count(), 100'000'000);  // exact, no binary-fraction rounding
  ASSERT_TRUE(parse_duration("1.000000001s", &d, &error));
  EXPECT_EQ(d.count(), 1'000'000'001);
  EXPECT_FALSE(parse_duration("", &d, &error));
  EXPECT_FALSE(parse_duration(".", &d, &error));
  EXPECT_FALSE(parse_duration("1..5s", &d, &error));
}

// ---- config ---------------------------------------------------------------------------

TEST(FlowLoaderConfig, KeepsYamlTypes) {
  const Loaded loaded = load(R"yaml(stages:
  - name: in
    source: gen
    config:
      int: 10
      negative: -3
      hex: 0x1F
      octal: 0o17
      float: 1.0
      exponent: 1e3
      string: hello
      quoted_int: "10"
      quoted_bool: 'true'
      yes_word: yes
      bool: true
      bool_caps: FALSE
      null_word: null
      tilde: ~
      empty:
      quoted_null: "null"
      version: 1.10
      leading_zero: "010"
      block: |
        two
        lines
      nested: {list: [1, "2", {deep: x}], empty_list: [], empty_map: {}}
      big: 18446744073709551615
)yaml");
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.format();
  const json config = config_of(loaded);
  const json expected = json::parse(R"json({
    "int": 10, "negative": -3, "hex": 31, "octal": 15, "float": 1.0, "exponent": 1000.0,
    "string": "hello", "quoted_int": "10", "quoted_bool": "true", "yes_word": "yes",
    "bool": true, "bool_caps": false, "null_word": null, "tilde": null, "empty": null,
    "quoted_null": "null", "version": 1.1, "leading_zero": "010", "block": "two\nlines\n",
    "nested": {"list": [1, "2", {"deep": "x"}], "empty_list": [], "empty_map": {}},
    "big": 18446744073709551615})json");
  EXPECT_EQ(config, expected);
  EXPECT_TRUE(config["int"].is_number_integer());
  EXPECT_TRUE(config["float"].is_number_float());
  EXPECT_TRUE(config["exponent"].is_number_float());
  // The text itself keeps 1.0 a float for the plugin's JSON parser too.
  EXPECT_NE(loaded.flow->spec.stages(0).config().json().find("\"float\":1.0"), std::string::npos);
}

TEST(FlowLoaderConfig, ScalarAndListConfigs) {
  const Loaded loaded = load(R"yaml(stages:
  - name: in
    source: gen
    config: 5
  - name: out
    sink: stdout
    config: [a, 1]
)yaml");
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.format();
  EXPECT_EQ(config_of(loaded, 0), json(5));
  EXPECT_EQ(config_of(loaded, 1), json::parse(R"(["a", 1])"));
}

TEST(FlowLoaderConfig, RecordsKeyLocations) {
  const Loaded loaded = load(R"yaml(stages:
  - name: in
    source: gen
    config:
      count: 10
      items:
        - a
        - b
      nested:
        key: v
)yaml");
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.format();
  const LoadedFlow& f = *loaded.flow;
  EXPECT_EQ(f.where("stages[0].config"), "flow.yaml:4:5");
  EXPECT_EQ(f.where("stages[0].config.count"), "flow.yaml:5:14");
  EXPECT_EQ(f.where("stages[0].config.items"), "flow.yaml:6:7");
  EXPECT_EQ(f.where("stages[0].config.items[1]"), "flow.yaml:8:11");
  EXPECT_EQ(f.where("stages[0].config.nested.key"), "flow.yaml:10:14");
}

TEST(FlowLoaderConfig, RejectsWhatJsonCannotHold) {
  const Loaded loaded = load(R"yaml(stages:
  - name: in
    source: gen
    config:
      a: .inf
      b: -.Inf
      c: .nan
      d: 99999999999999999999
      e: ".inf"
      ? [complex, key]
      : 1
      e: again
)yaml");
  ASSERT_EQ(loaded.diagnostics.size(), 6u) << loaded.diagnostics.format();
  EXPECT_EQ(loaded.error(0).where, "flow.yaml:5:10");
  EXPECT_EQ(loaded.error(0).message, "stages[0].config.a: .inf cannot be written in JSON");
  EXPECT_EQ(loaded.error(1).where, "flow.yaml:6:10");
  EXPECT_EQ(loaded.error(2).where, "flow.yaml:7:10");
  EXPECT_EQ(loaded.error(3).message,
            "stages[0].config.d: 99999999999999999999 does not fit in a 64-bit integer");
  EXPECT_EQ(loaded.error(4).where, "flow.yaml:10:9");
  EXPECT_EQ(loaded.error(4).message,
            "a key in stages[0].config is a list; keys must be plain words");
  EXPECT_EQ(loaded.error(5).where, "flow.yaml:12:7");
  EXPECT_EQ(loaded.error(5).message, "duplicate key 'e' in stages[0].config");
  EXPECT_EQ(loaded.error(5).hint, "it is also set at flow.yaml:9:7; keep one");
}

// ---- structure errors ---------------------------------------------------------------

TEST(FlowLoaderErrors, UnknownKeySuggestsTheClosest) {
  const Loaded loaded = load(R"yaml(stages:
  - name: in
    sourse: gen
    on_error: {then: drop}
)yaml");
  ASSERT_EQ(loaded.diagnostics.size(), 2u) << loaded.diagnostics.format();
  EXPECT_EQ(loaded.error(0).where, "flow.yaml:3:5");
  EXPECT_EQ(loaded.error(0).message, "unknown key 'sourse' in stages[0]");
  EXPECT_EQ(loaded.error(0).hint, "did you mean source?");
  EXPECT_EQ(loaded.error(1).where, "flow.yaml:4:5");
  EXPECT_EQ(loaded.error(1).hint, "did you mean onError?");
}

TEST(FlowLoaderErrors, UnknownKeyWithoutCloseMatchListsKnownKeys) {
  const Loaded loaded = load("colour: red\n" + source_stage_with(""));
  ASSERT_EQ(loaded.diagnostics.size(), 1u);
  EXPECT_EQ(loaded.error(0).where, "flow.yaml:1:1");
  EXPECT_EQ(loaded.error(0).message, "unknown key 'colour'");
  EXPECT_EQ(loaded.error(0).hint,
            "known keys: name, mode, plugins, stages, edges, defaults, gracePeriod, serving, "
            "sideInputs, sideInputsTimeout");
}

TEST(FlowLoaderErrors, TwoKindsInOneStage) {
  const Loaded loaded = load(R"yaml(stages:
  - name: in
    source: gen
  - name: both
    map: upper
    sink: stdout
)yaml");
  ASSERT_EQ(loaded.diagnostics.size(), 1u);
  EXPECT_EQ(loaded.error(0).where, "flow.yaml:4:5");
  EXPECT_EQ(loaded.error(0).message,
            "a stage has exactly one of source, map, reduce, sink; this one has map and sink");
}

TEST(FlowLoaderErrors, DuplicateKey) {
  const Loaded loaded = load("name: a\nstages:\n  - name: in\n    source: gen\nname: b\n");
  ASSERT_EQ(loaded.diagnostics.size(), 1u);
  EXPECT_EQ(loaded.error(0).where, "flow.yaml:5:1");
  EXPECT_EQ(loaded.error(0).message, "duplicate key 'name'");
  EXPECT_EQ(loaded.error(0).hint, "it is also set at flow.yaml:1:1; keep one");
}

TEST(FlowLoaderErrors, WrongShapes) {
  const Loaded loaded = load(R"yaml(plugins: ./mine
stages:
  - name: in
    source: gen
    onError: drop
  -
edges: {from: a}
)yaml");
  ASSERT_EQ(loaded.diagnostics.size(), 4u) << loaded.diagnostics.format();
  EXPECT_EQ(loaded.error(0).where, "flow.yaml:1:10");
  EXPECT_EQ(loaded.error(0).message, "plugins must be a list, not a single value");
  EXPECT_EQ(loaded.error(1).where, "flow.yaml:5:14");
  EXPECT_EQ(loaded.error(1).message, "stages[0].onError must be a mapping, not a single value");
  EXPECT_EQ(loaded.error(1).hint, "its keys are retry, then, fallback");
  EXPECT_EQ(loaded.error(2).message, "stages[1] is empty");
  EXPECT_EQ(loaded.error(3).message, "edges must be a list, not a mapping");
}

TEST(FlowLoaderErrors, AllErrorsInOnePass) {
  const Loaded loaded = load(R"yaml(name: x
mode: jobs
stages:
  - name: a
    source: gen
    threads: "4"
    ordered: yes
  - name: b
    sink: out
    map: m
    linger: 5
edges:
  - from: a
    to: b
    capacity: -1
    bogus: 1
)yaml");
  ASSERT_EQ(loaded.diagnostics.size(), 7u) << loaded.diagnostics.format();
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"flow.yaml:2:7", "mode must be one of streaming, job, not jobs"},
      {"flow.yaml:6:14", "stages[0].threads must be a whole number, not \"4\""},
      {"flow.yaml:7:14", "stages[0].ordered must be true or false, not yes"},
      {"flow.yaml:11:13", "stages[1].linger: '5' has no unit"},
      {"flow.yaml:8:5",
       "a stage has exactly one of source, map, reduce, sink; this one has sink and map"},
      {"flow.yaml:15:15", "edges[0].capacity must be from 0 to 4294967295, not -1"},
      {"flow.yaml:16:5", "unknown key 'bogus' in edges[0]"},
  };
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(loaded.error(i).where, expected[i].first) << i;
    EXPECT_EQ(loaded.error(i).message, expected[i].second) << i;
  }
}

TEST(FlowLoaderErrors, KeepsEarlierDiagnostics) {
  Diagnostics diagnostics;
  diagnostics.add("elsewhere", "an earlier problem");
  const auto flow = load_flow_text(source_stage_with(""), "flow.yaml", "/", {}, &diagnostics);
  EXPECT_TRUE(flow);  // only new errors count against this file
  EXPECT_EQ(diagnostics.size(), 1u);
}

// ---- YAML-level problems ------------------------------------------------------------

TEST(FlowLoaderYaml, SyntaxErrorHasItsPosition) {
  const Loaded loaded = load("name: x\nstages: [a, b\nedges: []\n");
  ASSERT_EQ(loaded.diagnostics.size(), 1u);
  EXPECT_EQ(loaded.error(0).where, "flow.yaml:3:6");
  EXPECT_FALSE(loaded.error(0).message.empty());
}

TEST(FlowLoaderYaml, EmptyOrNotAMapping) {
  for (const char* text : {"", "# nothing but a comment\n", "---\n"}) {
    const Loaded loaded = load(text);
    ASSERT_EQ(loaded.diagnostics.size(), 1u) << text;
    EXPECT_EQ(loaded.error(0).where, "flow.yaml");
    EXPECT_EQ(loaded.error(0).message, "the flow file is empty");
  }
  const Loaded list = load("- name: in\n");
  ASSERT_EQ(list.diagnostics.size(), 1u);
  EXPECT_EQ(list.error(0).where, "flow.yaml:1:1");
  EXPECT_EQ(list.error(0).message,
            "a flow file must be a mapping (name:, stages:, ...), not a list");
}

TEST(FlowLoaderYaml, OneDocumentOnly) {
  const Loaded loaded = load(source_stage_with("") + "---\nname: second\n");
  ASSERT_EQ(loaded.diagnostics.size(), 1u);
  EXPECT_EQ(loaded.error(0).where, "flow.yaml:7:1");
}

// ---- environment --------------------------------------------------------------------

TEST(FlowLoaderEnv, Substitutes) {
  const Loaded loaded = load(R"yaml(name: ${NAME:-fallback}-flow
stages:
  - name: in
    source: ${SOURCE}
    threads: ${COUNT}
    config:
      count: ${COUNT}
      quoted: "${COUNT}"
      literal: $${HOME}/x
      dollar: costs $5
      empty_default: "${EMPTY:-was empty}"
      set_but_empty: "[${EMPTY}]"
      path: ${DIR}/in-${COUNT}.log
  - name: out
    sink: stdout
)yaml",
                             with_env({{"SOURCE", "gen"}, {"COUNT", "10"}, {"EMPTY", ""},
                                       {"DIR", "/data"}}));
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.format();
  const flow::Flow& f = loaded.flow->spec;
  EXPECT_EQ(f.name(), "fallback-flow");
  EXPECT_EQ(f.stages(0).source(), "gen");
  EXPECT_EQ(f.stages(0).threads(), 10u);
  const json config = config_of(loaded);
  EXPECT_EQ(config["count"], json(10));  // plain: interpreted after substitution
  EXPECT_EQ(config["quoted"], json("10"));
  EXPECT_EQ(config["literal"], json("${HOME}/x"));
  EXPECT_EQ(config["dollar"], json("costs $5"));
  EXPECT_EQ(config["empty_default"], json("was empty"));
  EXPECT_EQ(config["set_but_empty"], json("[]"));
  EXPECT_EQ(config["path"], json("/data/in-10.log"));
}

TEST(FlowLoaderEnv, UnsetAndMalformed) {
  const Loaded loaded = load(R"yaml(name: ${MISSING}
stages:
  - name: in
    source: gen
    config:
      a: ${UNCLOSED
      b: ${1BAD}
      c: "${A:-${B}}"
)yaml",
                             with_env({}));
  ASSERT_EQ(loaded.diagnostics.size(), 4u) << loaded.diagnostics.format();
  EXPECT_EQ(loaded.error(0).where, "flow.yaml:1:7");
  EXPECT_EQ(loaded.error(0).message, "environment variable MISSING is not set");
  EXPECT_EQ(loaded.error(0).hint, "export it or use ${MISSING:-default}");
  EXPECT_EQ(loaded.error(1).where, "flow.yaml:6:10");
  EXPECT_EQ(loaded.error(1).message, "unclosed ${ in '${UNCLOSED'");
  EXPECT_EQ(loaded.error(2).message, "'${1BAD}' does not name an environment variable");
  EXPECT_EQ(loaded.error(3).where, "flow.yaml:8:10");
}

TEST(FlowLoaderEnv, UsesTheProcessEnvironmentByDefault) {
  ::setenv("SLUICE_FLOW_LOADER_TEST", "from-env", 1);
  Diagnostics diagnostics;
  const auto flow = load_flow_text("name: ${SLUICE_FLOW_LOADER_TEST}\n" + source_stage_with(""),
                                   "flow.yaml", "/", {}, &diagnostics);
  ::unsetenv("SLUICE_FLOW_LOADER_TEST");
  ASSERT_TRUE(flow) << diagnostics.format();
  EXPECT_EQ(flow->spec.name(), "from-env");
}

// ---- overrides ----------------------------------------------------------------------

constexpr const char* kOverridable = R"yaml(name: base
stages:
  - name: in
    source: gen
    config:
      count: 5
      keep: me
  - name: out
    sink: stdout
    config:
edges:
  - from: in
    to: out
)yaml";

TEST(FlowLoaderOverrides, StageConfig) {
  const std::string set = "stages.in.config.count=20";
  const Loaded loaded = load(kOverridable, with_overrides({set}));
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.format();
  EXPECT_EQ(config_of(loaded), json({{"count", 20}, {"keep", "me"}}));
  EXPECT_EQ(loaded.flow->where("stages[0].config.count"), "--set " + set);
  EXPECT_EQ(loaded.flow->where("stages[0].config.keep"), "flow.yaml:7:13");
}

TEST(FlowLoaderOverrides, TopLevelAndNewKeys) {
  const Loaded loaded =
      load(kOverridable, with_overrides({"mode=job", "gracePeriod=5s", "name=other",
                                         "defaults.onError.then=drop", "edges.0.capacity=7",
                                         "stages.out.config.path=/tmp/x", "plugins=[a, b]"}));
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.format();
  const flow::Flow& f = loaded.flow->spec;
  EXPECT_EQ(f.mode(), flow::MODE_JOB);
  EXPECT_EQ(f.grace_period().seconds(), 5);
  EXPECT_EQ(f.name(), "other");
  EXPECT_EQ(f.defaults().on_error().then(), flow::ERROR_ACTION_DROP);
  EXPECT_EQ(f.edges(0).capacity(), 7u);
  EXPECT_EQ(config_of(loaded, 1), json({{"path", "/tmp/x"}}));
  ASSERT_EQ(f.plugins_size(), 2);
  EXPECT_EQ(f.plugins(1), "b");

  EXPECT_EQ(loaded.flow->where("name"), "--set name=other");
  EXPECT_EQ(loaded.flow->where("defaults"), "--set defaults.onError.then=drop");
  EXPECT_EQ(loaded.flow->where("defaults.onError.then"), "--set defaults.onError.then=drop");
  EXPECT_EQ(loaded.flow->where("plugins[1]"), "--set plugins=[a, b]");
  EXPECT_EQ(loaded.flow->where("edges[0].from"), "flow.yaml:12:11");
}

TEST(FlowLoaderOverrides, ValuesAreYaml) {
  const Loaded loaded = load(kOverridable, with_overrides({"stages.in.config.count=\"10\"",
                                                           "stages.out.config={a: 1, b: [x]}",
                                                           "name=\"010\""}));
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.format();
  EXPECT_EQ(config_of(loaded, 0)["count"], json("10"));
  EXPECT_EQ(config_of(loaded, 1), json::parse(R"({"a": 1, "b": ["x"]})"));
  EXPECT_EQ(loaded.flow->where("stages[1].config.b[0]"), "--set stages.out.config={a: 1, b: [x]}");
  EXPECT_EQ(loaded.flow->spec.name(), "010");
}

TEST(FlowLoaderOverrides, AreCheckedLikeTheFile) {
  const Loaded loaded =
      load(kOverridable, with_overrides({"stages.in.threads=\"4\"", "stages.in.nmae=x"}));
  ASSERT_EQ(loaded.diagnostics.size(), 2u) << loaded.diagnostics.format();
  EXPECT_EQ(loaded.error(0).where, "--set stages.in.threads=\"4\"");
  EXPECT_EQ(loaded.error(0).message, "stages[0].threads must be a whole number, not \"4\"");
  EXPECT_EQ(loaded.error(1).where, "--set stages.in.nmae=x");
  EXPECT_EQ(loaded.error(1).hint, "did you mean name?");
}

TEST(FlowLoaderOverrides, MissingStage) {
  const Loaded loaded = load(kOverridable, with_overrides({"stages.nope.threads=2"}));
  ASSERT_EQ(loaded.diagnostics.size(), 1u);
  EXPECT_EQ(loaded.error(0).where, "--set stages.nope.threads=2");
  EXPECT_EQ(loaded.error(0).message, "no stage named 'nope'");
  EXPECT_EQ(loaded.error(0).hint, "stages: in, out");
}

TEST(FlowLoaderOverrides, Malformed) {
  const Loaded loaded = load(kOverridable, with_overrides({"novalue", "=5", "a..b=1",
                                                           "name.inner=1", "edges.3.to=x",
                                                           "name=[unclosed"}));
  ASSERT_EQ(loaded.diagnostics.size(), 6u) << loaded.diagnostics.format();
  EXPECT_EQ(loaded.error(0).where, "--set novalue");
  EXPECT_EQ(loaded.error(0).message, "an override must be path=value");
  EXPECT_EQ(loaded.error(1).where, "--set =5");
  EXPECT_EQ(loaded.error(2).where, "--set a..b=1");
  EXPECT_EQ(loaded.error(3).message, "cannot set 'inner' inside name, a single value");
  EXPECT_EQ(loaded.error(4).message, "'3' is not an item of the list edges");
  EXPECT_EQ(loaded.error(5).where, "--set name=[unclosed");
}

TEST(FlowLoaderOverrides, EmptyValueUnsets) {
  const Loaded loaded = load(kOverridable, with_overrides({"stages.in.config="}));
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.format();
  EXPECT_FALSE(loaded.flow->spec.stages(0).has_config());
}

// ---- files ----------------------------------------------------------------------------

class FlowLoaderFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-flow-loader-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }

  fs::path dir_;
};

TEST_F(FlowLoaderFile, LoadsAFile) {
  const fs::path path = write("flow.yaml", kFullFlow);
  Diagnostics diagnostics;
  const auto flow = load_flow(path, with_env({}), &diagnostics);
  ASSERT_TRUE(flow) << diagnostics.format();
  EXPECT_EQ(flow->file, path);
  EXPECT_EQ(flow->dir, dir_);
  EXPECT_EQ(flow->where("stages[3].sink"), path.string() + ":34:11");
  EXPECT_EQ(flow->spec.stages_size(), 5);
}

TEST_F(FlowLoaderFile, RelativePathGetsAnAbsoluteDir) {
  write("flow.yaml", source_stage_with(""));
  const fs::path before = fs::current_path();
  fs::current_path(dir_);
  Diagnostics diagnostics;
  const auto flow = load_flow("flow.yaml", with_env({}), &diagnostics);
  fs::current_path(before);
  ASSERT_TRUE(flow) << diagnostics.format();
  EXPECT_EQ(flow->file, "flow.yaml");
  EXPECT_TRUE(flow->dir.is_absolute());
  EXPECT_EQ(fs::canonical(flow->dir), fs::canonical(dir_));
}

TEST_F(FlowLoaderFile, ErrorsNameTheFile) {
  const fs::path path = write("bad.yaml", "stages:\n  - name: in\n    source: gen\n    x: 1\n");
  Diagnostics diagnostics;
  EXPECT_FALSE(load_flow(path, with_env({}), &diagnostics));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics.items()[0].where, path.string() + ":4:5");
}

TEST_F(FlowLoaderFile, Unreadable) {
  Diagnostics diagnostics;
  EXPECT_FALSE(load_flow(dir_ / "missing.yaml", with_env({}), &diagnostics));
  EXPECT_FALSE(load_flow(dir_, with_env({}), &diagnostics));
  ASSERT_EQ(diagnostics.size(), 2u);
  EXPECT_EQ(diagnostics.items()[0].where, (dir_ / "missing.yaml").string());
  EXPECT_EQ(diagnostics.items()[0].message,
            "cannot read the flow file: No such file or directory");
  EXPECT_EQ(diagnostics.items()[1].message, "cannot read the flow file: it is a directory");
}

}  // namespace
}  // namespace sluice::host
