// The `where` condition of the `filter` map: a test of one message value.
//
//   {regex: "..."}                  the value (as text) contains a match (ECMAScript)
//   {field: "a.b", <operator>}      the value is JSON; `field` is a dotted path into it
//                                   (a segment of digits also indexes an array), and
//                                   exactly one operator tests what it finds:
//     equals: <json>                the field exists and equals it (1 equals 1.0)
//     notEquals: <json>             the opposite of equals (a missing field matches)
//     in: [<json>, ...]             the field equals one of the list
//     regex: "..."                  the field is a string containing a match
//     exists: true | false          the field is there (null counts) / is not there
//     gt | ge | lt | le: <number>   the field is a number >, >=, <, <= it
//
// Immutable once built: matches() may run on several threads at once.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace sluice::builtin {

class Condition {
 public:
  // Reads and checks the condition (`where` is the config.where mapping).
  explicit Condition(Config where);

  // Whether `value` meets the condition. When a field condition meets a value that is
  // not JSON, returns nullopt and sets *error to why.
  std::optional<bool> matches(std::string_view value, std::string* error) const;

 private:
  enum class Op { kValueRegex, kEquals, kNotEquals, kIn, kRegex, kExists, kGt, kGe, kLt, kLe };

  // The field's value in `doc`, or null when the path leads nowhere.
  const nlohmann::json* find_field(const nlohmann::json& doc) const;
  bool test_field(const nlohmann::json* field) const;

  Op op_ = Op::kValueRegex;
  std::vector<std::string> path_;  // the field's segments
  nlohmann::json operand_;         // equals, notEquals, in (an array), gt..le (a number)
  std::optional<std::regex> regex_;
  bool exists_ = true;
};

}  // namespace sluice::builtin
