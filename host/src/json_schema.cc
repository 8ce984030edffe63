// The JSON Schema checker: parse() compiles the schema text into a tree of Node
// structs (one per schema object, keyword values checked and regexes compiled once),
// and validate() walks an instance against that tree, collecting every violation.
#include "sluice/host/json_schema.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <utility>

namespace sluice::host {
namespace {

using json = nlohmann::json;

// Values quoted in messages are cut to about this many characters: enough to recognise
// the value, short enough that a big object does not drown the message.
constexpr std::size_t kMaxShown = 60;

// ---- small text helpers ------------------------------------------------------------

// A value as compact JSON, cut to kMaxShown characters. Strings in an instance may hold
// bytes that are not UTF-8 (YAML can carry anything), so those are replaced, not thrown.
std::string compact(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() <= kMaxShown) return text;
  std::size_t cut = kMaxShown;
  // Do not cut a multi-byte UTF-8 character in half (continuation bytes are 10xxxxxx).
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "...";
}

// A key or string in double quotes with JSON escapes, never cut.
std::string quoted(const std::string& text) {
  return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

// "1 item", "2 items".
std::string count_of(std::uint64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

// One JSON Pointer reference token: "~" and "/" are escaped as "~0" and "~1" (RFC 6901).
std::string escape_token(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

// Length in Unicode code points, as minLength/maxLength count: every byte except the
// UTF-8 continuation bytes starts a character.
std::uint64_t code_points(const std::string& text) {
  std::uint64_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// A $ref is a URI, so its fragment may be percent-encoded ("#/$defs/a%20b").
// Returns nullopt for a malformed escape.
std::optional<std::string> percent_decode(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(text[i + 2])))
      return std::nullopt;
    out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

// ---- types -------------------------------------------------------------------------

// The seven JSON Schema type names, as bits of Node::types.
enum TypeBit : unsigned {
  kObject = 1,
  kArray = 2,
  kString = 4,
  kInteger = 8,
  kNumber = 16,
  kBoolean = 32,
  kNull = 64,
};

struct TypeName {
  TypeBit bit;
  const char* name;    // as written in a schema
  const char* with_a;  // as said in a message
};

// In the order messages list them ("expected a string or null").
constexpr TypeName kTypeNames[] = {
    {kObject, "object", "an object"}, {kArray, "array", "an array"},
    {kString, "string", "a string"},  {kInteger, "integer", "an integer"},
    {kNumber, "number", "a number"},  {kBoolean, "boolean", "a boolean"},
    {kNull, "null", "null"},
};

// The specification counts 3.0 as an integer: the type is about the value, not about
// how it was written.
bool is_integer(const json& value) {
  if (value.is_number_integer()) return true;
  if (!value.is_number_float()) return false;
  const double d = value.get<double>();
  return std::isfinite(d) && std::trunc(d) == d;
}

bool has_type(const json& value, unsigned types) {
  if ((types & kObject) && value.is_object()) return true;
  if ((types & kArray) && value.is_array()) return true;
  if ((types & kString) && value.is_string()) return true;
  if ((types & kInteger) && is_integer(value)) return true;
  if ((types & kNumber) && value.is_number()) return true;
  if ((types & kBoolean) && value.is_boolean()) return true;
  if ((types & kNull) && value.is_null()) return true;
  return false;
}

// ---- the compiled schema -----------------------------------------------------------

struct Pattern {
  std::string source;  // as written, for messages
  std::regex regex;
};

// One schema object (or boolean schema), with its keyword values checked. Absent
// keywords are empty optionals, null pointers or empty lists. Nodes point at each
// other (subschemas, $ref targets) and are owned by Impl::nodes.
struct Node {
  std::string location;  // JSON Pointer within the schema document, for parse errors
  bool rejects_all =
      false;  // the schema `false`; `true` is simply a Node with no keywords

  unsigned types = 0;  // TypeBit mask; 0: any type
  std::optional<json> const_value;
  std::optional<std::vector<json>> enum_values;

  // numbers (kept as JSON so integers compare exactly)
  std::optional<json> minimum, maximum, exclusive_minimum, exclusive_maximum, multiple_of;

  // strings
  std::optional<std::uint64_t> min_length, max_length;
  std::optional<Pattern> pattern;

  // arrays
  std::vector<const Node*> prefix_items;
  const Node* items = nullptr;  // for items after prefix_items
  std::optional<std::uint64_t> min_items, max_items;
  bool unique_items = false;

  // objects
  std::map<std::string, const Node*> properties;  // sorted: "known keys" lists them so
  std::vector<std::pair<Pattern, const Node*>> pattern_properties;
  const Node* additional_properties =
      nullptr;  // for keys matched by neither of the above
  std::vector<std::string> required;
  std::optional<std::uint64_t> min_properties, max_properties;

  // applicators that check the same value again
  const Node* ref = nullptr;
  std::vector<const Node*> all_of, any_of, one_of;
  const Node* not_schema = nullptr;
  std::string not_text;  // the "not" schema, compact, for its message
  const Node* if_schema = nullptr;
  const Node* then_schema = nullptr;
  const Node* else_schema = nullptr;
};

}  // namespace

struct JsonSchema::Impl {
  std::deque<Node> nodes;  // a deque so Node pointers stay valid as nodes are added
  const Node* root = nullptr;
};

namespace {

// ---- parsing -----------------------------------------------------------------------

// Thrown inside the parser; parse() turns it into *error. An exception keeps every
// keyword check to one line instead of threading a failure through each call.
struct SchemaError {
  std::string message;
};

// Standard keywords this checker does not implement. Ignoring them like annotations
// would quietly accept configs their authors meant to refuse, so they are errors.
constexpr const char* kUnsupported[] = {
    "additionalItems",       "contains",         "dependencies",
    "dependentRequired",     "dependentSchemas", "maxContains",
    "minContains",           "propertyNames",    "unevaluatedItems",
    "unevaluatedProperties", "$dynamicRef",      "$recursiveRef",
};

class Parser {
 public:
  Parser(const json& document, std::deque<Node>& nodes)
      : document_(document), nodes_(nodes) {}

  const Node* parse_root() {
    const Node* root = node_at("", document_);
    check_for_loops();
    return root;
  }

 private:
  // The node for the schema at `location`, parsed once: a $ref to a schema that is
  // still being parsed (recursion) gets the same node.
  const Node* node_at(const std::string& location, const json& schema) {
    if (auto it = by_location_.find(location); it != by_location_.end())
      return it->second;
    Node& node = nodes_.emplace_back();
    node.location = location;
    by_location_[location] = &node;
    parse_into(node, schema);
    return &node;
  }

  static std::string shown(const std::string& location) { return "#" + location; }

  [[noreturn]] static void fail(const Node& node, const char* keyword,
                                const std::string& what) {
    throw SchemaError{"\"" + std::string(keyword) + "\" at " + shown(node.location) +
                      " " + what};
  }

  void parse_into(Node& node, const json& schema) {
    if (schema.is_boolean()) {
      node.rejects_all = !schema.get<bool>();
      return;
    }
    if (!schema.is_object())
      throw SchemaError{"the schema at " + shown(node.location) +
                        " must be an object or a boolean, got " + compact(schema)};

    for (const char* keyword : kUnsupported)
      if (schema.contains(keyword))
        fail(node, keyword, "is not supported by this checker");

    if (const json* v = find(schema, "type")) node.types = types(node, *v);
    if (const json* v = find(schema, "const")) node.const_value = *v;
    if (const json* v = find(schema, "enum")) {
      if (!v->is_array()) fail(node, "enum", "must be an array, got " + compact(*v));
      node.enum_values = v->get<std::vector<json>>();
    }

    node.minimum = number(node, schema, "minimum");
    node.maximum = number(node, schema, "maximum");
    node.exclusive_minimum = number(node, schema, "exclusiveMinimum");
    node.exclusive_maximum = number(node, schema, "exclusiveMaximum");
    node.multiple_of = number(node, schema, "multipleOf");
    if (node.multiple_of && !(node.multiple_of->get<double>() > 0))
      fail(node, "multipleOf",
           "must be greater than 0, got " + compact(*node.multiple_of));

    node.min_length = count(node, schema, "minLength");
    node.max_length = count(node, schema, "maxLength");
    if (const json* v = find(schema, "pattern")) {
      if (!v->is_string()) fail(node, "pattern", "must be a string, got " + compact(*v));
      node.pattern = regex(node, "pattern", v->get<std::string>());
    }

    if (const json* v = find(schema, "prefixItems"))
      node.prefix_items = schema_list(node, "prefixItems", *v);
    if (const json* v = find(schema, "items")) {
      if (v->is_array())  // the draft-07 tuple form, renamed in 2020-12
        fail(node, "items",
             "must be a schema (for a list of schemas use \"prefixItems\")");
      node.items = subschema(node, "items", *v);
    }
    node.min_items = count(node, schema, "minItems");
    node.max_items = count(node, schema, "maxItems");
    if (const json* v = find(schema, "uniqueItems")) {
      if (!v->is_boolean())
        fail(node, "uniqueItems", "must be true or false, got " + compact(*v));
      node.unique_items = v->get<bool>();
    }

    if (const json* v = find(schema, "properties")) {
      for (const auto& [key, sub] : schema_map(node, "properties", *v).items())
        node.properties[key] =
            node_at(node.location + "/properties/" + escape_token(key), sub);
    }
    if (const json* v = find(schema, "patternProperties")) {
      for (const auto& [key, sub] : schema_map(node, "patternProperties", *v).items())
        node.pattern_properties.emplace_back(
            regex(node, "patternProperties", key),
            node_at(node.location + "/patternProperties/" + escape_token(key), sub));
    }
    if (const json* v = find(schema, "additionalProperties"))
      node.additional_properties = subschema(node, "additionalProperties", *v);
    if (const json* v = find(schema, "required")) {
      if (!v->is_array())
        fail(node, "required", "must be an array of key names, got " + compact(*v));
      for (const json& key : *v) {
        if (!key.is_string())
          fail(node, "required", "must list key names (strings), got " + compact(key));
        node.required.push_back(key.get<std::string>());
      }
    }
    node.min_properties = count(node, schema, "minProperties");
    node.max_properties = count(node, schema, "maxProperties");

    if (const json* v = find(schema, "$ref")) node.ref = resolve(node, *v);
    if (const json* v = find(schema, "allOf"))
      node.all_of = schema_list(node, "allOf", *v);
    if (const json* v = find(schema, "anyOf"))
      node.any_of = schema_list(node, "anyOf", *v);
    if (const json* v = find(schema, "oneOf"))
      node.one_of = schema_list(node, "oneOf", *v);
    if (const json* v = find(schema, "not")) {
      node.not_schema = subschema(node, "not", *v);
      node.not_text = compact(*v);
    }
    // then/else without if do nothing, but are still parsed so their mistakes show.
    if (const json* v = find(schema, "if")) node.if_schema = subschema(node, "if", *v);
    if (const json* v = find(schema, "then"))
      node.then_schema = subschema(node, "then", *v);
    if (const json* v = find(schema, "else"))
      node.else_schema = subschema(node, "else", *v);

    // Definitions are parsed even when nothing refers to them, so a mistake in one is
    // reported when the plugin's schema is loaded rather than when it is first used.
    for (const char* keyword : {"$defs", "definitions"}) {
      if (const json* v = find(schema, keyword))
        for (const auto& [key, sub] : schema_map(node, keyword, *v).items())
          node_at(node.location + "/" + keyword + "/" + escape_token(key), sub);
    }
  }

  static const json* find(const json& schema, const char* keyword) {
    auto it = schema.find(keyword);
    return it == schema.end() ? nullptr : &*it;
  }

  unsigned types(const Node& node, const json& value) {
    // "type" is one name or a non-empty list of names.
    std::vector<json> names =
        value.is_array() ? value.get<std::vector<json>>() : std::vector<json>{value};
    if (names.empty()) fail(node, "type", "must not be an empty list");
    unsigned mask = 0;
    for (const json& name : names) {
      unsigned bit = 0;
      for (const TypeName& t : kTypeNames)
        if (name.is_string() && name.get<std::string>() == t.name) bit = t.bit;
      if (bit == 0)
        fail(node, "type",
             "must be one of object, array, string, integer, number, boolean, null (or a "
             "list "
             "of them), got " +
                 compact(name));
      mask |= bit;
    }
    return mask;
  }

  std::optional<json> number(const Node& node, const json& schema, const char* keyword) {
    const json* v = find(schema, keyword);
    if (!v) return std::nullopt;
    if (!v->is_number()) fail(node, keyword, "must be a number, got " + compact(*v));
    return *v;
  }

  // A count (minLength, maxItems, ...): a non-negative integer, 3.0 included.
  std::optional<std::uint64_t> count(const Node& node, const json& schema,
                                     const char* keyword) {
    const json* v = find(schema, keyword);
    if (!v) return std::nullopt;
    if (v->is_number_unsigned()) return v->get<std::uint64_t>();
    // 1e18 keeps the conversion from double in range; no real count comes close.
    if (is_integer(*v) && v->get<double>() >= 0 && v->get<double>() <= 1e18)
      return static_cast<std::uint64_t>(v->get<double>());
    fail(node, keyword, "must be a non-negative integer, got " + compact(*v));
  }

  Pattern regex(const Node& node, const char* keyword, const std::string& source) {
    try {
      return Pattern{source, std::regex(source, std::regex::ECMAScript)};
    } catch (const std::regex_error& e) {
      fail(node, keyword,
           quoted(source) + " is not a valid regular expression: " + e.what());
    }
  }

  const Node* subschema(const Node& node, const char* keyword, const json& value) {
    return node_at(node.location + "/" + keyword, value);
  }

  std::vector<const Node*> schema_list(const Node& node, const char* keyword,
                                       const json& value) {
    if (!value.is_array() || value.empty())
      fail(node, keyword, "must be a non-empty array of schemas, got " + compact(value));
    std::vector<const Node*> out;
    for (std::size_t i = 0; i < value.size(); ++i)
      out.push_back(
          node_at(node.location + "/" + keyword + "/" + std::to_string(i), value[i]));
    return out;
  }

  // An object whose values are schemas (properties, $defs, ...); returned as is after
  // checking its shape, so the caller builds each member's location.
  static const json& schema_map(const Node& node, const char* keyword,
                                const json& value) {
    if (!value.is_object())
      fail(node, keyword, "must be an object of schemas, got " + compact(value));
    return value;
  }

  // Only references into this same document: plugin schemas are self-contained, and
  // there is nowhere to fetch another document from.
  const Node* resolve(const Node& node, const json& value) {
    if (!value.is_string()) fail(node, "$ref", "must be a string, got " + compact(value));
    const std::string ref = value.get<std::string>();
    if (ref.empty() || ref[0] != '#')
      fail(node, "$ref",
           "must refer into this schema (\"#/$defs/name\"); other documents are not "
           "supported, got " +
               quoted(ref));
    std::optional<std::string> pointer = percent_decode(ref.substr(1));
    if (!pointer || (!pointer->empty() && (*pointer)[0] != '/'))
      fail(node, "$ref",
           "must be \"#\" or \"#\" followed by a JSON Pointer such as \"#/$defs/name\", "
           "got " +
               quoted(ref));
    try {
      json::json_pointer target(*pointer);
      if (!document_.contains(target))
        fail(node, "$ref", quoted(ref) + " does not resolve");
      // to_string() spells the pointer the way node locations are spelled, so a target
      // reached both by $ref and by nesting is one node.
      return node_at(target.to_string(), document_.at(target));
    } catch (const json::exception&) {
      fail(node, "$ref", quoted(ref) + " is not a valid JSON Pointer");
    }
  }

  // A chain of $ref/allOf/anyOf/oneOf/not/if/then/else that leads back to where it
  // started would check the same value forever, so such a schema is refused.
  void check_for_loops() {
    std::map<const Node*, int> state;  // absent: not seen, 1: on the path, 2: done
    std::vector<const Node*> path;
    for (const Node& node : nodes_) visit(&node, state, path);
  }

  void visit(const Node* node, std::map<const Node*, int>& state,
             std::vector<const Node*>& path) {
    if (state[node] == 2) return;
    if (state[node] == 1) {
      std::vector<std::string> steps;
      auto start = std::find(path.begin(), path.end(), node);
      for (auto it = start; it != path.end(); ++it)
        steps.push_back(shown((*it)->location));
      steps.push_back(shown(node->location));
      throw SchemaError{"the schema at " + shown(node->location) +
                        " refers back to itself without going into the value (" +
                        join(steps, " -> ") + "), so it could never be checked"};
    }
    state[node] = 1;
    path.push_back(node);
    std::vector<const Node*> next = {node->ref, node->not_schema, node->if_schema,
                                     node->then_schema, node->else_schema};
    for (const auto* list : {&node->all_of, &node->any_of, &node->one_of})
      next.insert(next.end(), list->begin(), list->end());
    for (const Node* n : next)
      if (n) visit(n, state, path);
    path.pop_back();
    state[node] = 2;
  }

  const json& document_;
  std::deque<Node>& nodes_;  // where new nodes go (Impl::nodes)
  std::map<std::string, const Node*> by_location_;
};

// ---- validation --------------------------------------------------------------------

// Where a value sits in the instance.
struct Place {
  std::string pointer;             // JSON Pointer, "" for the root
  std::vector<std::size_t> order;  // each step's position in its parent, for sorting

  Place child(const std::string& key, std::size_t position) const {
    Place c{pointer + "/" + escape_token(key), order};
    c.order.push_back(position);
    return c;
  }
};

struct Found {
  Place place;
  std::string message;
};

using Findings = std::vector<Found>;

void report(Findings& out, const Place& place, std::string message) {
  out.push_back({place, std::move(message)});
}

// Document order: a value before its members, members in the instance's order. Stable,
// so the problems of one value keep the order the keywords were checked in.
void sort_by_document_order(Findings& found) {
  std::stable_sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return a.place.order < b.place.order;
  });
}

bool is_negative_integer(const json& n) {
  return n.is_number_integer() && !n.is_number_unsigned() && n.get<std::int64_t>() < 0;
}

// a < b for two JSON numbers. Integers compare exactly (a double holds only 53 bits),
// and by sign first: nlohmann's own operator< casts an unsigned value above INT64_MAX to
// signed, so it would find 18446744073709551615 equal to -1. (enum, const and
// uniqueItems still use its operator==, which shares that quirk for such values.)
bool less(const json& a, const json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    const bool a_negative = is_negative_integer(a);
    if (a_negative != is_negative_integer(b)) return a_negative;
    if (a_negative) return a.get<std::int64_t>() < b.get<std::int64_t>();
    return a.get<std::uint64_t>() < b.get<std::uint64_t>();
  }
  return a.get<double>() < b.get<double>();
}

bool is_multiple(const json& value, const json& divisor) {
  if (value.is_number_integer() && divisor.is_number_integer()) {
    // Exact for integers: a double holds only 53 bits. The divisor is > 0 (parse checks).
    const auto d = divisor.get<std::uint64_t>();
    if (value.is_number_unsigned()) return value.get<std::uint64_t>() % d == 0;
    const auto v = value.get<std::int64_t>();
    const std::uint64_t magnitude = v < 0
                                        ? std::uint64_t{0} - static_cast<std::uint64_t>(v)
                                        : static_cast<std::uint64_t>(v);
    return magnitude % d == 0;
  }
  // Decimals have no exact binary form (0.3 / 0.1 is 2.9999999999999996), so a quotient
  // within a few units of rounding error of a whole number counts as one.
  const double q = value.get<double>() / divisor.get<double>();
  if (!std::isfinite(q)) return false;
  return std::abs(q - std::round(q)) <=
         4 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(q));
}

void check(const Node& node, const json& value, const Place& place, Findings& out);

void check_number(const Node& node, const json& value, const Place& place,
                  Findings& out) {
  const std::string shown = compact(value);
  if (node.minimum && less(value, *node.minimum))
    report(out, place, shown + " is less than the minimum " + compact(*node.minimum));
  if (node.maximum && less(*node.maximum, value))
    report(out, place, shown + " is greater than the maximum " + compact(*node.maximum));
  if (node.exclusive_minimum && !less(*node.exclusive_minimum, value))
    report(out, place,
           shown + " is not greater than the exclusive minimum " +
               compact(*node.exclusive_minimum));
  if (node.exclusive_maximum && !less(value, *node.exclusive_maximum))
    report(out, place,
           shown + " is not less than the exclusive maximum " +
               compact(*node.exclusive_maximum));
  if (node.multiple_of && !is_multiple(value, *node.multiple_of))
    report(out, place, shown + " is not a multiple of " + compact(*node.multiple_of));
}

void check_string(const Node& node, const json& value, const Place& place,
                  Findings& out) {
  const std::string& text = value.get_ref<const std::string&>();
  const std::uint64_t length = code_points(text);
  if (node.min_length && length < *node.min_length)
    report(out, place,
           compact(value) + " has " + count_of(length, "character") +
               ", fewer than the minimum " + std::to_string(*node.min_length));
  if (node.max_length && length > *node.max_length)
    report(out, place,
           compact(value) + " has " + count_of(length, "character") +
               ", more than the maximum " + std::to_string(*node.max_length));
  if (node.pattern) {
    // Search, not full match: JSON Schema patterns are unanchored ("^...$" anchors).
    // std::regex can give up on a pathological pattern/input pair; say so instead of
    // throwing out of validate().
    try {
      if (!std::regex_search(text, node.pattern->regex))
        report(out, place,
               compact(value) + " does not match the pattern " + node.pattern->source);
    } catch (const std::regex_error& e) {
      report(out, place,
             compact(value) + " could not be checked against the pattern " +
                 node.pattern->source + ": " + e.what());
    }
  }
}

void check_array(const Node& node, const json& value, const Place& place, Findings& out) {
  const std::size_t size = value.size();
  if (node.min_items && size < *node.min_items)
    report(out, place,
           "has " + count_of(size, "item") + ", fewer than the minimum " +
               std::to_string(*node.min_items));
  if (node.max_items && size > *node.max_items)
    report(out, place,
           "has " + count_of(size, "item") + ", more than the maximum " +
               std::to_string(*node.max_items));
  for (std::size_t i = 0; i < size; ++i) {
    const Place item = place.child(std::to_string(i), i);
    if (i < node.prefix_items.size()) {
      check(*node.prefix_items[i], value[i], item, out);
    } else if (node.items && node.items->rejects_all) {
      // "items": false closes a tuple; say how long it may be rather than "not allowed".
      const std::size_t n = node.prefix_items.size();
      report(out, item,
             n == 0 ? "unexpected item (the array must be empty)"
                    : "unexpected item (at most " + count_of(n, "item") + " allowed)");
    } else if (node.items) {
      check(*node.items, value[i], item, out);
    }
  }
  if (node.unique_items) {
    // Quadratic, which is fine for config lists. JSON equality: 1 equals 1.0.
    for (std::size_t j = 1; j < size; ++j)
      for (std::size_t i = 0; i < j; ++i)
        if (value[i] == value[j]) {
          report(out, place.child(std::to_string(j), j),
                 compact(value[j]) + " is a duplicate of item " + std::to_string(i) +
                     " (items must be unique)");
          break;
        }
  }
}

std::string unknown_key_message(const Node& node, const std::string& key) {
  std::vector<std::string> known;
  for (const auto& [name, sub] : node.properties) known.push_back(name);
  std::vector<std::string> patterns;
  for (const auto& [pattern, sub] : node.pattern_properties)
    patterns.push_back(pattern.source);

  std::string message = "unknown key " + quoted(key);
  if (known.empty() && patterns.empty()) return message + " (no keys are allowed)";
  if (known.empty()) return message + " (keys must match " + join(patterns, " or ") + ")";
  message += " (known keys: " + join(known, ", ");
  if (!patterns.empty()) message += "; or keys matching " + join(patterns, " or ");
  return message + ")";
}

void check_object(const Node& node, const json& value, const Place& place,
                  Findings& out) {
  for (const std::string& key : node.required)
    if (!value.contains(key)) report(out, place, "missing required key " + quoted(key));
  const std::size_t size = value.size();
  if (node.min_properties && size < *node.min_properties)
    report(out, place,
           "has " + count_of(size, "key") + ", fewer than the minimum " +
               std::to_string(*node.min_properties));
  if (node.max_properties && size > *node.max_properties)
    report(out, place,
           "has " + count_of(size, "key") + ", more than the maximum " +
               std::to_string(*node.max_properties));

  std::size_t position = 0;
  for (auto it = value.begin(); it != value.end(); ++it, ++position) {
    const std::string& key = it.key();
    const Place member = place.child(key, position);
    bool matched = false;
    if (auto p = node.properties.find(key); p != node.properties.end()) {
      check(*p->second, *it, member, out);
      matched = true;
    }
    for (const auto& [pattern, sub] : node.pattern_properties) {
      bool found = false;
      try {
        found = std::regex_search(key, pattern.regex);
      } catch (const std::regex_error&) {
        // Treated as not matching; additionalProperties then decides.
      }
      if (found) {
        check(*sub, *it, member, out);
        matched = true;
      }
    }
    if (matched || !node.additional_properties) continue;
    if (node.additional_properties->rejects_all)
      report(out, member, unknown_key_message(node, key));
    else
      check(*node.additional_properties, *it, member, out);
  }
}

// For anyOf/oneOf messages: an alternative's first problem (in document order), with
// its place relative to the value being checked, and how many more it had.
std::string first_problem(Findings found, const Place& place) {
  sort_by_document_order(found);
  const Found& first = found.front();
  std::string text = first.message;
  if (first.place.pointer != place.pointer)
    text = "at " + first.place.pointer.substr(place.pointer.size()) + ": " + text;
  if (found.size() > 1)
    text += " (and " + count_of(found.size() - 1, "more problem") + ")";
  return text;
}

std::string none_matched(const std::vector<Findings>& failures, const Place& place) {
  std::vector<std::string> forms;
  for (std::size_t i = 0; i < failures.size(); ++i) {
    // Built with += : GCC 12 at -O3 misreports "(" + std::to_string(...) (-Wrestrict,
    // GCC bug 105329), which -Werror would turn into a failed Release build.
    std::string form = "(";
    form += std::to_string(i + 1) + ") " + first_problem(failures[i], place);
    forms.push_back(std::move(form));
  }
  return "matches none of the " + std::to_string(failures.size()) +
         " allowed forms: " + join(forms, "; ");
}

void check_any_of(const Node& node, const json& value, const Place& place,
                  Findings& out) {
  std::vector<Findings> failures;
  for (const Node* alternative : node.any_of) {
    Findings found;
    check(*alternative, value, place, found);
    if (found.empty()) return;
    failures.push_back(std::move(found));
  }
  report(out, place, none_matched(failures, place));
}

void check_one_of(const Node& node, const json& value, const Place& place,
                  Findings& out) {
  std::vector<Findings> failures;
  std::vector<std::string> matched;  // 1-based numbers of the forms that matched
  for (std::size_t i = 0; i < node.one_of.size(); ++i) {
    Findings found;
    check(*node.one_of[i], value, place, found);
    if (found.empty())
      matched.push_back(std::to_string(i + 1));
    else
      failures.push_back(std::move(found));
  }
  if (matched.empty())
    report(out, place, none_matched(failures, place));
  else if (matched.size() > 1)
    report(out, place,
           "matches " + std::to_string(matched.size()) + " of the " +
               std::to_string(node.one_of.size()) + " allowed forms (" +
               join(matched, " and ") + "), but must match exactly one");
}

void check(const Node& node, const json& value, const Place& place, Findings& out) {
  if (node.rejects_all) {
    report(out, place, "no value is allowed here");
    return;
  }
  if (node.types != 0 && !has_type(value, node.types)) {
    std::vector<std::string> expected;
    for (const TypeName& t : kTypeNames)
      if (node.types & t.bit) expected.push_back(t.with_a);
    report(out, place, "expected " + join(expected, " or ") + ", got " + compact(value));
    // The other keywords here would mostly repeat this in other words ("5 is not one
    // of ...", "missing required key"), so one clear message is kept.
    return;
  }
  if (node.const_value && value != *node.const_value)
    report(out, place,
           "expected " + compact(*node.const_value) + ", got " + compact(value));
  if (node.enum_values && std::find(node.enum_values->begin(), node.enum_values->end(),
                                    value) == node.enum_values->end()) {
    std::vector<std::string> allowed;
    for (const json& v : *node.enum_values) allowed.push_back(compact(v));
    report(out, place, compact(value) + " is not one of: " + join(allowed, ", "));
  }

  if (value.is_number()) check_number(node, value, place, out);
  if (value.is_string()) check_string(node, value, place, out);
  if (value.is_array()) check_array(node, value, place, out);
  if (value.is_object()) check_object(node, value, place, out);

  if (node.ref) check(*node.ref, value, place, out);
  for (const Node* sub : node.all_of) check(*sub, value, place, out);
  if (!node.any_of.empty()) check_any_of(node, value, place, out);
  if (!node.one_of.empty()) check_one_of(node, value, place, out);
  if (node.not_schema) {
    Findings found;
    check(*node.not_schema, value, place, found);
    if (found.empty()) report(out, place, "must not match the schema " + node.not_text);
  }
  if (node.if_schema) {
    Findings found;
    check(*node.if_schema, value, place, found);
    const Node* branch = found.empty() ? node.then_schema : node.else_schema;
    if (branch) check(*branch, value, place, out);
  }
}

}  // namespace

std::optional<JsonSchema> JsonSchema::parse(std::string_view text, std::string* error) {
  auto set_error = [&](std::string message) {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& e) {
    // what() starts with "[json.exception.parse_error.101] ", which helps nobody.
    std::string what = e.what();
    if (auto end = what.find("] ");
        what.rfind("[json.exception", 0) == 0 && end != std::string::npos)
      what = what.substr(end + 2);
    return set_error("the schema is not valid JSON: " + what);
  }
  auto impl = std::make_shared<Impl>();
  try {
    impl->root = Parser(document, impl->nodes).parse_root();
  } catch (const SchemaError& e) {
    return set_error(e.message);
  }
  JsonSchema schema;
  schema.impl_ = std::move(impl);
  return schema;
}

std::vector<SchemaViolation> JsonSchema::validate(const nlohmann::json& instance) const {
  if (!impl_) return {};  // a default-constructed schema accepts everything
  Findings found;
  check(*impl_->root, instance, Place{}, found);
  sort_by_document_order(found);

  // allOf branches (or a $ref and its siblings) can find the same problem twice.
  std::vector<SchemaViolation> out;
  std::set<std::pair<std::string, std::string>> seen;
  for (Found& f : found)
    if (seen.emplace(f.place.pointer, f.message).second)
      out.push_back({std::move(f.place.pointer), std::move(f.message)});
  return out;
}

}  // namespace sluice::host
