#include "sluice/host/flow_plan.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "sluice/host/json_schema.h"
#include "sluice/host/log.h"

namespace sluice::host {
namespace {

namespace pb = google::protobuf;
using std::chrono::microseconds;

microseconds to_us(const pb::Duration& d) {
  return microseconds(d.seconds() * 1'000'000 + d.nanos() / 1000);
}

std::string stage_path(size_t i) { return "stages[" + std::to_string(i) + "]"; }
std::string edge_path(size_t i) { return "edges[" + std::to_string(i) + "]"; }

bool valid_stage_name(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
  });
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Reads one stage's error policy (stage settings over flow defaults).
ErrorPolicyPlan read_policy(const flow::ErrorPolicy& own, const flow::ErrorPolicy& defaults,
                            bool has_own) {
  const flow::ErrorPolicy& retry_src = has_own && own.has_retry() ? own : defaults;
  ErrorPolicyPlan p;
  if (retry_src.has_retry()) {
    const flow::Retry& r = retry_src.retry();
    if (r.has_attempts()) p.attempts = r.attempts();
    if (r.has_initial_interval()) p.initial_interval = to_us(r.initial_interval());
    if (r.has_factor()) p.factor = r.factor();
    if (r.has_cap()) p.cap = to_us(r.cap());
  }
  return p;
}

struct Planner {
  const LoadedFlow& flow;
  Diagnostics* diag;
  FlowPlan plan;
  std::map<std::string, int, std::less<>> by_name;
  bool bad_edges = false;  // some written edge was rejected
  // (where, message) already reported: a bad value in `defaults` is checked once per
  // stage that uses it, but reported once.
  std::set<std::pair<std::string, std::string>> reported = {};

  void error(const std::string& path, std::string message, std::string hint = {}) {
    std::string where = flow.where(path);
    if (!reported.emplace(where, message).second) return;
    diag->add(std::move(where), std::move(message), std::move(hint));
  }

  void stages() {
    const flow::Flow& f = flow.spec;
    const flow::StageDefaults& d = f.defaults();
    for (int i = 0; i < f.stages_size(); ++i) {
      const flow::Stage& s = f.stages(i);
      StagePlan st;
      st.path = stage_path(i);
      st.name = s.name();
      if (s.name().empty()) {
        error(st.path, "stage " + std::to_string(i + 1) + " has no name",
              "add name: <a unique name> to the stage");
      } else if (!valid_stage_name(s.name())) {
        error(st.path + ".name", "stage name \"" + s.name() + "\" is not valid",
              "use letters, digits, '-' and '_' (at most 128)");
      } else if (!by_name.emplace(s.name(), i).second) {
        error(st.path + ".name", "stage name \"" + s.name() + "\" is used twice",
              "the first is at " + flow.where(stage_path(by_name[s.name()])));
      }
      switch (s.kind_case()) {
        case flow::Stage::kSource: st.kind = SLUICE_KIND_SOURCE; st.type_name = s.source(); break;
        case flow::Stage::kMap: st.kind = SLUICE_KIND_MAP; st.type_name = s.map(); break;
        case flow::Stage::kReduce: st.kind = SLUICE_KIND_REDUCE; st.type_name = s.reduce(); break;
        case flow::Stage::kSink: st.kind = SLUICE_KIND_SINK; st.type_name = s.sink(); break;
        case flow::Stage::KIND_NOT_SET:
          error(st.path, "stage \"" + s.name() + "\" has no kind",
                "add one of source: / map: / reduce: / sink: naming a plugin type");
          break;
      }
      if (s.kind_case() != flow::Stage::KIND_NOT_SET && st.type_name.empty())
        error(st.path + "." + kind_word(st.kind), "stage \"" + s.name() + "\" names no type",
              "write the plugin type after " + std::string(kind_word(st.kind)) +
                  ": (sluice plugins lists them)");
      plan_reduce(flow, i, st.kind, &st.reduce, &st.watermark, diag);
      st.config_json = s.has_config() && !s.config().json().empty() ? s.config().json() : "{}";
      st.threads = s.has_threads() ? s.threads() : 1;
      if (st.threads == 0 || st.threads > 256)
        error(st.path + ".threads", "threads must be between 1 and 256, got " +
                                        std::to_string(st.threads));
      st.batch = s.has_batch() ? s.batch() : d.has_batch() ? d.batch() : kDefaultBatch;
      if (st.batch == 0 || st.batch > 1'000'000)
        error(s.has_batch() ? st.path + ".batch" : "defaults.batch",
              "batch must be between 1 and 1000000, got " + std::to_string(st.batch));
      st.linger = s.has_linger()   ? to_us(s.linger())
                  : d.has_linger() ? to_us(d.linger())
                                   : kDefaultLinger;
      if (st.linger > microseconds(10'000'000))
        error(s.has_linger() ? st.path + ".linger" : "defaults.linger",
              "linger must be at most 10s", "linger bounds how long a partial batch waits");
      st.ordered = s.ordered();
      st.on_error = read_policy(s.on_error(), d.on_error(), s.has_on_error());
      plan.stages.push_back(std::move(st));
    }
  }

  // Final actions and fallback targets (needs every stage's name and kind).
  void policies() {
    const flow::Flow& f = flow.spec;
    for (int i = 0; i < f.stages_size(); ++i) {
      const flow::Stage& s = f.stages(i);
      StagePlan& st = plan.stages[i];
      const bool own = s.has_on_error() && (s.on_error().then() != flow::ERROR_ACTION_UNSPECIFIED ||
                                            !s.on_error().fallback().empty());
      const flow::ErrorPolicy& p = own ? s.on_error() : f.defaults().on_error();
      const std::string where =
          own ? st.path + ".onError" : std::string("defaults.onError");
      switch (p.then()) {
        case flow::ERROR_ACTION_DROP: st.on_error.action = ErrorAction::kDrop; break;
        case flow::ERROR_ACTION_FALLBACK: st.on_error.action = ErrorAction::kFallback; break;
        case flow::ERROR_ACTION_FAIL: st.on_error.action = ErrorAction::kFail; break;
        default:
          // `fallback: x` alone means "then: fallback".
          st.on_error.action = p.fallback().empty() ? ErrorAction::kFail : ErrorAction::kFallback;
      }
      if (st.on_error.action != ErrorAction::kFallback && !p.fallback().empty() &&
          p.then() != flow::ERROR_ACTION_UNSPECIFIED)
        error(where + ".fallback", "fallback is set but then is not fallback",
              "write then: fallback, or remove fallback");
      if (st.on_error.action != ErrorAction::kFallback) continue;
      if (!own && (st.kind == SLUICE_KIND_SOURCE || p.fallback() == st.name)) {
        // A fallback in `defaults` applies where it can: a source has nothing to route,
        // and the fallback sink cannot fall back to itself; they fail instead.
        st.on_error.action = ErrorAction::kFail;
        continue;
      }
      if (st.kind == SLUICE_KIND_SOURCE) {
        error(where, "a source cannot fall back (it has no input messages to route)",
              "use then: fail or then: drop");
        continue;
      }
      if (p.fallback().empty()) {
        error(where, "then: fallback needs a fallback sink", "add fallback: <sink stage name>");
        continue;
      }
      auto it = by_name.find(p.fallback());
      if (it == by_name.end()) {
        error(where + ".fallback", "fallback: no stage is named \"" + p.fallback() + "\"",
              "stages: " + stage_names());
        continue;
      }
      if (plan.stages[it->second].kind != SLUICE_KIND_SINK) {
        error(where + ".fallback", "fallback \"" + p.fallback() + "\" is a " +
                                       kind_word(plan.stages[it->second].kind) + ", not a sink");
        continue;
      }
      if (it->second == i) {
        error(where + ".fallback", "stage \"" + st.name + "\" cannot be its own fallback");
        continue;
      }
      st.on_error.fallback_stage = it->second;
    }
  }

  std::string stage_names() const {
    std::vector<std::string> names;
    for (const StagePlan& s : plan.stages) names.push_back(s.name);
    return quoted_list(names);
  }

  uint32_t default_capacity() const {
    const flow::StageDefaults& d = flow.spec.defaults();
    return d.has_capacity() ? d.capacity() : kDefaultCapacity;
  }

  void edges() {
    const size_t errors_before = diag->size();
    resolve_edges();
    bad_edges = diag->size() != errors_before;
  }

  void resolve_edges() {
    const flow::Flow& f = flow.spec;
    if (f.edges_size() == 0) {
      // Chain in the order written, leaving out stages that serve only as fallbacks.
      std::set<int> fallbacks;
      for (const StagePlan& s : plan.stages)
        if (s.on_error.fallback_stage >= 0) fallbacks.insert(s.on_error.fallback_stage);
      int previous = -1;
      for (int i = 0; i < static_cast<int>(plan.stages.size()); ++i) {
        if (fallbacks.count(i)) continue;
        if (previous >= 0) {
          // The chain must obey the same rules as written edges.
          const StagePlan& from = plan.stages[previous];
          const StagePlan& to = plan.stages[i];
          if (from.kind == SLUICE_KIND_SINK)
            error(from.path, "sink \"" + from.name + "\" would feed \"" + to.name +
                                 "\" (without edges, stages chain in the order written)",
                  "add edges: saying which stage feeds which");
          if (to.kind == SLUICE_KIND_SOURCE)
            error(to.path, "source \"" + to.name + "\" would be fed by \"" + from.name +
                               "\" (without edges, stages chain in the order written)",
                  "add edges: saying which stage feeds which");
          EdgePlan e;
          e.from = previous;
          e.to = i;
          e.capacity = default_capacity();
          add_edge(std::move(e));
        }
        previous = i;
      }
      return;
    }
    std::set<std::pair<int, int>> seen;
    for (int i = 0; i < f.edges_size(); ++i) {
      const flow::Edge& fe = f.edges(i);
      EdgePlan e;
      e.path = edge_path(i);
      bool ok = true;
      auto resolve = [&](const std::string& name, const char* field, int* out) {
        if (name.empty()) {
          error(e.path, std::string("edge has no ") + field, std::string("add ") + field + ": <stage name>");
          ok = false;
          return;
        }
        auto it = by_name.find(name);
        if (it == by_name.end()) {
          error(e.path + "." + field, std::string(field) + ": no stage is named \"" + name + "\"",
                "stages: " + stage_names());
          ok = false;
          return;
        }
        *out = it->second;
      };
      resolve(fe.from(), "from", &e.from);
      resolve(fe.to(), "to", &e.to);
      if (!ok) continue;
      if (e.from == e.to) {
        error(e.path, "edge from \"" + fe.from() + "\" to itself");
        continue;
      }
      if (plan.stages[e.from].kind == SLUICE_KIND_SINK) {
        error(e.path + ".from", "sink \"" + fe.from() + "\" cannot have outgoing edges");
        continue;
      }
      if (plan.stages[e.to].kind == SLUICE_KIND_SOURCE) {
        error(e.path + ".to", "source \"" + fe.to() + "\" cannot have incoming edges");
        continue;
      }
      if (!seen.insert({e.from, e.to}).second) {
        error(e.path, "a second edge from \"" + fe.from() + "\" to \"" + fe.to() + "\"",
              "merge their conditions into one edge");
        continue;
      }
      e.capacity = fe.has_capacity() ? fe.capacity() : default_capacity();
      if (e.capacity == 0) error(e.path + ".capacity", "capacity must be at least 1");
      if (fe.has_when()) {
        e.conditional = true;
        e.tags.assign(fe.when().tags().begin(), fe.when().tags().end());
        if (e.tags.empty())
          error(e.path + ".when", "when has no tags", "add tags: [<tag>, ...]");
        switch (fe.when().match()) {
          case flow::TAG_MATCH_ALL: e.match = TagMatchMode::kAll; break;
          case flow::TAG_MATCH_NONE: e.match = TagMatchMode::kNone; break;
          default: e.match = TagMatchMode::kAny;
        }
      }
      add_edge(std::move(e));
    }
  }

  void add_edge(EdgePlan e) {
    const int index = static_cast<int>(plan.edges.size());
    plan.stages[e.from].out_edges.push_back(index);
    plan.stages[e.to].in_edges.push_back(index);
    plan.edges.push_back(std::move(e));
  }

  // Every route a message can take out of stage i: its edges and its fallback.
  std::vector<int> successors(int i) const {
    std::vector<int> out;
    for (int e : plan.stages[i].out_edges) out.push_back(plan.edges[e].to);
    if (plan.stages[i].on_error.fallback_stage >= 0) out.push_back(plan.stages[i].on_error.fallback_stage);
    return out;
  }

  void structure() {
    const int n = static_cast<int>(plan.stages.size());
    bool has_source = false, has_sink = false;
    for (const StagePlan& s : plan.stages) {
      has_source = has_source || s.kind == SLUICE_KIND_SOURCE;
      has_sink = has_sink || s.kind == SLUICE_KIND_SINK;
    }
    if (n == 0) {
      error("stages", "the flow has no stages", "add stages: with a source and a sink");
      return;
    }
    if (!has_source) error("stages", "the flow has no source stage");
    if (!has_sink) error("stages", "the flow has no sink stage");

    // Cycles: depth-first search, reporting the cycle's stages.
    std::vector<int> state(n, 0), stack;
    bool cycle_reported = false;
    std::function<void(int)> visit = [&](int v) {
      state[v] = 1;
      stack.push_back(v);
      for (int w : successors(v)) {
        if (state[w] == 1 && !cycle_reported) {
          std::string path;
          auto from = std::find(stack.begin(), stack.end(), w);
          for (auto it = from; it != stack.end(); ++it) path += plan.stages[*it].name + " -> ";
          path += plan.stages[w].name;
          error(plan.stages[w].path, "the flow has a cycle: " + path,
                "a flow is a DAG; remove one of these edges");
          cycle_reported = true;
        } else if (state[w] == 0) {
          visit(w);
        }
      }
      stack.pop_back();
      state[v] = 2;
    };
    for (int i = 0; i < n; ++i)
      if (state[i] == 0) visit(i);

    // Reachability is meaningless while an edge is wrong (it would blame every stage
    // the broken edge cut off): fix the edges first.
    if (bad_edges) return;

    // Reachable from a source.
    std::vector<bool> reached(n, false);
    std::vector<int> work;
    for (int i = 0; i < n; ++i)
      if (plan.stages[i].kind == SLUICE_KIND_SOURCE) {
        reached[i] = true;
        work.push_back(i);
      }
    while (!work.empty()) {
      int v = work.back();
      work.pop_back();
      for (int w : successors(v))
        if (!reached[w]) {
          reached[w] = true;
          work.push_back(w);
        }
    }
    // Reaches a sink (walk the edges backwards). Only edges count here, not fallback
    // routes: a stage whose only way to a sink is its fallback would drop every message
    // it processes successfully.
    std::vector<bool> reaches(n, false);
    for (int i = 0; i < n; ++i)
      if (plan.stages[i].kind == SLUICE_KIND_SINK) {
        reaches[i] = true;
        work.push_back(i);
      }
    while (!work.empty()) {
      int v = work.back();
      work.pop_back();
      for (int e : plan.stages[v].in_edges) {
        const int u = plan.edges[e].from;
        if (reaches[u]) continue;
        reaches[u] = true;
        work.push_back(u);
      }
    }
    for (int i = 0; i < n; ++i) {
      const StagePlan& s = plan.stages[i];
      if (s.kind == 0) continue;
      if (!reached[i] && s.kind != SLUICE_KIND_SOURCE)
        error(s.path, "stage \"" + s.name + "\" is not reachable from any source",
              "add an edge into it, or remove it");
      if (!reaches[i] && s.kind != SLUICE_KIND_SINK)
        error(s.path, "stage \"" + s.name + "\" does not lead to any sink",
              "add an edge from it towards a sink, or remove it");
    }
  }
};

// "/a/0/b" in `instance` -> ".a[0].b" (the loader's location path syntax).
std::string pointer_to_path(const nlohmann::json& instance, const std::string& pointer) {
  std::string out;
  const nlohmann::json* at = &instance;
  size_t pos = 0;
  while (pos < pointer.size() && pointer[pos] == '/') {
    size_t next = pointer.find('/', pos + 1);
    std::string token = pointer.substr(pos + 1, next == std::string::npos ? std::string::npos
                                                                          : next - pos - 1);
    // JSON Pointer escapes.
    for (size_t p; (p = token.find("~1")) != std::string::npos;) token.replace(p, 2, "/");
    for (size_t p; (p = token.find("~0")) != std::string::npos;) token.replace(p, 2, "~");
    if (at != nullptr && at->is_array()) {
      out += "[" + token + "]";
      size_t idx = std::strtoul(token.c_str(), nullptr, 10);
      at = idx < at->size() ? &(*at)[idx] : nullptr;
    } else {
      out += "." + token;
      at = at != nullptr && at->is_object() && at->contains(token) ? &(*at)[token] : nullptr;
    }
    pos = next == std::string::npos ? pointer.size() : next;
  }
  return out;
}

}  // namespace

int FlowPlan::stage_index(std::string_view name) const {
  for (size_t i = 0; i < stages.size(); ++i)
    if (stages[i].name == name) return static_cast<int>(i);
  return -1;
}

const char* kind_word(sluice_kind kind) {
  switch (kind) {
    case SLUICE_KIND_SOURCE: return "source";
    case SLUICE_KIND_MAP: return "map";
    case SLUICE_KIND_REDUCE: return "reduce";
    case SLUICE_KIND_SINK: return "sink";
    case SLUICE_KIND_SIDE_INPUT: return "side-input";
    default: return "stage";
  }
}

std::optional<FlowPlan> plan_flow(const LoadedFlow& flow, Diagnostics* diagnostics,
                                  const PlanOptions& options) {
  const size_t errors_before = diagnostics->size();
  Planner p{flow, diagnostics, {}, {}};
  const flow::Flow& f = flow.spec;
  p.plan.name = f.name().empty() ? flow.file.stem().string() : f.name();
  p.plan.mode = f.mode() == flow::MODE_JOB ? FlowMode::kJob : FlowMode::kStreaming;
  p.plan.dir = flow.dir;
  for (int i = 0; i < f.plugins_size(); ++i) {
    std::filesystem::path dir = f.plugins(i);
    p.plan.plugin_dirs.push_back(dir.is_absolute() ? dir : flow.dir / dir);
  }
  p.plan.grace_period = f.has_grace_period()
                            ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                  to_us(f.grace_period()))
                            : kDefaultGracePeriod;
  p.stages();
  p.policies();
  p.edges();
  p.structure();
  plan_reduce_paths(&p.plan.stages, p.plan.edges, flow, diagnostics);
  if (f.has_serving())
    p.plan.serving = plan_serving(flow, p.plan.name, options.getenv, diagnostics,
                                  options.read_secrets);
  // `serving:` and the built-in `serving` source (linked into the sluice executable,
  // serving/serving_source.h) come as a pair: one is useless without the other.
  int serving_sources = 0;
  for (const StagePlan& s : p.plan.stages) {
    if (s.kind != SLUICE_KIND_SOURCE || s.type_name != "serving") continue;
    ++serving_sources;
    if (!f.has_serving())
      p.error(s.path + ".source", "the serving source needs the flow's serving: block",
              "add serving: {http: 127.0.0.1:8090} (docs/serving.md)");
  }
  if (f.has_serving() && serving_sources == 0)
    p.error("serving", "serving: needs a stage that takes the requests: a source of type serving",
            "add - {name: requests, source: serving} to stages, and answer with the serve sink");
  if (f.has_serving() && p.plan.mode == FlowMode::kJob)
    p.error("mode", "a serving flow runs until it is stopped; mode: job would never end",
            "use mode: streaming (the default)");
  std::vector<std::vector<std::string>> stage_side_inputs;
  plan_side_inputs(flow, &p.plan.side_inputs, &stage_side_inputs, diagnostics);
  for (size_t i = 0; i < p.plan.stages.size() && i < stage_side_inputs.size(); ++i)
    p.plan.stages[i].side_inputs = std::move(stage_side_inputs[i]);
  if (f.has_side_inputs_timeout())
    p.plan.side_inputs_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
        to_us(f.side_inputs_timeout()));
  if (diagnostics->size() != errors_before) return std::nullopt;
  return std::move(p.plan);
}

bool bind_plugins(FlowPlan* plan, const LoadedFlow& flow, const PluginRegistry& registry,
                  Diagnostics* diagnostics) {
  const size_t errors_before = diagnostics->size();
  std::map<const PluginType*, std::optional<JsonSchema>> schemas;
  // Binds one use of a type (a stage, or a side input's retriever): the type exists,
  // supports `kind`, and `config_json` passes its schema. `what` names the user
  // ("stage \"x\"", "side input \"y\"") in messages.
  auto bind = [&](const std::string& type_name, sluice_kind kind, const std::string& kind_path,
                  const std::string& config_base, const std::string& config_json,
                  const std::string& what) -> PluginTypeRef {
    const char* role = kind == SLUICE_KIND_SIDE_INPUT ? "side-input retriever" : kind_word(kind);
    PluginTypeRef ref = registry.find(type_name);
    if (!ref) {
      std::vector<std::string> names;
      for (const PluginTypeRef& t : registry.types())
        if (t.type->supports(kind)) names.push_back(t.type->name);
      std::string hint = names.empty() ? std::string("no loaded type supports ") + role
                                       : std::string("types that can be a ") + role + ": " +
                                             quoted_list(names);
      if (!registry.errors().empty())
        hint += "; " + std::to_string(registry.errors().size()) +
                " plugin file(s) failed to load (run sluice plugins to see why)";
      diagnostics->add(flow.where(kind_path), "no plugin type \"" + type_name + "\"", hint);
      return {};
    }
    if (!ref.type->supports(kind)) {
      diagnostics->add(flow.where(kind_path),
                       "type \"" + type_name + "\" (" + ref.library->file().string() +
                           ") cannot be a " + role + "; it can be: " +
                           kinds_to_string(ref.type->kinds));
      return {};
    }
    if (ref.type->config_schema.empty()) return ref;
    auto [it, inserted] = schemas.try_emplace(ref.type);
    if (inserted) {
      std::string error;
      it->second = JsonSchema::parse(ref.type->config_schema, &error);
      if (!it->second)
        log(LogLevel::kWarn, "flow",
            "type " + type_name + " (" + ref.library->file().string() +
                ") declares a config schema that cannot be used (" + error +
                "); its configs are not checked against it");
    }
    if (!it->second) return ref;
    nlohmann::json config = nlohmann::json::parse(config_json, nullptr, false);
    if (config.is_discarded()) return ref;  // the loader made it; cannot happen
    for (const SchemaViolation& v : it->second->validate(config)) {
      const std::string path = config_base + ".config" + pointer_to_path(config, v.pointer);
      const std::string shown = "config" + pointer_to_path(config, v.pointer);
      diagnostics->add(flow.where(path), what + " " + shown + ": " + v.message,
                       "see the config of " + type_name + " in sluice plugins --json");
    }
    return ref;
  };
  for (StagePlan& s : plan->stages)
    s.type = bind(s.type_name, s.kind, s.path + "." + kind_word(s.kind), s.path, s.config_json,
                  "stage \"" + s.name + "\"");
  for (SideInputPlan& si : plan->side_inputs)
    if (!si.type_name.empty())  // none: a side-input sink sets it
      si.type = bind(si.type_name, SLUICE_KIND_SIDE_INPUT, si.path + ".retriever", si.path,
                   si.config_json, "side input \"" + si.name + "\"");
  return diagnostics->size() == errors_before;
}

namespace {
std::string condition_label(const EdgePlan& e) {
  if (!e.conditional) return "";
  std::string label = e.match == TagMatchMode::kAll   ? "all: "
                      : e.match == TagMatchMode::kNone ? "none: "
                                                       : "any: ";
  for (size_t i = 0; i < e.tags.size(); ++i) label += (i ? ", " : "") + e.tags[i];
  return label;
}

// Mermaid node ids must be simple: use s<index>.
std::string mermaid_id(int i) { return "s" + std::to_string(i); }
}  // namespace

std::string render_mermaid(const FlowPlan& plan) {
  std::string out = "flowchart LR\n";
  for (size_t i = 0; i < plan.stages.size(); ++i) {
    const StagePlan& s = plan.stages[i];
    const std::string label = s.name + "<br/>" + kind_word(s.kind) + ": " + s.type_name +
                              (s.threads > 1 ? " x" + std::to_string(s.threads) : "");
    const bool edge_kind = s.kind == SLUICE_KIND_SOURCE || s.kind == SLUICE_KIND_SINK;
    out += "  " + mermaid_id(static_cast<int>(i)) + (edge_kind ? "([\"" : "[\"") + label +
           (edge_kind ? "\"])" : "\"]") + "\n";
  }
  for (const EdgePlan& e : plan.edges) {
    // Tags are free text: Mermaid takes quotes in a label as the entity #quot;.
    std::string label;
    for (char c : condition_label(e)) label += c == '"' ? std::string("#quot;") : std::string(1, c);
    out += "  " + mermaid_id(e.from) + (label.empty() ? " --> " : " -- \"" + label + "\" --> ") +
           mermaid_id(e.to) + "\n";
  }
  for (size_t i = 0; i < plan.stages.size(); ++i)
    if (plan.stages[i].on_error.fallback_stage >= 0)
      out += "  " + mermaid_id(static_cast<int>(i)) + " -. \"on error\" .-> " +
             mermaid_id(plan.stages[i].on_error.fallback_stage) + "\n";
  return out;
}

std::string render_dot(const FlowPlan& plan) {
  auto q = [](const std::string& s) {
    std::string out = "\"";
    // Tags and flow names may hold quotes and backslashes; the node labels' \n line
    // breaks are inserted by the caller after quoting.
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  };
  std::string out = "digraph " + q(plan.name) + " {\n  rankdir=LR;\n";
  for (const StagePlan& s : plan.stages) {
    const char* shape = s.kind == SLUICE_KIND_SOURCE ? "invhouse"
                        : s.kind == SLUICE_KIND_SINK ? "house"
                                                     : "box";
    out += "  " + q(s.name) + " [shape=" + shape + ", label=" +
           q(s.name).insert(s.name.size() + 1, std::string("\\n") + kind_word(s.kind) + ": " +
                                                 s.type_name) +
           "];\n";
  }
  for (const EdgePlan& e : plan.edges) {
    out += "  " + q(plan.stages[e.from].name) + " -> " + q(plan.stages[e.to].name);
    const std::string label = condition_label(e);
    if (!label.empty()) out += " [label=" + q(label) + "]";
    out += ";\n";
  }
  for (const StagePlan& s : plan.stages)
    if (s.on_error.fallback_stage >= 0)
      out += "  " + q(s.name) + " -> " + q(plan.stages[s.on_error.fallback_stage].name) +
             " [style=dashed, label=\"on error\"];\n";
  return out + "}\n";
}

}  // namespace sluice::host
