// Fixture types for the end-to-end flow tests (tests/cli/flow_run_test.cc), written with
// <sluice/plugin.hpp>. Each writes what it saw to files the test reads afterwards, so a
// test can check exactly which messages arrived, how often, and which were acknowledged.
// Paths in configs are used as given when absolute, else relative to the flow's folder.
//
//   test-ack-source (source, acknowledges):
//       {count, values?, ack_log, drop_every?, tag_every?, tag?}
//       Emits `count` messages "m0", "m1", ... (or the strings in `values`, one each),
//       with ids "id-0", "id-1", ..., at most max_messages per call, then END. With
//       `drop_every: N` every message i with i % N == N - 1 carries the drop tag; with
//       `tag_every: N` every message i with i % N == 0 carries `tag` (default "t").
//       Appends each acknowledged id as a line to `ack_log` (flushed after each ack).
//       With `fail_calls: [k, ...]` its process calls number k (0-based) throw before
//       emitting anything, so a retried or skipped call loses nothing.
//   test-flaky-sink (sink): {out, fail_values?, retry_values?, retry_times?}
//       A value in `retry_values` gets the outcome RETRY the first `retry_times`
//       (default 1) times it is seen; a value in `fail_values` gets FAILED, always;
//       every other value (and a retried one once it is accepted) is appended to `out`
//       as a line, flushed after each batch.
//   test-flaky-map (map): {fail_values?, fail_times?, error_values?, error_times?}
//       Passes values through, except: a value in `error_values` makes the whole call
//       fail (throws) the first `error_times` (default 1) times it is seen, after the
//       values before it in the batch were emitted; a value in `fail_values` fails that
//       message alone (set_outcome FAILED) the first `fail_times` (default 1) times.
//   test-tag-map (map): no config. A value "text|a,b" is passed on tagged "a" and "b"
//       (the comma-separated words after the last '|'; none after a bare '|').
//   test-slow-sink (sink): {out, delay_us?, sizes?}
//       Sleeps `delay_us` per batch, then appends its values to `out` as lines
//       (flushed after each batch); with `sizes`, also appends the number of messages
//       of each call to that file.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sluice/plugin.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

using nlohmann::json;

json parse_config(const sluice::CreateArgs& args) {
  json config = json::parse(args.config_json, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) throw sluice::ConfigError("config: expected an object");
  return config;
}

template <class T>
T get_or(const json& config, const char* key, T fallback) {
  if (!config.contains(key) || config.at(key).is_null()) return fallback;
  try {
    return config.at(key).get<T>();
  } catch (const json::exception& e) {
    throw sluice::ConfigError(std::string("config.") + key + ": " + e.what());
  }
}

std::set<std::string> string_set(const json& config, const char* key) {
  auto values = get_or(config, key, std::vector<std::string>{});
  return {values.begin(), values.end()};
}

// An append-mode file named by `config[key]` (required).
class AppendFile {
 public:
  AppendFile(const json& config, const char* key, const sluice::CreateArgs& args) {
    const std::string name = get_or(config, key, std::string());
    if (name.empty()) throw sluice::ConfigError(std::string("config.") + key + ": required");
    std::filesystem::path path(name);
    if (path.is_relative()) path = std::filesystem::path(args.flow_dir) / path;
    file_ = std::fopen(path.c_str(), "a");
    if (file_ == nullptr)
      throw sluice::ConfigError(std::string("config.") + key + ": cannot open " + path.string());
  }
  ~AppendFile() { std::fclose(file_); }
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  void line(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), file_);
    std::fputc('\n', file_);
  }
  void flush() {
    if (std::fflush(file_) != 0) throw std::runtime_error("cannot write the output file");
  }

 private:
  std::FILE* file_ = nullptr;
};

class AckSource {
 public:
  explicit AckSource(const sluice::CreateArgs& args)
      : config_(parse_config(args)), ack_log_(config_, "ack_log", args) {
    // events: ["key@ms", ...]: messages with that key and event time (value: the text).
    // "key@ms=value": the value is the text after the first '=' instead (so such a key
    // cannot hold a '='; quote the item in YAML when the value holds , [ ] { } or #).
    events_ = get_or(config_, "events", std::vector<std::string>{});
    values_.clear();
    for (std::string& e : events_) {
      const size_t eq = e.find('=');
      values_.push_back(eq == std::string::npos ? e : e.substr(eq + 1));
      if (eq != std::string::npos) e.resize(eq);
    }
    if (events_.empty()) values_ = get_or(config_, "values", std::vector<std::string>{});
    count_ = !values_.empty() ? values_.size() : get_or<size_t>(config_, "count", 0);
    // hold: after the last message, stay open (IDLE) instead of ending.
    hold_ = get_or(config_, "hold", false);
    drop_every_ = get_or<size_t>(config_, "drop_every", 0);
    tag_every_ = get_or<size_t>(config_, "tag_every", 0);
    tag_ = get_or(config_, "tag", std::string("t"));
    const auto fail_calls = get_or(config_, "fail_calls", std::vector<size_t>{});
    fail_calls_.insert(fail_calls.begin(), fail_calls.end());
  }
  sluice_status process(sluice::Context& ctx, const sluice::Batch& batch) {
    const size_t call = calls_++;
    if (fail_calls_.count(call))
      throw std::runtime_error("read failed at call " + std::to_string(call));
    for (size_t n = 0; next_ < count_ && n < batch.max_messages(); ++n, ++next_) {
      sluice::Output out(values_.empty() ? "m" + std::to_string(next_) : values_[next_]);
      out.id("id-" + std::to_string(next_));
      if (!events_.empty()) {
        const std::string& e = events_[next_];
        const size_t at = e.rfind('@');
        out.keys({std::string_view(e).substr(0, at)});
        out.event_time(std::stoll(e.substr(at + 1)));
      }
      if (drop_every_ > 0 && next_ % drop_every_ == drop_every_ - 1) out.drop();
      if (tag_every_ > 0 && next_ % tag_every_ == 0) out.tag(tag_);
      ctx.emit(out);
    }
    if (next_ >= count_) return hold_ ? SLUICE_IDLE : SLUICE_END;
    return SLUICE_OK;
  }
  void ack(sluice::Context&, const sluice::Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) ack_log_.line(batch[i].id());
    ack_log_.flush();
  }
  // The ABI 1.2 hooks: `sluice check` refuses a `require_file` that does not exist, and
  // the backlog is what is left to emit.
  static void check(const sluice::CreateArgs& args) {
    const json config = parse_config(args);
    if (!config.contains("require_file")) return;
    std::filesystem::path p = config["require_file"].get<std::string>();
    if (p.is_relative()) p = std::filesystem::path(args.flow_dir) / p;
    if (!std::filesystem::exists(p))
      throw sluice::ConfigError("config.require_file: " + p.string() +
                                " does not exist (create it, or fix the path)");
  }
  int64_t pending() const { return static_cast<int64_t>(count_ - next_); }

 private:
  json config_;
  AppendFile ack_log_;
  std::vector<std::string> values_, events_;
  bool hold_ = false;
  size_t count_ = 0, next_ = 0, drop_every_ = 0, tag_every_ = 0, calls_ = 0;
  std::string tag_;
  std::set<size_t> fail_calls_;
};

class FlakySink {
 public:
  explicit FlakySink(const sluice::CreateArgs& args)
      : config_(parse_config(args)),
        out_(config_, "out", args),
        fail_(string_set(config_, "fail_values")),
        retry_(string_set(config_, "retry_values")),
        retry_times_(get_or(config_, "retry_times", 1)) {}
  void process(sluice::Context& ctx, const sluice::Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) {
      const std::string value(batch[i].value());
      if (fail_.count(value)) {
        ctx.fail(i, "refused " + value);
      } else if (retry_.count(value) && seen_[value]++ < retry_times_) {
        ctx.retry(i, "not yet: " + value);
      } else {
        out_.line(value);
      }
    }
    out_.flush();
  }

 private:
  json config_;
  AppendFile out_;
  std::set<std::string> fail_, retry_;
  int retry_times_;
  std::map<std::string, int> seen_;
};

class FlakyMap {
 public:
  explicit FlakyMap(const sluice::CreateArgs& args)
      : config_(parse_config(args)),
        fail_(string_set(config_, "fail_values")),
        error_(string_set(config_, "error_values")),
        fail_times_(get_or(config_, "fail_times", 1)),
        error_times_(get_or(config_, "error_times", 1)) {}
  void process(sluice::Context& ctx, const sluice::Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) {
      const std::string value(batch[i].value());
      if (error_.count(value) && errors_[value]++ < error_times_)
        throw std::runtime_error("error on " + value);
      if (fail_.count(value) && fails_[value]++ < fail_times_) {
        ctx.fail(i, "failed " + value);
        continue;
      }
      ctx.emit(i, value);
    }
  }

 private:
  json config_;
  std::set<std::string> fail_, error_;
  int fail_times_, error_times_;
  std::map<std::string, int> fails_, errors_;
};

class TagMap {
 public:
  explicit TagMap(const sluice::CreateArgs&) {}
  void process(sluice::Context& ctx, const sluice::Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) {
      const std::string_view value = batch[i].value();
      sluice::Output out(value);
      const size_t bar = value.rfind('|');
      if (bar != std::string_view::npos) {
        std::string_view rest = value.substr(bar + 1);
        while (!rest.empty()) {
          const size_t comma = rest.find(',');
          out.tag(rest.substr(0, comma));
          rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
      }
      ctx.emit(i, out);
    }
  }
};

class SlowSink {
 public:
  explicit SlowSink(const sluice::CreateArgs& args)
      : config_(parse_config(args)),
        out_(config_, "out", args),
        delay_(get_or<int64_t>(config_, "delay_us", 0)) {
    if (config_.contains("sizes")) sizes_.emplace(config_, "sizes", args);
  }
  void process(sluice::Context&, const sluice::Batch& batch) {
    std::this_thread::sleep_for(delay_);
    for (size_t i = 0; i < batch.size(); ++i) out_.line(batch[i].value());
    out_.flush();
    if (sizes_) {
      sizes_->line(std::to_string(batch.size()));
      sizes_->flush();
    }
  }

 private:
  json config_;
  AppendFile out_;
  std::chrono::microseconds delay_;
  std::optional<AppendFile> sizes_;
};

}  // namespace

// Reads the side input named by config `side_input` for every message and emits
// "<value>|<side input value>@<version>"; with config `drop_listed: true` it drops a
// message whose value is a line of the side input instead (a deny-list). Every
// side_input_changed call is appended to the file config `changes` ("name@version").
class SideInputMap {
 public:
  explicit SideInputMap(const sluice::CreateArgs& args) {
    const nlohmann::json c = nlohmann::json::parse(args.config_json);
    name_ = c.value("side_input", "");
    drop_listed_ = c.value("drop_listed", false);
    changes_ = c.value("changes", "");
  }
  void process(sluice::Context& ctx, const sluice::Batch& batch) {
    for (size_t i = 0; i < batch.size(); ++i) {
      uint64_t version = 0;
      const std::string_view list = ctx.side_input(name_, &version);
      const std::string_view value = batch[i].value();
      if (drop_listed_) {
        if (!listed(list, value)) ctx.emit(i, value);
        continue;
      }
      ctx.emit(i, std::string(value) + "|" + std::string(list) + "@" + std::to_string(version));
    }
  }
  void side_input_changed(sluice::Context&, std::string_view name, uint64_t version) {
    if (changes_.empty()) return;
    if (FILE* f = std::fopen(changes_.c_str(), "a")) {
      std::fprintf(f, "%.*s@%llu\n", static_cast<int>(name.size()), name.data(),
                   static_cast<unsigned long long>(version));
      std::fclose(f);
    }
  }

 private:
  static bool listed(std::string_view list, std::string_view value) {
    while (!list.empty()) {
      const size_t nl = list.find('\n');
      if (list.substr(0, nl) == value) return true;
      if (nl == std::string_view::npos) break;
      list.remove_prefix(nl + 1);
    }
    return false;
  }
  std::string name_, changes_;
  bool drop_listed_ = false;
};

// A side-input retriever that fails while the file config `fail_flag` exists, and
// otherwise answers the content of config `path` (no "no change" logic: the manager
// keeps the version for identical bytes). Config `sleep_ms` delays every call.
class FlakyRetriever {
 public:
  explicit FlakyRetriever(const sluice::CreateArgs& args) {
    const nlohmann::json c = nlohmann::json::parse(args.config_json);
    path_ = c.value("path", "");
    fail_flag_ = c.value("fail_flag", "");
    sleep_ms_ = c.value("sleep_ms", 0);
  }
  void process(sluice::Context& ctx, const sluice::Batch&) {
    if (sleep_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    if (!fail_flag_.empty() && std::filesystem::exists(fail_flag_))
      throw std::runtime_error("failing on purpose (" + fail_flag_ + " exists)");
    std::FILE* f = std::fopen(path_.c_str(), "rb");
    if (!f) throw std::runtime_error("cannot open " + path_);
    std::string bytes;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
    std::fclose(f);
    ctx.emit(bytes);
  }

 private:
  std::string path_, fail_flag_;
  int sleep_ms_ = 0;
};

SLUICE_PLUGIN("flow-fixtures", lib) {
  lib.add<AckSource>({"test-ack-source", SLUICE_KIND_SOURCE, "1.0.0",
                      "emits m0.. with ids id-0..; logs acknowledged ids to a file"});
  lib.add<FlakySink>({"test-flaky-sink", SLUICE_KIND_SINK, "1.0.0",
                      "writes values to a file; retries or fails chosen values"});
  lib.add<FlakyMap>({"test-flaky-map", SLUICE_KIND_MAP, "1.0.0",
                     "passes values; fails chosen values or whole calls a few times"});
  lib.add<TagMap>({"test-tag-map", SLUICE_KIND_MAP, "1.0.0", "tags \"text|a,b\" with a and b"});
  lib.add<SlowSink>({"test-slow-sink", SLUICE_KIND_SINK, "1.0.0",
                     "writes values to a file after a delay per batch"});
  lib.add<SideInputMap>({"test-side-input-map", SLUICE_KIND_MAP, "1.0.0",
                         "appends a side input's value and version; or drops listed values"});
  lib.add<FlakyRetriever>({"test-flaky-retriever", SLUICE_KIND_SIDE_INPUT, "1.0.0",
                           "answers a file's content; fails while a flag file exists"});
}
