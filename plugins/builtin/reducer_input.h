// What the numeric reducers (sum, min, max) share: reading a number out of each message
// (the whole value, a top-level JSON field or a JSON pointer), the number itself (an
// integer or a double) and its JSON text, and what happens to a value that is not a
// number (onInvalid: fail | skip).
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "config.h"
#include "json_text.h"
#include "types.h"
#include "window_result.h"

namespace sluice::builtin {

// An input number: an integer (int64) or a double. Integers beyond int64 (JSON allows
// them) are read as doubles.
struct Number {
  bool is_int = true;
  int64_t i = 0;
  double d = 0;
  double as_double() const { return is_int ? static_cast<double>(i) : d; }
};

// -1, 0, 1 as a is below, equal to, above b; exact for every int64 / double pair.
inline int compare(const Number& a, const Number& b) {
  if (a.is_int && b.is_int) return a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
  // long double holds every int64 exactly on x86-64 and aarch64 (64-bit mantissa or more).
  const long double x = a.is_int ? static_cast<long double>(a.i) : a.d;
  const long double y = b.is_int ? static_cast<long double>(b.i) : b.d;
  return x < y ? -1 : x > y ? 1 : 0;
}

// A double as a JSON number that reads back as a double: the shortest text that
// round-trips, with ".0" added when that text looks like an integer ("3" -> "3.0").
// JSON has no infinity or NaN: those are written as null.
inline void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[64];
  const char* end = std::to_chars(buf, buf + sizeof buf, d).ptr;
  const std::string_view text(buf, static_cast<size_t>(end - buf));
  out += text;
  if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

inline void append_number(std::string& out, const Number& n) {
  if (n.is_int) append_integer(out, n.i);
  else append_double(out, n.d);
}

// The start of a value for an error or a warning: at most 80 bytes, as a JSON string.
inline std::string excerpt(std::string_view value) {
  std::string out;
  append_json_string(out, value.substr(0, 80));
  if (value.size() > 80) out += "...";
  return out;
}

// `keys ["a"], window [start, end)` for error and warning messages.
inline std::string describe_window(const Batch& b) {
  std::string out = "keys [";
  for (size_t k = 0; k < b.window_key_count(); ++k) {
    if (k) out += ',';
    append_json_string(out, b.window_key(k));
  }
  std::string start, end;  // append_rfc3339 quotes them: not wanted in a sentence
  append_rfc3339(start, b.window_start());
  append_rfc3339(end, b.window_end());
  out += "], window [" + start.substr(1, start.size() - 2) + ", " + end.substr(1, end.size() - 2) + ')';
  return out;
}

// Reads the number of each message as the config `field` says, and applies `onInvalid`
// to the messages that have none.
class NumberInput {
 public:
  NumberInput(Config& c, std::string type) : type_(std::move(type)) {
    field_ = c.string("field", "");
    if (c.has("field") && field_.empty()) throw c.error("field", "must not be empty");
    if (!field_.empty() && field_[0] == '/') {
      try {
        pointer_ = nlohmann::json::json_pointer(field_);
      } catch (const std::exception& e) {
        throw c.error("field", "\"" + field_ + "\" is not a JSON pointer: " + json_error_text(e));
      }
    }
    skip_ = c.choice("onInvalid", "fail", {"fail", "skip"}) == "skip";
  }

  bool skips() const { return skip_; }

  // The number of message `m`, or nullopt when it has none and it is to be skipped
  // (onInvalid: skip; logged). With onInvalid: fail, throws the error that fails the flow.
  std::optional<Number> read(Context& ctx, const Batch& b, const Message& m) {
    std::string why;
    if (std::optional<Number> n = parse(m.value(), why)) return n;
    std::string text = type_ + ": " + describe_window(b) + ": message " + std::string(m.id()) + ": " + why +
                       ": value " + excerpt(m.value());
    if (!skip_) throw FatalError(text + " (onInvalid: skip would skip such messages)");
    if (++skipped_ <= kLogged) {
      if (skipped_ == kLogged)
        text += " (further invalid values are not logged; the results' \"skipped\" counts them)";
      ctx.log(SLUICE_LOG_WARN, text + "; skipped");
    }
    return std::nullopt;
  }

  // The number in `value` as this config reads it; nullopt with the reason in `why`.
  std::optional<Number> parse(std::string_view value, std::string& why) const {
    if (field_.empty()) {
      // Fast path: a plain decimal integer.
      std::string_view t = trim(value);
      int64_t i = 0;
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), i);
      if (ec == std::errc() && end == t.data() + t.size() && !t.empty()) return Number{true, i, 0};
      nlohmann::json j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
      if (std::optional<Number> n = number_of(j)) return n;
      why = "the value is not a number";
      return std::nullopt;
    }
    nlohmann::json j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      why = "the value is not JSON";
      return std::nullopt;
    }
    const nlohmann::json* v = nullptr;
    if (pointer_) {
      try {
        if (j.contains(*pointer_)) v = &j.at(*pointer_);
      } catch (const std::exception&) {
        v = nullptr;  // e.g. a token that is not an index into an array
      }
    } else if (j.is_object()) {
      auto it = j.find(field_);
      if (it != j.end()) v = &*it;
    }
    if (v == nullptr) {
      why = std::string(pointer_ ? "no value at " : "no field ") + quoted(field_);
      return std::nullopt;
    }
    if (std::optional<Number> n = number_of(*v)) return n;
    why = std::string(pointer_ ? "the value at " : "the field ") + quoted(field_) + " is " + kind_of(*v) +
          ", not a number";
    return std::nullopt;
  }

 private:
  static constexpr uint64_t kLogged = 10;  // warnings per stage worker, then only counted

  static std::optional<Number> number_of(const nlohmann::json& j) {
    if (j.is_number_integer() && !j.is_number_unsigned()) return Number{true, j.get<int64_t>(), 0};
    if (j.is_number_unsigned()) {
      const uint64_t u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Number{true, static_cast<int64_t>(u), 0};
      return Number{false, 0, static_cast<double>(u)};
    }
    if (j.is_number_float()) return Number{false, 0, j.get<double>()};
    return std::nullopt;
  }
  static const char* kind_of(const nlohmann::json& j) {
    if (j.is_null()) return "null";
    if (j.is_boolean()) return "a boolean";
    if (j.is_string()) return "a string";
    if (j.is_array()) return "an array";
    return "an object";
  }
  static std::string_view trim(std::string_view s) {
    const char* ws = " \t\r\n";
    const size_t a = s.find_first_not_of(ws);
    if (a == std::string_view::npos) return {};
    return s.substr(a, s.find_last_not_of(ws) - a + 1);
  }
  static std::string quoted(const std::string& s) {
    std::string out;
    append_json_string(out, s);
    return out;
  }

  std::string type_;
  std::string field_;
  std::optional<nlohmann::json::json_pointer> pointer_;
  bool skip_ = false;
  uint64_t skipped_ = 0;
};

// The numeric reducers' config keys, for their schemas.
#define SLUICE_NUMBER_INPUT_SCHEMA_PROPERTIES                                                         \
  R"x("field": {"type": "string", "minLength": 1, "description": "a top-level field of each JSON value, or a JSON pointer (\"/a/b\"); absent: the whole value is the number"},)x" \
  R"x("onInvalid": {"enum": ["fail", "skip"], "default": "fail", "description": "a message without a number: fail the flow, or skip it (warned, counted in the result's skipped)"})x"

}  // namespace sluice::builtin
