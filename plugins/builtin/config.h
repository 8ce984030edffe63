// Strict reading of a built-in stage's JSON config: every key must be known, every
// value of the right type and range; mistakes throw sluice::ConfigError naming the key.
#pragma once

#include <sluice/plugin.hpp>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

namespace sluice::builtin {

class Config {
 public:
  explicit Config(std::string_view json_text) {
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
      throw ConfigError("config." + key + ": expected an integer, got " + v->dump());
    int64_t n = v->get<int64_t>();
    if (n < min || n > max)
      throw ConfigError("config." + key + ": " + std::to_string(n) + " is out of range [" +
                        std::to_string(min) + ", " + std::to_string(max) + "]");
    return n;
  }

  double number(const std::string& key, double fallback, double min, double max) {
    const nlohmann::json* v = take(key);
    if (v == nullptr) return fallback;
    if (!v->is_number())
      throw ConfigError("config." + key + ": expected a number, got " + v->dump());
    double d = v->get<double>();
    if (d < min || d > max)
      throw ConfigError("config." + key + ": " + v->dump() + " is out of range");
    return d;
  }

  std::string string(const std::string& key, const std::string& fallback) {
    const nlohmann::json* v = take(key);
    if (v == nullptr) return fallback;
    if (!v->is_string())
      throw ConfigError("config." + key + ": expected a string, got " + v->dump());
    return v->get<std::string>();
  }

  // Present and not null (null means "absent", as in every getter here).
  bool has(const std::string& key) const {
    auto it = json_.find(key);
    return it != json_.end() && !it->is_null();
  }

  // Call after reading every key: any key left over is a mistake (a typo, usually).
  void reject_unknown_keys() const {
    for (const auto& [key, value] : json_.items()) {
      if (read_.count(key) == 0) {
        std::string known;
        for (const auto& k : read_) known += (known.empty() ? "" : ", ") + k;
        throw ConfigError("config." + key + ": unknown key" +
                          (known.empty() ? " (this type takes no config)"
                                         : " (known keys: " + known + ")"));
      }
    }
  }

 private:
  const nlohmann::json* take(const std::string& key) {
    read_.insert(key);
    auto it = json_.find(key);
    return it == json_.end() || it->is_null() ? nullptr : &*it;
  }

  nlohmann::json json_;
  std::set<std::string> read_;
};

}  // namespace sluice::builtin
