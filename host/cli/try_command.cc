// `sluice try TYPE`: runs one instance of one stage type on standard input and output,
// through the real loader and ABI. The smallest flow there is (stdin -> stage -> stdout)
// and a quick way for plugin authors to poke at a type:
//   source / side-input: pulls messages (up to --count) and prints one per line;
//   map / reduce:        reads stdin lines as messages, prints what the stage emits
//                        (a reduce gets all lines as one window, then the close);
//   sink:                reads stdin lines, writes them, prints each response and a
//                        summary of outcomes on stderr.
#include <algorithm>
#include <chrono>
#include <deque>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "exit_codes.h"
#include "flow_setup.h"
#include "sluice/host/log.h"
#include "sluice/host/plugin_instance.h"

namespace sluice::cli {
namespace {

namespace fs = std::filesystem;
using namespace sluice::host;

struct Options {
  std::string type;
  std::string kind;
  std::string config = "{}";
  std::vector<std::string> dirs;
  size_t count = 10;
  size_t batch = 256;
  double idle_timeout = 1.0;
  bool json = false;
};

// Collects what the plugin hands back during one call and prints it when the call is
// over, as a flow would deliver it: nothing from a call that failed, nothing derived from
// a message that failed, no dropped output (counted instead).
class PrintingSink : public CallSink {
 public:
  explicit PrintingSink(bool json) : json_(json) {}

  void on_emit(size_t input, const sluice_output& out) override {
    Pending p{input, false, render(input, out), std::string(view(out.id))};
    for (size_t i = 0; i < out.tag_count; ++i)
      p.dropped = p.dropped || view(out.tags[i]) == SLUICE_TAG_DROP;
    pending_.push_back(std::move(p));
  }
  void on_respond(size_t input, sluice_bytes value) override {
    std::string_view v(reinterpret_cast<const char*>(value.data), value.size);
    std::string line = json_ ? dump(nlohmann::json{{"input", input}, {"response", v}})
                             : std::string(v);
    pending_.push_back({input, false, std::move(line), {}});
    ++pending_responses_;
  }
  void on_outcome(size_t input, sluice_outcome outcome, std::string_view reason) override {
    if (outcome == SLUICE_OUTCOME_OK) return;
    if (outcome == SLUICE_OUTCOME_RETRY) ++retries;
    if (outcome == SLUICE_OUTCOME_FAILED) {
      ++failures;
      failed_.push_back(input);
    }
    std::cerr << "sluice: message " << input << ": "
              << (outcome == SLUICE_OUTCOME_RETRY ? "retry" : "failed")
              << (reason.empty() ? "" : ": ") << reason << '\n';
  }

  // Ends a call: prints what it produced if it succeeded, else discards it.
  void end_call(bool succeeded) {
    if (succeeded) {
      for (Pending& p : pending_) {
        if (std::find(failed_.begin(), failed_.end(), p.input) != failed_.end()) continue;
        // A dropped output is finished like a delivered one (a source is acked for it
        // and it counts toward --count); it is just not printed as data.
        ++emitted;
        ids.push_back(std::move(p.id));
        if (p.dropped && !json_) {
          ++dropped;
          continue;
        }
        std::cout << p.line << '\n';
      }
      responses += pending_responses_;
    }
    pending_.clear();
    failed_.clear();
    pending_responses_ = 0;
  }

  // emitted: outputs delivered or dropped (not those of failed calls or messages).
  size_t emitted = 0, dropped = 0, responses = 0, retries = 0, failures = 0;
  std::vector<std::string> ids;  // the id each emitted output was given, in emit order

 private:
  struct Pending {
    size_t input;
    bool dropped;
    std::string line;
    std::string id;
  };
  static std::string_view view(sluice_str s) { return {s.data ? s.data : "", s.size}; }
  static std::string dump(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string render(size_t input, const sluice_output& out) const {
    std::string_view value(reinterpret_cast<const char*>(out.value.data), out.value.size);
    if (!json_) return std::string(value);
    nlohmann::json j{{"value", value}};
    if (input != SLUICE_NO_INPUT) j["input"] = input;
    if (out.key_count > 0 || (out.flags & SLUICE_OUTPUT_NO_KEYS)) {
      auto& keys = j["keys"] = nlohmann::json::array();
      for (size_t i = 0; i < out.key_count; ++i) keys.push_back(view(out.keys[i]));
    }
    if (out.tag_count) {
      auto& tags = j["tags"] = nlohmann::json::array();
      for (size_t i = 0; i < out.tag_count; ++i) tags.push_back(view(out.tags[i]));
    }
    if (out.event_time != SLUICE_TIME_UNSET) j["event_time"] = out.event_time;
    if (out.header_count) {
      auto& headers = j["headers"] = nlohmann::json::object();
      for (size_t i = 0; i < out.header_count; ++i)
        headers[std::string(view(out.headers[i].key))] = view(out.headers[i].value);
    }
    if (out.id.size) j["id"] = view(out.id);
    return dump(j);
  }

  bool json_;
  std::vector<Pending> pending_;
  std::vector<size_t> failed_;
  size_t pending_responses_ = 0;
};

// A batch with no messages and every time unset: what a source, a side-input
// retriever or an ack-less call starts from.
sluice_batch empty_batch() {
  sluice_batch b{};
  b.struct_size = sizeof(b);
  b.watermark = b.window_start = b.window_end = SLUICE_TIME_UNSET;
  return b;
}

// Input messages made from strings (stdin lines, ack ids). The views handed to the
// plugin stay valid while this lives and nothing is added.
class MessageBatch {
 public:
  void add(std::string id, std::string value, int64_t event_time) {
    ids_.push_back(std::move(id));
    values_.push_back(std::move(value));
    times_.push_back(event_time);
  }
  size_t size() const { return ids_.size(); }
  void clear() { ids_.clear(); values_.clear(); times_.clear(); }

  sluice_batch batch() {
    messages_.assign(ids_.size(), sluice_message{});
    pointers_.clear();
    for (size_t i = 0; i < ids_.size(); ++i) {
      sluice_message& m = messages_[i];
      m.struct_size = sizeof(m);
      m.id = {ids_[i].data(), ids_[i].size()};
      m.value = {reinterpret_cast<const uint8_t*>(values_[i].data()), values_[i].size()};
      m.event_time = times_[i];
      m.watermark = SLUICE_TIME_UNSET;
      pointers_.push_back(&m);
    }
    sluice_batch b = empty_batch();
    b.messages = pointers_.data();
    b.count = pointers_.size();
    return b;
  }

 private:
  std::deque<std::string> ids_, values_;  // deque: adding never moves earlier strings
  std::vector<int64_t> times_;
  std::vector<sluice_message> messages_;
  std::vector<const sluice_message*> pointers_;
};

// Replaces `in` with up to `max` stdin lines, ids numbered from *next_id, event time now.
bool read_lines(std::istream& stream, size_t max, size_t* next_id, MessageBatch* in) {
  in->clear();
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::string line;
  while (in->size() < max && std::getline(stream, line))
    in->add(std::to_string((*next_id)++), std::move(line), now);
  return in->size() > 0;
}

int report(const PluginInstance& inst, sluice_ctx& ctx, sluice_status s, const char* call) {
  std::cerr << "sluice: error: " << inst.type().name << " (" << inst.type().library->file().string()
            << "): " << call << " failed (" << status_name(s) << "): " << ctx.error << '\n';
  return s == SLUICE_ERROR_CONFIG ? kExitUsage : kExitFailed;
}

// Acknowledges source messages [first, end) of the run by the ids the source gave them
// (their position in emit order, "0", "1", ..., when it gave none).
sluice_status ack_range(PluginInstance& inst, sluice_ctx& ctx, const PrintingSink& out,
                        size_t first, size_t end) {
  MessageBatch acked;
  for (size_t n = first; n < end; ++n)
    acked.add(out.ids[n].empty() ? std::to_string(n) : out.ids[n], "", SLUICE_TIME_UNSET);
  sluice_batch b = acked.batch();
  return inst.ack(&ctx, b);
}

int run_source(const Options& o, PluginInstance& inst, sluice_ctx& ctx, PrintingSink& out) {
  using clock = std::chrono::steady_clock;
  auto last_data = clock::now();
  // Messages a source emits are "finished" as soon as they are printed; an ackable
  // source is acked for them after each call, as a flow would once they are sunk.
  while (out.emitted < o.count) {
    sluice_batch b = empty_batch();
    b.max_messages = std::min(o.batch, o.count - out.emitted);
    b.budget_us = 100000;
    size_t before = out.emitted;
    sluice_status s = inst.process(&ctx, b);
    out.end_call(s >= 0);
    if (s < 0) return report(inst, ctx, s, "process");
    if (out.emitted > b.max_messages + before) {
      std::cerr << "sluice: warning: " << o.type << " emitted " << out.emitted - before
                << " messages for a budget of " << b.max_messages << '\n';
    }
    // Printed means finished: an ackable source is acked for what it just emitted,
    // also after END (a flow acks messages still in flight after their source ended).
    if (inst.has_ack() && out.emitted > before) {
      sluice_status a = ack_range(inst, ctx, out, before, out.emitted);
      if (a < 0) return report(inst, ctx, a, "ack");
    }
    if (s == SLUICE_END) break;
    if (out.emitted >= o.count) {
      std::cerr << "sluice: " << o.type << ": stopped after " << o.count
                << " messages (--count); the source had not ended\n";
      break;
    }
    if (out.emitted > before) {
      last_data = clock::now();
    } else {
      if (clock::now() - last_data > std::chrono::duration<double>(o.idle_timeout)) {
        std::cerr << "sluice: " << o.type << " idle for " << o.idle_timeout << " s; stopping\n";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(s == SLUICE_IDLE ? 10 : 1));
    }
  }
  return kExitOk;
}

int run_side_input(const Options& o, PluginInstance& inst, sluice_ctx& ctx, PrintingSink& out) {
  sluice_status s = inst.process(&ctx, empty_batch());
  out.end_call(s >= 0);
  if (s < 0) return report(inst, ctx, s, "process");
  if (out.emitted == 0) std::cerr << "sluice: " << o.type << ": no change\n";
  return kExitOk;
}

int run_with_input(const Options& o, sluice_kind kind, PluginInstance& inst, sluice_ctx& ctx,
                   PrintingSink& out) {
  MessageBatch in;
  size_t next_id = 0;
  if (kind == SLUICE_KIND_REDUCE) {
    // One window holding every line, then its close.
    read_lines(std::cin, SIZE_MAX, &next_id, &in);
    sluice_batch b = in.batch();
    b.flags = SLUICE_BATCH_WINDOW_CLOSE;
    b.window_start = 0;
    b.window_end = INT64_MAX;
    sluice_status s = inst.process(&ctx, b);
    out.end_call(s >= 0);
    return s < 0 ? report(inst, ctx, s, "process") : kExitOk;
  }
  while (read_lines(std::cin, o.batch, &next_id, &in)) {
    sluice_status s = inst.process(&ctx, in.batch());
    out.end_call(s >= 0);
    if (s < 0) return report(inst, ctx, s, "process");
  }
  return kExitOk;
}

int run(const Options& o) {
  PluginRegistry reg;
  add_linked_types(reg);
  reg.load(make_plugin_search_path({o.dirs.begin(), o.dirs.end()}));
  for (const auto& e : reg.errors()) log(LogLevel::kWarn, "", e.message);
  PluginTypeRef type = reg.find(o.type);
  if (!type) {
    std::cerr << "sluice: error: no plugin provides type \"" << o.type
              << "\"; run `sluice plugins` to list the types found\n";
    return kExitUsage;
  }
  sluice_kind kind = static_cast<sluice_kind>(0);
  if (!o.kind.empty()) {
    kind = kind_from_name(o.kind);
    if (kind == 0 || !type.type->supports(kind)) {
      std::cerr << "sluice: error: type \"" << o.type << "\" has kinds "
                << kinds_to_string(type.type->kinds) << ", not \"" << o.kind << "\"\n";
      return kExitUsage;
    }
  } else if ((type.type->kinds & (type.type->kinds - 1)) == 0) {
    kind = static_cast<sluice_kind>(type.type->kinds);
  } else {
    std::cerr << "sluice: error: type \"" << o.type << "\" has several kinds ("
              << kinds_to_string(type.type->kinds) << "); choose one with --kind\n";
    return kExitUsage;
  }
  if (!nlohmann::json::accept(o.config)) {
    std::cerr << "sluice: error: --config is not valid JSON: " << o.config << '\n';
    return kExitUsage;
  }

  PrintingSink out(o.json);
  sluice_ctx ctx(kind, o.type, &out);
  InstanceSpec spec;
  spec.kind = kind;
  spec.stage_name = o.type;
  spec.config_json = o.config;
  spec.flow_dir = fs::current_path().string();
  sluice_status status;
  std::string error;
  auto inst = PluginInstance::create(type, spec, &ctx, &status, &error);
  if (!inst) {
    std::cerr << "sluice: error: " << o.type << " (" << type.library->file().string()
              << "): create failed (" << status_name(status) << "): " << ctx.error << '\n';
    return status == SLUICE_ERROR_CONFIG ? kExitUsage : kExitFailed;
  }

  int rc;
  if (kind == SLUICE_KIND_SOURCE) rc = run_source(o, *inst, ctx, out);
  else if (kind == SLUICE_KIND_SIDE_INPUT) rc = run_side_input(o, *inst, ctx, out);
  else rc = run_with_input(o, kind, *inst, ctx, out);
  if (rc == kExitOk) {
    sluice_status s = inst->finish(&ctx);
    out.end_call(s >= 0);
    if (s < 0) rc = report(*inst, ctx, s, "finish");
  }
  if (out.dropped)
    std::cerr << "sluice: " << out.dropped << " outputs dropped (tagged " SLUICE_TAG_DROP ")\n";
  // Messages that failed or await a retry were not delivered: not a success.
  if (out.failures || out.retries) {
    std::cerr << "sluice: " << out.failures << " failed, " << out.retries << " to retry\n";
    if (rc == kExitOk) rc = kExitFailed;
  }
  return rc;
}

}  // namespace

Command add_try_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "try",
      "Run one instance of a stage type on stdin/stdout: a source prints what it emits; "
      "a map or reduce reads stdin lines and prints its outputs; a sink writes stdin lines "
      "and prints its responses.");
  cmd->add_option("type", o->type, "The stage type (see `sluice plugins`)")->required();
  cmd->add_option("--kind", o->kind, "The kind to run it as, when the type has several")
      ->check(CLI::IsMember({"source", "map", "reduce", "sink", "side-input"}));
  cmd->add_option("--config", o->config, "The stage config as JSON (default {})");
  cmd->add_option("--count", o->count, "Source: stop after this many messages (default 10)");
  cmd->add_option("--batch", o->batch, "Messages per process call (default 256)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  cmd->add_option("--idle-timeout", o->idle_timeout,
                  "Source: stop after this many seconds without data (default 1)");
  cmd->add_option("--plugin-dir", o->dirs, "Extra plugin folder (repeatable; searched first)")
      ->allow_extra_args(false);  // one folder per --plugin-dir: never swallow TYPE
  cmd->add_flag("--json", o->json, "Print each output as a JSON line with keys, tags, time");
  return {cmd, [o] { return run(*o); }};
}

}  // namespace sluice::cli
