// Strict reading of a built-in stage's JSON config: every key must be known, every
// value of the right type and range; mistakes throw sluice::ConfigError naming the key
// by its full path ("config.where.field").
//
// Everywhere here a key set to null counts as absent.
#pragma once

#include <sluice/plugin.hpp>

#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::builtin {

class Config {
 public:
  explicit Config(std::string_view json_text) : prefix_("config.") {
    json_ = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
    if (json_.is_discarded() || !json_.is_object())
      throw ConfigError("config must be a mapping of keys to values");
  }

  // An integer in [min, max]; `fallback` when absent.
  int64_t integer(const std::string& key, int64_t fallback, int64_t min = INT64_MIN,
                  int64_t max = INT64_MAX) {
    const nlohmann::json* v = take(key);
    if (v == nullptr) return fallback;
    if (!v->is_number_integer())
      throw error(key, "expected an integer, got " + v->dump());
    int64_t n = v->get<int64_t>();
    if (n < min || n > max)
      throw error(key, std::to_string(n) + " is out of range [" + std::to_string(min) +
                           ", " + std::to_string(max) + "]");
    return n;
  }

  double number(const std::string& key, double fallback, double min, double max) {
    const nlohmann::json* v = take(key);
    if (v == nullptr) return fallback;
    if (!v->is_number()) throw error(key, "expected a number, got " + v->dump());
    double d = v->get<double>();
    if (d < min || d > max) throw error(key, v->dump() + " is out of range");
    return d;
  }

  std::string string(const std::string& key, const std::string& fallback) {
    const nlohmann::json* v = take(key);
    if (v == nullptr) return fallback;
    if (!v->is_string()) throw error(key, "expected a string, got " + v->dump());
    return v->get<std::string>();
  }

  // A non-empty string that must be given; `what` says what it is, for the error.
  std::string required_string(const std::string& key, std::string_view what) {
    if (!has(key)) throw error(key, "required (" + std::string(what) + ")");
    std::string s = string(key, "");
    if (s.empty()) throw error(key, "must not be empty (" + std::string(what) + ")");
    return s;
  }

  bool boolean(const std::string& key, bool fallback) {
    const nlohmann::json* v = take(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) throw error(key, "expected true or false, got " + v->dump());
    return v->get<bool>();
  }

  // A duration written as the flow file writes them, "<digits><unit>" with unit ms, s
  // or m ("500ms", "10s", "2m"), in milliseconds; `fallback` when absent. At least
  // `min_ms`.
  int64_t duration_ms(const std::string& key, int64_t fallback, int64_t min_ms = 1) {
    const nlohmann::json* v = take(key);
    if (v == nullptr) return fallback;
    const std::string hint = " (write a duration such as \"10s\", \"500ms\" or \"2m\")";
    if (!v->is_string()) throw error(key, "expected a duration, got " + v->dump() + hint);
    const std::string s = v->get<std::string>();
    size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
    const std::string unit = s.substr(digits);
    const int64_t scale = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : 0;
    if (digits == 0 || digits > 9 || scale == 0)
      throw error(key, "\"" + s + "\" is not a duration" + hint);
    const int64_t ms = std::stoll(s.substr(0, digits)) * scale;
    if (ms < min_ms) throw error(key, "\"" + s + "\" is shorter than " + std::to_string(min_ms) + "ms");
    return ms;
  }

  // One string out of `choices`; `fallback` when absent.
  std::string choice(const std::string& key, const std::string& fallback,
                     std::initializer_list<std::string_view> choices) {
    std::string s = string(key, fallback);
    for (std::string_view c : choices)
      if (s == c) return s;
    std::string list;
    for (std::string_view c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
    throw error(key, "expected one of " + list + ", got \"" + s + "\"");
  }

  // A list of strings; empty when absent.
  std::vector<std::string> string_list(const std::string& key) {
    const nlohmann::json* v = take(key);
    std::vector<std::string> out;
    if (v == nullptr) return out;
    if (!v->is_array()) throw error(key, "expected a list of strings, got " + v->dump());
    for (const auto& item : *v) {
      if (!item.is_string())
        throw error(key, "expected a list of strings, but it holds " + item.dump());
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  // Any JSON value, unchecked; nullptr when absent.
  const nlohmann::json* value(const std::string& key) { return take(key); }

  // For keys where null is a value like any other (a value to compare with): the
  // value even when it is null; nullptr only when the key is not there at all.
  const nlohmann::json* raw(const std::string& key) {
    read_.insert(key);
    auto it = json_.find(key);
    return it == json_.end() ? nullptr : &*it;
  }
  bool contains(const std::string& key) const { return json_.contains(key); }

  // A nested mapping, read with the same strictness ("config.where.<key>"); `what`
  // says what it is, for the error when it is absent.
  Config object(const std::string& key, std::string_view what) {
    const nlohmann::json* v = take(key);
    if (v == nullptr) throw error(key, "required (" + std::string(what) + ")");
    if (!v->is_object())
      throw error(key, "expected a mapping (" + std::string(what) + "), got " + v->dump());
    return Config(*v, prefix_ + key + ".");
  }

  // Present and not null.
  bool has(const std::string& key) const {
    auto it = json_.find(key);
    return it != json_.end() && !it->is_null();
  }

  // The error for `key`: "config.<key>: <message>".
  ConfigError error(const std::string& key, const std::string& message) const {
    return ConfigError(prefix_ + key + ": " + message);
  }
  // The error for this mapping as a whole: "config.where: <message>".
  ConfigError error(const std::string& message) const {
    return ConfigError(prefix_.substr(0, prefix_.size() - 1) + ": " + message);
  }

  // Call after reading every key: any key left over is a mistake (a typo, usually).
  void reject_unknown_keys() const {
    for (const auto& [key, value] : json_.items()) {
      if (read_.count(key) == 0) {
        std::string known;
        for (const auto& k : read_) known += (known.empty() ? "" : ", ") + k;
        throw error(key, "unknown key" + (known.empty()
                                              ? std::string(" (this type takes no config)")
                                              : " (known keys: " + known + ")"));
      }
    }
  }

 private:
  Config(const nlohmann::json& object, std::string prefix)
      : json_(object), prefix_(std::move(prefix)) {}

  const nlohmann::json* take(const std::string& key) {
    read_.insert(key);
    auto it = json_.find(key);
    return it == json_.end() || it->is_null() ? nullptr : &*it;
  }

  nlohmann::json json_;
  std::string prefix_;  // "config." or "config.<parent>."
  std::set<std::string> read_;
};

// A path from the config: relative paths are relative to the flow file's folder (not
// the process's working directory, which a flow cannot know), when there is one.
inline std::filesystem::path resolve_config_path(const CreateArgs& args,
                                                 const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_relative() && !args.flow_dir.empty()) return std::filesystem::path(args.flow_dir) / p;
  return p;
}

// For stages bound to one file or stream: several workers would each open it and
// duplicate (or interleave) the data, so `threads` above 1 is a config error.
inline void require_one_worker(const CreateArgs& args, std::string_view why) {
  if (args.worker_count > 1)
    throw ConfigError("threads: " + std::to_string(args.worker_count) + " is not supported by " +
                      std::string(args.type_name) + " (" + std::string(why) +
                      "); use threads: 1");
}

}  // namespace sluice::builtin
