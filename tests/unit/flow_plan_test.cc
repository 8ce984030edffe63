// The flow graph: plan_flow (graph rules, defaults), bind_plugins (types, kinds, config
// schemas) and the Mermaid / DOT renderings. Flows are written as YAML and read with the
// real loader, so every error location is checked as "flow.yaml:line:column".
//
// In the YAML below, line 1 is the line right after R"( and columns count from 1.
#include "sluice/host/flow_plan.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::host {
namespace {

namespace fs = std::filesystem;
using std::chrono::microseconds;
using std::chrono::milliseconds;

struct Planned {
  std::optional<LoadedFlow> flow;
  Diagnostics diagnostics;
  std::optional<FlowPlan> plan;
};

// Loads `yaml` as "flow.yaml" in /flows (no environment), then plans it.
Planned plan(std::string_view yaml) {
  Planned p;
  FlowLoadOptions options;
  options.getenv = [](const char*) -> const char* { return nullptr; };
  p.flow = load_flow_text(yaml, "flow.yaml", "/flows", options, &p.diagnostics);
  if (!p.flow) {
    ADD_FAILURE() << "the loader refused the test's YAML:\n" << p.diagnostics.format();
    return p;
  }
  p.plan = plan_flow(*p.flow, &p.diagnostics);
  // A plan and errors never come together.
  EXPECT_EQ(p.plan.has_value(), p.diagnostics.empty()) << p.diagnostics.format();
  return p;
}

// True when some diagnostic is located at `where` and its message contains `text`.
testing::AssertionResult HasError(const Planned& p, const std::string& where,
                                  const std::string& text) {
  for (const Diagnostic& d : p.diagnostics.items())
    if (d.where == where && d.message.find(text) != std::string::npos)
      return testing::AssertionSuccess();
  return testing::AssertionFailure() << "no error at " << where << " containing \"" << text
                                     << "\"; got:\n"
                                     << p.diagnostics.format();
}

const Diagnostic* find_error(const Planned& p, const std::string& text) {
  for (const Diagnostic& d : p.diagnostics.items())
    if (d.message.find(text) != std::string::npos) return &d;
  return nullptr;
}

std::pair<std::string, std::string> edge_names(const FlowPlan& plan, const EdgePlan& e) {
  return {plan.stages[e.from].name, plan.stages[e.to].name};
}

// ---- Planning: shapes and defaults --------------------------------------------------

TEST(FlowPlan, StagesChainInOrderWithoutEdges) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: mid
    map: cat
  - name: out
    sink: blackhole
)");
  ASSERT_TRUE(p.plan);
  const FlowPlan& plan = *p.plan;
  ASSERT_EQ(plan.stages.size(), 3u);
  EXPECT_EQ(plan.stages[0].kind, SLUICE_KIND_SOURCE);
  EXPECT_EQ(plan.stages[0].type_name, "generator");
  EXPECT_EQ(plan.stages[1].kind, SLUICE_KIND_MAP);
  EXPECT_EQ(plan.stages[2].kind, SLUICE_KIND_SINK);
  ASSERT_EQ(plan.edges.size(), 2u);
  EXPECT_EQ(edge_names(plan, plan.edges[0]), (std::pair<std::string, std::string>{"in", "mid"}));
  EXPECT_EQ(edge_names(plan, plan.edges[1]), (std::pair<std::string, std::string>{"mid", "out"}));
  for (const EdgePlan& e : plan.edges) {
    EXPECT_FALSE(e.conditional);
    EXPECT_EQ(e.path, "") << "an implied edge has no location of its own";
  }
  EXPECT_EQ(plan.stages[0].out_edges, std::vector<int>{0});
  EXPECT_TRUE(plan.stages[0].in_edges.empty());
  EXPECT_EQ(plan.stages[1].in_edges, std::vector<int>{0});
  EXPECT_EQ(plan.stages[1].out_edges, std::vector<int>{1});
  EXPECT_EQ(plan.stages[2].in_edges, std::vector<int>{1});
  EXPECT_TRUE(plan.stages[2].out_edges.empty());
  EXPECT_EQ(plan.stage_index("mid"), 1);
  EXPECT_EQ(plan.stage_index("nope"), -1);
}

TEST(FlowPlan, ImpliedChainLeavesOutFallbackOnlySinks) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: mid
    map: cat
    onError: {fallback: dead}
  - name: dead
    sink: blackhole
  - name: out
    sink: blackhole
)");
  ASSERT_TRUE(p.plan);
  const FlowPlan& plan = *p.plan;
  ASSERT_EQ(plan.edges.size(), 2u);
  EXPECT_EQ(edge_names(plan, plan.edges[0]), (std::pair<std::string, std::string>{"in", "mid"}));
  EXPECT_EQ(edge_names(plan, plan.edges[1]), (std::pair<std::string, std::string>{"mid", "out"}));
  EXPECT_TRUE(plan.stages[2].in_edges.empty());
  EXPECT_EQ(plan.stages[1].on_error.action, ErrorAction::kFallback)
      << "fallback: x alone means then: fallback";
  EXPECT_EQ(plan.stages[1].on_error.fallback_stage, 2);
}

TEST(FlowPlan, DefaultsApplyWhenNothingIsSet) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
)");
  ASSERT_TRUE(p.plan);
  const FlowPlan& plan = *p.plan;
  EXPECT_EQ(plan.name, "flow") << "the file name without extension";
  EXPECT_EQ(plan.mode, FlowMode::kStreaming);
  EXPECT_EQ(plan.grace_period, milliseconds(30'000));
  EXPECT_EQ(plan.dir, fs::path("/flows"));
  for (const StagePlan& s : plan.stages) {
    SCOPED_TRACE(s.name);
    EXPECT_EQ(s.batch, 1024u);
    EXPECT_EQ(s.linger, microseconds(1000));
    EXPECT_EQ(s.threads, 1u);
    EXPECT_FALSE(s.ordered);
    EXPECT_EQ(s.config_json, "{}");
    EXPECT_EQ(s.on_error.action, ErrorAction::kFail);
    EXPECT_EQ(s.on_error.attempts, 0u);
    EXPECT_EQ(s.on_error.initial_interval, microseconds(100'000));
    EXPECT_EQ(s.on_error.factor, 2.0);
    EXPECT_EQ(s.on_error.cap, microseconds(10'000'000));
    EXPECT_EQ(s.on_error.fallback_stage, -1);
  }
  ASSERT_EQ(plan.edges.size(), 1u);
  EXPECT_EQ(plan.edges[0].capacity, 16384u);
  EXPECT_EQ(kDefaultBatch, 1024u);
  EXPECT_EQ(kDefaultCapacity, 16384u);
  EXPECT_EQ(kDefaultLinger, microseconds(1000));
  EXPECT_EQ(kDefaultGracePeriod, milliseconds(30'000));
}

TEST(FlowPlan, DefaultsSectionOverridesTheBuiltInDefaults) {
  Planned p = plan(R"(name: orders
mode: job
gracePeriod: 2s
plugins: [./more, /abs/plugins]
defaults:
  batch: 64
  linger: 5ms
  capacity: 100
  onError: {retry: {attempts: 3, initialInterval: 10ms, factor: 3, cap: 1s}, then: drop}
stages:
  - name: in
    source: generator
  - name: mid
    map: cat
  - name: out
    sink: blackhole
)");
  ASSERT_TRUE(p.plan);
  const FlowPlan& plan = *p.plan;
  EXPECT_EQ(plan.name, "orders");
  EXPECT_EQ(plan.mode, FlowMode::kJob);
  EXPECT_EQ(plan.grace_period, milliseconds(2000));
  ASSERT_EQ(plan.plugin_dirs.size(), 2u);
  EXPECT_EQ(plan.plugin_dirs[0].lexically_normal(), fs::path("/flows/more"))
      << "relative to the flow file's directory";
  EXPECT_EQ(plan.plugin_dirs[1], fs::path("/abs/plugins"));
  for (const StagePlan& s : plan.stages) {
    SCOPED_TRACE(s.name);
    EXPECT_EQ(s.batch, 64u);
    EXPECT_EQ(s.linger, microseconds(5000));
    EXPECT_EQ(s.on_error.action, ErrorAction::kDrop);
    EXPECT_EQ(s.on_error.attempts, 3u);
    EXPECT_EQ(s.on_error.initial_interval, microseconds(10'000));
    EXPECT_EQ(s.on_error.factor, 3.0);
    EXPECT_EQ(s.on_error.cap, microseconds(1'000'000));
  }
  for (const EdgePlan& e : plan.edges) EXPECT_EQ(e.capacity, 100u);
}

TEST(FlowPlan, StageAndEdgeSettingsOverrideTheDefaultsSection) {
  Planned p = plan(R"(defaults:
  batch: 64
  linger: 5ms
  capacity: 100
  onError: {retry: {attempts: 3, factor: 3}, then: drop}
stages:
  - name: in
    source: generator
    batch: 8
    linger: 0
    threads: 4
  - name: mid
    map: cat
    ordered: true
    onError: {retry: {attempts: 1}}
  - name: out
    sink: blackhole
    onError: {then: fail}
edges:
  - {from: in, to: mid, capacity: 7}
  - {from: mid, to: out}
)");
  ASSERT_TRUE(p.plan);
  const FlowPlan& plan = *p.plan;
  EXPECT_EQ(plan.stages[0].batch, 8u);
  EXPECT_EQ(plan.stages[0].linger, microseconds(0));
  EXPECT_EQ(plan.stages[0].threads, 4u);
  EXPECT_EQ(plan.stages[1].batch, 64u);
  EXPECT_TRUE(plan.stages[1].ordered);
  // A stage's own retry replaces the default's retry as a whole...
  EXPECT_EQ(plan.stages[1].on_error.attempts, 1u);
  EXPECT_EQ(plan.stages[1].on_error.factor, 2.0);
  // ...while its then still comes from the defaults when it sets none.
  EXPECT_EQ(plan.stages[1].on_error.action, ErrorAction::kDrop);
  // A stage's own then replaces the default's then; the default retry still applies.
  EXPECT_EQ(plan.stages[2].on_error.action, ErrorAction::kFail);
  EXPECT_EQ(plan.stages[2].on_error.attempts, 3u);
  EXPECT_EQ(plan.edges[0].capacity, 7u);
  EXPECT_EQ(plan.edges[1].capacity, 100u);
}

TEST(FlowPlan, ExplicitEdgesWithConditions) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: route
    map: filter
  - name: big
    sink: blackhole
  - name: small
    sink: blackhole
  - name: rest
    sink: blackhole
edges:
  - {from: in, to: route}
  - {from: route, to: big, when: {tags: [big, huge]}}
  - {from: route, to: small, when: {tags: [small], match: all}}
  - {from: route, to: rest, when: {tags: [big, small], match: none}}
)");
  ASSERT_TRUE(p.plan);
  const FlowPlan& plan = *p.plan;
  ASSERT_EQ(plan.edges.size(), 4u);
  EXPECT_FALSE(plan.edges[0].conditional);
  EXPECT_EQ(plan.edges[0].path, "edges[0]");
  EXPECT_TRUE(plan.edges[1].conditional);
  EXPECT_EQ(plan.edges[1].tags, (std::vector<std::string>{"big", "huge"}));
  EXPECT_EQ(plan.edges[1].match, TagMatchMode::kAny);
  EXPECT_EQ(plan.edges[2].match, TagMatchMode::kAll);
  EXPECT_EQ(plan.edges[3].match, TagMatchMode::kNone);
  EXPECT_EQ(plan.stages[1].out_edges, (std::vector<int>{1, 2, 3}));
}

TEST(FlowPlan, FanInAndFanOut) {
  Planned p = plan(R"(stages:
  - name: a
    source: generator
  - name: b
    source: generator
  - name: m
    map: cat
  - name: x
    sink: blackhole
  - name: y
    sink: blackhole
edges:
  - {from: a, to: m}
  - {from: b, to: m}
  - {from: m, to: x}
  - {from: m, to: y}
  - {from: a, to: y}
)");
  ASSERT_TRUE(p.plan);
  EXPECT_EQ(p.plan->stages[2].in_edges, (std::vector<int>{0, 1}));
  EXPECT_EQ(p.plan->stages[4].in_edges, (std::vector<int>{3, 4}));
}

TEST(FlowPlan, ThenFallbackWithAFallbackSink) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
    onError: {retry: {attempts: 2}, then: fallback, fallback: dead}
  - name: dead
    sink: blackhole
edges:
  - {from: in, to: out}
)");
  ASSERT_TRUE(p.plan);
  EXPECT_EQ(p.plan->stages[1].on_error.action, ErrorAction::kFallback);
  EXPECT_EQ(p.plan->stages[1].on_error.fallback_stage, 2);
  EXPECT_EQ(p.plan->stages[1].on_error.attempts, 2u);
}

// ---- Planning: each rule, located --------------------------------------------------

TEST(FlowPlanErrors, CycleIsReportedAtAStageOfTheCycle) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: a
    map: cat
  - name: b
    map: cat
  - name: out
    sink: blackhole
edges:
  - {from: in, to: a}
  - {from: a, to: b}
  - {from: b, to: a}
  - {from: b, to: out}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:5", "the flow has a cycle: a -> b -> a"));
  EXPECT_EQ(p.diagnostics.size(), 1u) << p.diagnostics.format();
}

TEST(FlowPlanErrors, UnreachableStage) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: orphan
    map: cat
  - name: out
    sink: blackhole
edges:
  - {from: in, to: out}
  - {from: orphan, to: out}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:5", "stage \"orphan\" is not reachable from any source"));
  EXPECT_EQ(p.diagnostics.size(), 1u) << p.diagnostics.format();
}

TEST(FlowPlanErrors, StageNotLeadingToASink) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: dead-end
    map: cat
  - name: out
    sink: blackhole
edges:
  - {from: in, to: out}
  - {from: in, to: dead-end}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:5", "stage \"dead-end\" does not lead to any sink"));
  EXPECT_EQ(p.diagnostics.size(), 1u) << p.diagnostics.format();
}

TEST(FlowPlanErrors, StageLeadingToASinkOnlyThroughItsFallback) {
  // Without edges the fallback sink leaves the chain, so `mid` has no outgoing edge:
  // everything it processes successfully would be dropped.
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: mid
    map: cat
    onError: {fallback: out}
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:5", "stage \"mid\" does not lead to any sink"));
  EXPECT_TRUE(HasError(p, "flow.yaml:2:5", "stage \"in\" does not lead to any sink"));
  EXPECT_EQ(p.diagnostics.size(), 2u) << p.diagnostics.format();
}

TEST(FlowPlanErrors, SourceNotLeadingToASink) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: lonely
    source: generator
  - name: out
    sink: blackhole
edges:
  - {from: in, to: out}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:5", "stage \"lonely\" does not lead to any sink"));
}

TEST(FlowPlanErrors, DuplicateNameAtTheSecondNameWithTheFirstInTheHint) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: x
    map: cat
  - name: x
    map: cat
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:6:11", "stage name \"x\" is used twice"));
  const Diagnostic* d = find_error(p, "used twice");
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->hint.find("flow.yaml:4:5"), std::string::npos) << d->hint;
}

TEST(FlowPlanErrors, InvalidName) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: "has space"
    map: cat
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:11", "stage name \"has space\" is not valid"));
}

TEST(FlowPlanErrors, NameLongerThan128) {
  const std::string long_name(129, 'n');
  Planned p = plan("stages:\n  - name: in\n    source: generator\n  - name: " + long_name +
                   "\n    sink: blackhole\n");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:11", "is not valid"));
}

TEST(FlowPlanErrors, NameOf128IsValid) {
  const std::string name(128, 'n');
  Planned p = plan("stages:\n  - name: in\n    source: generator\n  - name: " + name +
                   "\n    sink: blackhole\n");
  EXPECT_TRUE(p.plan) << p.diagnostics.format();
}

TEST(FlowPlanErrors, MissingName) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - sink: blackhole
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:5", "stage 2 has no name"));
}

TEST(FlowPlanErrors, EdgeToAnUnknownStage) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
edges:
  - {from: in, to: out}
  - {from: in, to: nowhere}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:8:20", "to: no stage is named \"nowhere\""));
  const Diagnostic* d = find_error(p, "nowhere");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->hint, "stages: in, out");
  EXPECT_EQ(p.diagnostics.size(), 1u) << p.diagnostics.format();
}

TEST(FlowPlanErrors, EdgeFromAnUnknownStage) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
edges:
  - {from: in, to: out}
  - {from: nowhere, to: out}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:8:12", "from: no stage is named \"nowhere\""));
}

TEST(FlowPlanErrors, EdgeOutOfASink) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: m
    map: cat
  - name: out
    sink: blackhole
edges:
  - {from: in, to: m}
  - {from: m, to: out}
  - {from: out, to: m}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:11:12", "sink \"out\" cannot have outgoing edges"));
  EXPECT_EQ(p.diagnostics.size(), 1u) << p.diagnostics.format();
}

TEST(FlowPlanErrors, EdgeIntoASource) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: m
    map: cat
  - name: out
    sink: blackhole
edges:
  - {from: in, to: m}
  - {from: m, to: out}
  - {from: m, to: in}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:11:19", "source \"in\" cannot have incoming edges"));
  EXPECT_EQ(p.diagnostics.size(), 1u) << p.diagnostics.format();
}

TEST(FlowPlanErrors, DuplicateEdge) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
edges:
  - {from: in, to: out}
  - {from: in, to: out, when: {tags: [x]}}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:8:5", "a second edge from \"in\" to \"out\""));
  EXPECT_EQ(p.diagnostics.size(), 1u) << p.diagnostics.format();
}

TEST(FlowPlanErrors, SelfEdge) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: m
    map: cat
  - name: out
    sink: blackhole
edges:
  - {from: in, to: m}
  - {from: m, to: m}
  - {from: m, to: out}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:10:5", "edge from \"m\" to itself"));
  EXPECT_EQ(p.diagnostics.size(), 1u) << p.diagnostics.format();
}

TEST(FlowPlanErrors, EdgeWithoutTo) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
edges:
  - {from: in, to: out}
  - {from: in}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:8:5", "edge has no to"));
}

TEST(FlowPlanErrors, EdgeCapacityZero) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
edges:
  - {from: in, to: out, capacity: 0}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:7:35", "capacity must be at least 1"));
}

TEST(FlowPlanErrors, ConditionWithoutTags) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
edges:
  - from: in
    to: out
    when: {match: all}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:9:5", "when has no tags"));
}

TEST(FlowPlanErrors, NoSource) {
  Planned p = plan(R"(stages:
  - name: m
    map: cat
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:1:1", "the flow has no source stage"));
}

TEST(FlowPlanErrors, NoSink) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: m
    map: cat
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:1:1", "the flow has no sink stage"));
}

TEST(FlowPlanErrors, NoStages) {
  Planned p = plan(R"(name: empty
stages: []
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:2:1", "the flow has no stages"));
  EXPECT_EQ(p.diagnostics.size(), 1u) << p.diagnostics.format();
}

TEST(FlowPlanErrors, FallbackNamingANonSink) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: m
    map: cat
    onError: {then: fallback, fallback: m2}
  - name: m2
    map: cat
  - name: out
    sink: blackhole
edges:
  - {from: in, to: m}
  - {from: m, to: m2}
  - {from: m2, to: out}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:6:41", "fallback \"m2\" is a map, not a sink"));
  EXPECT_EQ(p.diagnostics.size(), 1u) << p.diagnostics.format();
}

TEST(FlowPlanErrors, FallbackNamingAnUnknownStage) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
    onError:
      then: fallback
      fallback: nowhere
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:8:17", "fallback: no stage is named \"nowhere\""));
  const Diagnostic* d = find_error(p, "nowhere");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->hint, "stages: in, out");
}

TEST(FlowPlanErrors, FallbackNamingItself) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
    onError: {fallback: out}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:6:25", "stage \"out\" cannot be its own fallback"));
}

TEST(FlowPlanErrors, FallbackOnASource) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
    onError: {then: fallback, fallback: dead}
  - name: out
    sink: blackhole
  - name: dead
    sink: blackhole
edges:
  - {from: in, to: out}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:5", "a source cannot fall back"));
}

TEST(FlowPlanErrors, ThenFallbackWithoutAFallbackSink) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
    onError: {then: fallback}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:6:5", "then: fallback needs a fallback sink"));
}

TEST(FlowPlanErrors, FallbackWithAnotherThen) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
    onError: {then: drop, fallback: dead}
  - name: dead
    sink: blackhole
edges:
  - {from: in, to: out}
  - {from: in, to: dead}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:6:37", "fallback is set but then is not fallback"));
}

TEST(FlowPlanErrors, DefaultPolicyErrorsAreLocatedInTheDefaults) {
  Planned p = plan(R"(defaults:
  onError: {then: drop, fallback: dead}
stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:2:35", "fallback is set but then is not fallback"));
  EXPECT_EQ(p.diagnostics.size(), 1u) << "reported once, not once per stage:\n"
                                      << p.diagnostics.format();
}

TEST(FlowPlanErrors, ReduceNeedsAWindow) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: agg
    reduce: counter
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:5:13", "reduce stage \"agg\" has no window"));
  EXPECT_EQ(p.diagnostics.size(), 1u) << p.diagnostics.format();
}

TEST(FlowPlan, ReduceWindowsAndSourceWatermarks) {
  Planned p = plan(R"(stages:
  - {name: in, source: generator, watermark: {maxDelay: 2s, idleTimeout: 30s}}
  - {name: up, map: cat}
  - {name: fixed, reduce: count, window: {fixed: 10s}}
  - {name: sliding, reduce: count, window: {sliding: {length: 10s, slide: 5s}}, keyed: false}
  - {name: session, reduce: count, window: {session: {gap: 30s}}, allowedLateness: 1s, late: route}
  - {name: out, sink: blackhole}
edges:
  - {from: in, to: up}
  - {from: up, to: fixed}
  - {from: up, to: sliding}
  - {from: up, to: session}
  - {from: fixed, to: out}
  - {from: sliding, to: out}
  - {from: session, to: out}
)");
  ASSERT_TRUE(p.plan) << p.diagnostics.format();
  const auto& s = p.plan->stages;
  EXPECT_EQ(s[0].watermark.max_delay_ms, 2000);
  EXPECT_EQ(s[0].watermark.idle_timeout_ms, 30000);
  EXPECT_TRUE(s[0].feeds_reduce);
  EXPECT_TRUE(s[1].feeds_reduce);
  EXPECT_FALSE(s[5].feeds_reduce);
  ASSERT_TRUE(s[2].reduce);
  EXPECT_EQ(s[2].reduce->describe(), "fixed 10s");
  EXPECT_EQ(s[3].reduce->describe(), "sliding 10s every 5s, unkeyed");
  EXPECT_EQ(s[4].reduce->describe(), "session gap 30s, lateness 1s");
  EXPECT_TRUE(s[4].reduce->route_late);
  EXPECT_FALSE(s[2].reduce->route_late);
}

TEST(FlowPlanErrors, ReduceKeysAreCheckedWhereTheyAre) {
  Planned p = plan(R"(stages:
  - {name: in, source: generator, window: {fixed: 1s}}
  - {name: up, map: cat, threads: 2, watermark: {maxDelay: 1s}}
  - {name: a, reduce: count, window: {sliding: {length: 10s, slide: 3s}}, threads: 2}
  - {name: b, reduce: count, window: {fixed: 0s}}
  - {name: c, reduce: count, window: {session: {gap: 0s}}, onError: {then: drop}}
  - {name: out, sink: blackhole, keyed: true}
edges:
  - {from: in, to: up}
  - {from: up, to: a}
  - {from: up, to: b}
  - {from: up, to: c}
  - {from: a, to: out}
  - {from: b, to: out}
  - {from: c, to: out}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:2:35", "window applies to reduce stages only")) << p.diagnostics.format();
  EXPECT_TRUE(HasError(p, "flow.yaml:3:38", "watermark applies to source stages only")) << p.diagnostics.format();
  EXPECT_TRUE(HasError(p, "flow.yaml:4:39", "window: sliding window")) << p.diagnostics.format();
  EXPECT_TRUE(HasError(p, "flow.yaml:4:84", "a reduce stage runs on one worker")) << p.diagnostics.format();
  EXPECT_TRUE(HasError(p, "flow.yaml:5:46", "window: fixed window")) << p.diagnostics.format();
  EXPECT_TRUE(HasError(p, "flow.yaml:6:39", "gap must be at least 1ms")) << p.diagnostics.format();
  EXPECT_TRUE(HasError(p, "flow.yaml:6:60", "onError does not apply to a reduce stage")) << p.diagnostics.format();
  EXPECT_TRUE(HasError(p, "flow.yaml:7:41", "keyed applies to reduce stages only")) << p.diagnostics.format();
}

TEST(FlowPlanErrors, StagesUpstreamOfAReduceRunOneWorker) {
  Planned p = plan(R"(stages:
  - {name: in, source: generator}
  - {name: up, map: cat, threads: 4}
  - {name: agg, reduce: count, window: {fixed: 1s}}
  - {name: out, sink: blackhole, threads: 2}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:3:35", "stage \"up\" feeds reduce stage \"agg\" and has threads: 4"))
      << p.diagnostics.format();
  EXPECT_EQ(p.diagnostics.size(), 1u) << p.diagnostics.format();
}

TEST(FlowPlanErrors, ThreadsZero) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
    threads: 0
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:14", "threads must be between 1 and 256, got 0"));
}

TEST(FlowPlanErrors, ThreadsOver256) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
    threads: 257
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:14", "got 257"));
}

TEST(FlowPlanErrors, BatchZeroOnAStage) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
    batch: 0
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:6:12", "batch must be between 1 and 1000000, got 0"));
}

TEST(FlowPlanErrors, BatchTooLargeInTheDefaults) {
  Planned p = plan(R"(defaults:
  batch: 1000001
stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:2:10", "got 1000001"));
  EXPECT_EQ(p.diagnostics.size(), 1u) << "reported once, not once per stage:\n"
                                      << p.diagnostics.format();
}

TEST(FlowPlanErrors, LingerOver10s) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
    linger: 11s
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:13", "linger must be at most 10s"));
}

TEST(FlowPlanErrors, SeveralErrorsAreReportedInOnePass) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
    threads: 0
  - name: bad!
    map: cat
  - name: agg
    reduce: sum
  - name: out
    sink: blackhole
    onError: {fallback: ghost}
edges:
  - {from: in, to: agg}
  - {from: agg, to: out}
  - {from: in, to: nowhere}
  - {from: in, to: out}
  - {from: in, to: out}
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:14", "threads must be"));
  EXPECT_TRUE(HasError(p, "flow.yaml:5:11", "is not valid"));
  EXPECT_TRUE(HasError(p, "flow.yaml:8:13", "reduce stage \"agg\" has no window"));
  EXPECT_TRUE(HasError(p, "flow.yaml:11:25", "fallback: no stage is named \"ghost\""));
  EXPECT_TRUE(HasError(p, "flow.yaml:15:20", "no stage is named \"nowhere\""));
  EXPECT_TRUE(HasError(p, "flow.yaml:17:5", "a second edge"));
  // While an edge is wrong, reachability is not judged (it would blame every stage the
  // broken edge cut off).
  EXPECT_FALSE(HasError(p, "flow.yaml:5:5", "not reachable from any source"));
  EXPECT_GE(p.diagnostics.size(), 6u);
}

TEST(FlowPlanErrors, ImpliedChainThroughASinkIsAnError) {
  // Without edges, a sink in the middle of the chain would feed the next stage.
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: first
    sink: blackhole
  - name: second
    sink: blackhole
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:5", "sink \"first\" would feed \"second\""));
  EXPECT_EQ(p.diagnostics.size(), 1u) << p.diagnostics.format();
}

TEST(FlowPlanErrors, ImpliedChainIntoASourceIsAnError) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: m
    map: cat
  - name: in2
    source: generator
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(p.plan);
  EXPECT_TRUE(HasError(p, "flow.yaml:6:5", "source \"in2\" would be fed by \"m\""));
  EXPECT_EQ(p.diagnostics.size(), 1u) << p.diagnostics.format();
}

// ---- Binding to plugin types --------------------------------------------------------

class FlowPlanBind : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = new PluginRegistry();
    registry_->load_folder(SLUICE_BUILTIN_DIR);
    with_broken_ = new PluginRegistry();
    with_broken_->load_folder(SLUICE_FIXTURE_DIR);
    with_broken_->load_folder(SLUICE_BUILTIN_DIR);
  }
  static void TearDownTestSuite() {
    delete registry_;
    delete with_broken_;
    registry_ = with_broken_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(registry_->find("generator")) << "the built-in plugins did not load";
  }

  // Plans `yaml` (which must plan cleanly) and binds it.
  Planned bind(std::string_view yaml, const PluginRegistry* registry = nullptr) {
    Planned p = plan(yaml);
    if (!p.plan) {
      ADD_FAILURE() << "the test's flow does not plan:\n" << p.diagnostics.format();
      return p;
    }
    bound_ = bind_plugins(&*p.plan, *p.flow, registry ? *registry : *registry_, &p.diagnostics);
    EXPECT_EQ(bound_, p.diagnostics.empty()) << p.diagnostics.format();
    return p;
  }

  static PluginRegistry* registry_;
  static PluginRegistry* with_broken_;
  bool bound_ = false;
};
PluginRegistry* FlowPlanBind::registry_ = nullptr;
PluginRegistry* FlowPlanBind::with_broken_ = nullptr;

TEST_F(FlowPlanBind, ValidFlowBindsEveryStage) {
  Planned p = bind(R"(stages:
  - name: in
    source: generator
    config: {count: 5, size: 10}
  - name: mid
    map: cat
  - name: out
    sink: blackhole
)");
  ASSERT_TRUE(bound_) << p.diagnostics.format();
  for (const StagePlan& s : p.plan->stages) {
    SCOPED_TRACE(s.name);
    ASSERT_TRUE(s.type);
    EXPECT_EQ(s.type.type->name, s.type_name);
    EXPECT_NE(s.type.library, nullptr);
  }
  EXPECT_EQ(nlohmann::json::parse(p.plan->stages[0].config_json),
            nlohmann::json({{"count", 5}, {"size", 10}}));
}

TEST_F(FlowPlanBind, TypeOfSeveralKindsBindsAsEach) {
  Planned p = bind(R"(stages:
  - name: in
    source: file
    config: {path: in.txt}
  - name: out
    sink: file
    config: {path: out.txt}
)");
  EXPECT_TRUE(bound_) << p.diagnostics.format();
}

TEST_F(FlowPlanBind, UnknownTypeListsTheTypesOfThatKind) {
  Planned p = bind(R"(stages:
  - name: in
    source: genrator
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(bound_);
  EXPECT_TRUE(HasError(p, "flow.yaml:3:13", "no plugin type \"genrator\""));
  const Diagnostic* d = find_error(p, "genrator");
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->hint.find("types that can be a source: "), std::string::npos) << d->hint;
  EXPECT_NE(d->hint.find("generator"), std::string::npos) << d->hint;
  EXPECT_NE(d->hint.find("file"), std::string::npos) << d->hint;
  EXPECT_EQ(d->hint.find("blackhole"), std::string::npos) << "not a source: " << d->hint;
  EXPECT_EQ(d->hint.find("failed to load"), std::string::npos) << d->hint;
}

TEST_F(FlowPlanBind, UnknownTypeHintMentionsLibrariesThatFailedToLoad) {
  ASSERT_FALSE(with_broken_->errors().empty());
  Planned p = bind(R"(stages:
  - name: in
    source: generator
  - name: out
    sink: nosuch
)",
                   with_broken_);
  EXPECT_FALSE(bound_);
  const Diagnostic* d = find_error(p, "no plugin type \"nosuch\"");
  ASSERT_NE(d, nullptr) << p.diagnostics.format();
  EXPECT_EQ(d->where, "flow.yaml:5:11");
  EXPECT_NE(d->hint.find("plugin file(s) failed to load"), std::string::npos) << d->hint;
}

TEST_F(FlowPlanBind, TypeThatCannotBeThatKind) {
  Planned p = bind(R"(stages:
  - name: in
    source: generator
  - name: mid
    map: generator
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(bound_);
  EXPECT_TRUE(HasError(p, "flow.yaml:5:10", "type \"generator\""));
  EXPECT_TRUE(HasError(p, "flow.yaml:5:10", "cannot be a map; it can be: source"));
  EXPECT_FALSE(p.plan->stages[1].type) << "an unbound stage keeps no type";
}

TEST_F(FlowPlanBind, UnknownConfigKeyIsReportedAtTheKey) {
  Planned p = bind(R"(stages:
  - name: in
    source: generator
    config:
      cuont: 5
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(bound_);
  // A scalar field is located at its value (the loader's rule): the key's line.
  EXPECT_TRUE(HasError(p, "flow.yaml:5:14", "stage \"in\" config.cuont: "));
  const Diagnostic* d = find_error(p, "cuont");
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->message.find("unknown key"), std::string::npos) << d->message;
  EXPECT_NE(d->hint.find("generator"), std::string::npos) << d->hint;
}

TEST_F(FlowPlanBind, WrongConfigValueTypeIsReportedAtTheValue) {
  Planned p = bind(R"(stages:
  - name: in
    source: generator
    config: {size: 1, count: "x"}
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(bound_);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:30", "stage \"in\" config.count: "));
  EXPECT_EQ(p.diagnostics.size(), 1u) << p.diagnostics.format();
}

TEST_F(FlowPlanBind, EveryConfigViolationIsReported) {
  Planned p = bind(R"(stages:
  - name: in
    source: generator
    config:
      count: -1
      size: 1
      rate: "fast"
  - name: out
    sink: blackhole
    config: {extra: true}
)");
  EXPECT_FALSE(bound_);
  EXPECT_TRUE(HasError(p, "flow.yaml:5:14", "config.count"));
  EXPECT_TRUE(HasError(p, "flow.yaml:7:13", "config.rate"));
  EXPECT_TRUE(HasError(p, "flow.yaml:10:21", "stage \"out\" config.extra"));
  EXPECT_EQ(p.diagnostics.size(), 3u) << p.diagnostics.format();
}

TEST_F(FlowPlanBind, MissingRequiredConfigKeyIsReportedAtTheConfig) {
  Planned p = bind(R"(stages:
  - name: in
    source: generator
  - name: route
    map: filter
    config: {action: keep}
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(bound_);
  EXPECT_TRUE(HasError(p, "flow.yaml:6:5", "missing required key \"where\""));
}

TEST_F(FlowPlanBind, AbsentConfigIsCheckedAsAnEmptyObjectAtTheStage) {
  Planned p = bind(R"(stages:
  - name: in
    source: generator
  - name: route
    map: filter
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(bound_);
  EXPECT_TRUE(HasError(p, "flow.yaml:4:5", "missing required key \"where\""));
}

TEST_F(FlowPlanBind, NestedConfigViolationIsLocatedInside) {
  Planned p = bind(R"(stages:
  - name: in
    source: generator
  - name: route
    map: filter
    config:
      where:
        field: total
        gt: "100"
  - name: out
    sink: blackhole
)");
  EXPECT_FALSE(bound_);
  // The violation is one of a oneOf's forms: located at the object holding it.
  const Diagnostic* d = find_error(p, "config.where");
  ASSERT_NE(d, nullptr) << p.diagnostics.format();
  EXPECT_EQ(d->where, "flow.yaml:7:7");
}

TEST_F(FlowPlanBind, TypeWithoutSchemaAcceptsAnyConfig) {
  Planned p = bind(R"(stages:
  - name: in
    source: generator
  - name: up
    map: c-upper
    config: {anything: [1, 2], goes: true}
  - name: out
    sink: blackhole
)",
                   with_broken_);
  EXPECT_TRUE(bound_) << p.diagnostics.format();
}

TEST_F(FlowPlanBind, ErrorsOfSeveralStagesAreReportedTogether) {
  Planned p = bind(R"(stages:
  - name: in
    source: nosuch
  - name: mid
    map: blackhole
  - name: out
    sink: blackhole
    config: {x: 1}
)");
  EXPECT_FALSE(bound_);
  EXPECT_TRUE(HasError(p, "flow.yaml:3:13", "no plugin type"));
  EXPECT_TRUE(HasError(p, "flow.yaml:5:10", "cannot be a map"));
  EXPECT_TRUE(HasError(p, "flow.yaml:8:17", "config.x"));
  EXPECT_EQ(p.diagnostics.size(), 3u) << p.diagnostics.format();
}

// ---- Rendering ----------------------------------------------------------------------

constexpr std::string_view kRoutedFlow = R"(name: orders
stages:
  - name: in
    source: generator
  - name: route
    map: filter
    threads: 2
    onError: {fallback: dead}
  - name: big
    sink: blackhole
  - name: small
    sink: blackhole
  - name: dead
    sink: blackhole
edges:
  - {from: in, to: route}
  - {from: route, to: big, when: {tags: [big, huge]}}
  - {from: route, to: small, when: {tags: [small], match: none}}
)";

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(FlowPlanRender, MermaidHasNodesEdgesConditionsAndADashedFallback) {
  Planned p = plan(kRoutedFlow);
  ASSERT_TRUE(p.plan);
  const std::string m = render_mermaid(*p.plan);
  EXPECT_EQ(m.rfind("flowchart LR\n", 0), 0u) << m;
  EXPECT_TRUE(contains(m, "  s0([\"in<br/>source: generator\"])\n")) << m;
  EXPECT_TRUE(contains(m, "  s1[\"route<br/>map: filter x2\"]\n")) << m;
  EXPECT_TRUE(contains(m, "  s2([\"big<br/>sink: blackhole\"])\n")) << m;
  EXPECT_TRUE(contains(m, "  s4([\"dead<br/>sink: blackhole\"])\n")) << m;
  EXPECT_TRUE(contains(m, "  s0 --> s1\n")) << m;
  EXPECT_TRUE(contains(m, "  s1 -- \"any: big, huge\" --> s2\n")) << m;
  EXPECT_TRUE(contains(m, "  s1 -- \"none: small\" --> s3\n")) << m;
  EXPECT_TRUE(contains(m, "  s1 -. \"on error\" .-> s4\n")) << m;
}

TEST(FlowPlanRender, DotHasNodesEdgesConditionsAndADashedFallback) {
  Planned p = plan(kRoutedFlow);
  ASSERT_TRUE(p.plan);
  const std::string d = render_dot(*p.plan);
  EXPECT_EQ(d.rfind("digraph \"orders\" {\n", 0), 0u) << d;
  EXPECT_TRUE(contains(d, "\"in\" [shape=invhouse, label=\"in\\nsource: generator\"];")) << d;
  EXPECT_TRUE(contains(d, "\"route\" [shape=box, label=\"route\\nmap: filter\"];")) << d;
  EXPECT_TRUE(contains(d, "\"big\" [shape=house, label=\"big\\nsink: blackhole\"];")) << d;
  EXPECT_TRUE(contains(d, "  \"in\" -> \"route\";\n")) << d;
  EXPECT_TRUE(contains(d, "  \"route\" -> \"big\" [label=\"any: big, huge\"];\n")) << d;
  EXPECT_TRUE(contains(d, "  \"route\" -> \"small\" [label=\"none: small\"];\n")) << d;
  EXPECT_TRUE(contains(d, "  \"route\" -> \"dead\" [style=dashed, label=\"on error\"];\n")) << d;
  EXPECT_TRUE(contains(d, "}\n")) << d;
}

TEST(FlowPlanRender, ImpliedChainRendersItsEdges) {
  Planned p = plan(R"(stages:
  - name: in
    source: generator
  - name: out
    sink: blackhole
)");
  ASSERT_TRUE(p.plan);
  EXPECT_TRUE(contains(render_mermaid(*p.plan), "  s0 --> s1\n"));
  EXPECT_TRUE(contains(render_dot(*p.plan), "  \"in\" -> \"out\";\n"));
}

TEST(FlowPlan, KindWords) {
  EXPECT_STREQ(kind_word(SLUICE_KIND_SOURCE), "source");
  EXPECT_STREQ(kind_word(SLUICE_KIND_MAP), "map");
  EXPECT_STREQ(kind_word(SLUICE_KIND_REDUCE), "reduce");
  EXPECT_STREQ(kind_word(SLUICE_KIND_SINK), "sink");
}

}  // namespace
}  // namespace sluice::host
