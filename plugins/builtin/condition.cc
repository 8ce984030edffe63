#include "condition.h"

#include <charconv>

#include "json_text.h"

namespace sluice::builtin {

namespace {

// The operators a field condition takes, exactly one at a time.
constexpr const char* kOperators[] = {"equals", "notEquals", "in", "regex", "exists",
                                      "gt",     "ge",        "lt", "le"};

std::string operator_list() {
  std::string list;
  for (const char* op : kOperators) list += (list.empty() ? "" : ", ") + std::string(op);
  return list;
}

std::regex compile(Config& where, const std::string& key) {
  const std::string pattern = where.string(key, "");
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw where.error(key, "not a valid regular expression \"" + pattern + "\": " + e.what());
  }
}

bool is_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

Condition::Condition(Config where) {
  // Every key a condition can have is known; check for typos before anything else,
  // so {field: x, eqauls: 1} says "unknown key eqauls", not "no operator".
  where.raw("field");
  for (const char* op : kOperators) where.raw(op);
  where.reject_unknown_keys();

  if (!where.contains("field")) {
    for (const char* op : kOperators)
      if (std::string_view(op) != "regex" && where.contains(op))
        throw where.error(op, "needs field (the dotted path of the JSON value to test)");
    if (!where.contains("regex"))
      throw where.error("give regex (a pattern to search each value for) or field with "
                        "one of " + operator_list());
    op_ = Op::kValueRegex;
    regex_ = compile(where, "regex");
    return;
  }

  const std::string field = where.required_string("field", "a dotted path such as a.b");
  for (size_t start = 0;;) {
    size_t dot = field.find('.', start);
    path_.push_back(field.substr(start, dot == std::string::npos ? dot : dot - start));
    if (path_.back().empty())
      throw where.error("field", "\"" + field + "\" has an empty segment (paths look like a.b.0)");
    if (dot == std::string::npos) break;
    start = dot + 1;
  }

  std::string given;
  for (const char* op : kOperators)
    if (where.contains(op)) given += (given.empty() ? "" : " and ") + std::string(op);
  if (given.empty()) throw where.error("field needs one of " + operator_list());
  if (given.find(" and ") != std::string::npos)
    throw where.error("give one operator only, not " + given);

  if (where.contains("equals") || where.contains("notEquals")) {
    op_ = where.contains("equals") ? Op::kEquals : Op::kNotEquals;
    operand_ = *where.raw(op_ == Op::kEquals ? "equals" : "notEquals");
  } else if (where.contains("in")) {
    op_ = Op::kIn;
    operand_ = *where.raw("in");
    if (!operand_.is_array())
      throw where.error("in", "expected a list of values, got " + operand_.dump());
  } else if (where.contains("regex")) {
    op_ = Op::kRegex;
    if (!where.has("regex")) throw where.error("regex", "expected a string, got null");
    regex_ = compile(where, "regex");
  } else if (where.contains("exists")) {
    op_ = Op::kExists;
    if (!where.has("exists")) throw where.error("exists", "expected true or false, got null");
    exists_ = where.boolean("exists", true);
  } else {
    static constexpr std::pair<const char*, Op> kComparisons[] = {
        {"gt", Op::kGt}, {"ge", Op::kGe}, {"lt", Op::kLt}, {"le", Op::kLe}};
    for (const auto& [name, op] : kComparisons) {
      if (!where.contains(name)) continue;
      op_ = op;
      operand_ = *where.raw(name);
      if (!operand_.is_number())
        throw where.error(name, std::string("expected a number, got ") + operand_.dump());
    }
  }
}

std::optional<bool> Condition::matches(std::string_view value, std::string* error) const {
  if (op_ == Op::kValueRegex) return std::regex_search(value.begin(), value.end(), *regex_);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(value);
  } catch (const nlohmann::json::exception& e) {
    *error = json_error_text(e);
    return std::nullopt;
  }
  return test_field(find_field(doc));
}

const nlohmann::json* Condition::find_field(const nlohmann::json& doc) const {
  const nlohmann::json* node = &doc;
  for (const std::string& segment : path_) {
    if (node->is_object()) {
      auto it = node->find(segment);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array() && is_digits(segment)) {
      size_t index = 0;
      auto [end, ec] = std::from_chars(segment.data(), segment.data() + segment.size(), index);
      if (ec != std::errc() || index >= node->size()) return nullptr;
      node = &(*node)[index];
    } else {
      return nullptr;
    }
  }
  return node;
}

bool Condition::test_field(const nlohmann::json* field) const {
  switch (op_) {
    case Op::kExists:
      return (field != nullptr) == exists_;
    case Op::kEquals:
      return field != nullptr && *field == operand_;
    case Op::kNotEquals:
      return field == nullptr || *field != operand_;
    case Op::kIn:
      if (field == nullptr) return false;
      for (const nlohmann::json& candidate : operand_)
        if (*field == candidate) return true;
      return false;
    case Op::kRegex: {
      if (field == nullptr || !field->is_string()) return false;
      const std::string& s = field->get_ref<const std::string&>();
      return std::regex_search(s, *regex_);
    }
    case Op::kGt:
    case Op::kGe:
    case Op::kLt:
    case Op::kLe:
      // Only numbers compare; nlohmann compares an integer with a float by value.
      if (field == nullptr || !field->is_number()) return false;
      if (op_ == Op::kGt) return *field > operand_;
      if (op_ == Op::kGe) return *field >= operand_;
      if (op_ == Op::kLt) return *field < operand_;
      return *field <= operand_;
    case Op::kValueRegex:
      break;  // handled in matches(): it needs no JSON
  }
  return false;
}

}  // namespace sluice::builtin
