// The flow loader walks the YAML tree against the protobuf descriptors of flow.proto, so
// a field added to the schema is loadable (and checked) without code here. Only value
// types with a textual YAML form of their own are special: Duration, ByteSize and
// JsonValue, recognized by full name.
//
// Order of work: parse the YAML, apply --set overrides to the tree (so they are checked
// exactly like the file), then map. Environment references are expanded while mapping,
// in each scalar just before it is interpreted, so they apply to override values too and
// a plain ${COUNT} can become a number.
#include "sluice/host/flow_loader.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "sluice/host/flow_values.h"

namespace sluice::host {

namespace fs = std::filesystem;
namespace pb = google::protobuf;
using Json = nlohmann::json;

namespace {

constexpr std::string_view kDurationType = "google.protobuf.Duration";
constexpr std::string_view kByteSizeType = "sluice.flow.ByteSize";
constexpr std::string_view kJsonValueType = "sluice.flow.JsonValue";

// yaml-cpp reports plain scalars with the non-specific tag "?", every other style
// (single/double quoted, literal, folded) with "!", and `!!str` expanded.
constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";

using Getenv = std::function<const char*(const char*)>;

// ---- small string helpers -----------------------------------------------------------

std::string join_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string index_path(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "a, b and c"
std::string and_list(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " and " : ", ";
    out += items[i];
  }
  return out;
}

std::string comma_list(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// "TagMatch" -> "TAG_MATCH", the prefix protobuf style puts on enum value names.
std::string upper_snake(std::string_view camel) {
  std::string out;
  for (size_t i = 0; i < camel.size(); ++i) {
    const unsigned char c = camel[i];
    if (i > 0 && std::isupper(c)) out += '_';
    out += static_cast<char>(std::toupper(c));
  }
  return out;
}

// "ErrorPolicy" -> "an error policy", for messages about a message type.
std::string a_type_name(std::string_view camel) {
  std::string words;
  for (size_t i = 0; i < camel.size(); ++i) {
    const unsigned char c = camel[i];
    if (i > 0 && std::isupper(c)) words += ' ';
    words += static_cast<char>(std::tolower(c));
  }
  const bool vowel = !words.empty() && std::strchr("aeiou", words[0]) != nullptr;
  return (vowel ? "an " : "a ") + words;
}

// Edit distance with adjacent transpositions counted as one edit ("nmae" is one edit
// from "name"), which is the commonest typo in keys.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The candidate `word` was most likely meant as, or empty when none is close. Case is
// ignored, so "on_error" and "OnError" both find "onError".
std::string closest(std::string_view word, const std::vector<std::string>& candidates) {
  const size_t limit = std::clamp<size_t>(word.size() / 3, 1, 3);
  const std::string needle = lower(word);
  std::string best;
  size_t best_distance = limit + 1;
  for (const std::string& candidate : candidates) {
    const size_t distance = edit_distance(needle, lower(candidate));
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

// ---- environment references ---------------------------------------------------------

bool valid_env_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Expands ${NAME} and ${NAME:-default} (the default also when NAME is set but empty, as
// in the shell); "$${" is a literal "${". A '$' not followed by '{' is kept as is.
bool expand_env(std::string_view text, const Getenv& getenv, std::string* out,
                ValueError* error) {
  out->clear();
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out->append("${");
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out->push_back(text[i++]);
      continue;
    }
    const size_t close = text.find('}', i + 2);
    const std::string_view inner =
        text.substr(i + 2, close == std::string_view::npos ? std::string_view::npos
                                                            : close - i - 2);
    const size_t separator = inner.find(":-");
    const std::string name(inner.substr(0, separator));
    const bool has_default = separator != std::string_view::npos;
    const std::string_view fallback = has_default ? inner.substr(separator + 2) : "";
    if (close == std::string_view::npos) {
      *error = {"unclosed ${ in '" + std::string(text) + "'",
                "write ${NAME} or ${NAME:-default}; $${ is a literal ${"};
      return false;
    }
    if (fallback.find("${") != std::string_view::npos) {
      *error = {"a default cannot contain ${ (in '" + std::string(text) + "')",
                "write the default out, e.g. ${NAME:-10}"};
      return false;
    }
    if (!valid_env_name(name)) {
      *error = {"'${" + std::string(inner) + "}' does not name an environment variable",
                "names are letters, digits and _, not starting with a digit; $${ is a "
                "literal ${"};
      return false;
    }
    const char* value = getenv(name.c_str());
    if (value != nullptr && *value != '\0') {
      out->append(value);
    } else if (has_default) {
      out->append(fallback);
    } else if (value == nullptr) {
      *error = {"environment variable " + name + " is not set",
                "export it or use ${" + name + ":-default}"};
      return false;
    }
    i = close + 1;
  }
  return true;
}

// ---- YAML 1.2 core schema -----------------------------------------------------------
// Plain scalars are typed by the core schema; quoted ones are always strings.

bool is_null_word(std::string_view text) {
  return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

std::optional<bool> bool_word(std::string_view text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

// Words other YAML versions or other tools read as booleans; worth a hint.
bool looks_boolean(std::string_view text) {
  static const char* const kWords[] = {"true", "false", "yes", "no", "on", "off", "y", "n"};
  const std::string word = lower(text);
  return std::any_of(std::begin(kWords), std::end(kWords),
                     [&](const char* w) { return word == w; });
}

struct Integer {
  bool negative = false;
  uint64_t magnitude = 0;
};

enum class IntRead { kNotInteger, kOk, kTooLarge };

bool all_digits(std::string_view text, int base) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [base](char c) {
    const unsigned char u = c;
    if (base == 16) return std::isxdigit(u) != 0;
    return c >= '0' && c < '0' + base;
  });
}

// [-+]?[0-9]+, and with `core_bases` also 0o[0-7]+ and 0x[0-9a-fA-F]+.
IntRead read_integer(std::string_view text, bool core_bases, Integer* out) {
  int base = 10;
  std::string_view digits = text;
  if (core_bases && text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'o')) {
    base = text[1] == 'x' ? 16 : 8;
    digits = text.substr(2);
  } else if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    out->negative = text[0] == '-';
    digits = text.substr(1);
  }
  if (!all_digits(digits, base)) return IntRead::kNotInteger;
  const auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), out->magnitude, base);
  if (ec == std::errc::result_out_of_range) return IntRead::kTooLarge;
  return end == digits.data() + digits.size() ? IntRead::kOk : IntRead::kNotInteger;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? and the special .inf / .nan forms.
// Returns false when `text` is not a core-schema float (or int, which also matches).
bool read_float(std::string_view text, double* out) {
  static const char* const kInfinities[] = {".inf", ".Inf", ".INF"};
  static const char* const kNans[] = {".nan", ".NaN", ".NAN"};
  std::string_view body = text;
  const bool negative = !body.empty() && body[0] == '-';
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) body.remove_prefix(1);
  for (const char* word : kInfinities) {
    if (body == word) {
      *out = negative ? -HUGE_VAL : HUGE_VAL;
      return true;
    }
  }
  for (const char* word : kNans) {
    if (text == word) {
      *out = std::nan("");
      return true;
    }
  }
  size_t i = 0;
  size_t mantissa_digits = 0;
  const auto digit_at = [&](size_t at) {
    return at < body.size() && std::isdigit(static_cast<unsigned char>(body[at]));
  };
  for (; digit_at(i); ++i) ++mantissa_digits;
  if (i < body.size() && body[i] == '.') {
    for (++i; digit_at(i); ++i) ++mantissa_digits;
  }
  if (mantissa_digits == 0) return false;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '-' || body[i] == '+')) ++i;
    const size_t exponent_start = i;
    while (digit_at(i)) ++i;
    if (i == exponent_start) return false;
  }
  if (i != body.size()) return false;
  double value = 0;
  const auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
  if (ec == std::errc::result_out_of_range) {
    // from_chars leaves `value` alone on overflow and on underflow; strtod tells them
    // apart (1e999 is infinite, 1e-999 is zero). Its locale can only matter for the
    // decimal point, and this process never changes LC_NUMERIC.
    value = std::strtod(std::string(body).c_str(), nullptr);
  }
  *out = negative ? -value : value;
  return true;
}

// ---- locations and overrides --------------------------------------------------------

// A node an override put into the tree; it and everything below it are located at
// "--set <text>" rather than at a (meaningless) position in the override's own text.
struct OverrideNode {
  YAML::Node node;
  std::string text;
};

// What the steps of one load share.
struct Context {
  std::string file;  // display name
  Getenv getenv;
  Diagnostics* diagnostics;
  std::vector<OverrideNode> override_nodes;

  void error(const std::string& where, std::string message, std::string hint = {}) {
    diagnostics->add(where, std::move(message), std::move(hint));
  }

  std::string mark_location(const YAML::Mark& mark) const {
    if (mark.is_null()) return file;
    return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }

  // The override text in effect for `node`: the inherited one (a parent came from an
  // override), the one that put `node` there, or "" for the file.
  std::string origin_of(const YAML::Node& node, const std::string& inherited) const {
    if (!inherited.empty()) return inherited;
    for (const OverrideNode& o : override_nodes) {
      if (node.is(o.node)) return o.text;
    }
    return {};
  }

  std::string location(const YAML::Node& node, const std::string& origin) const {
    return origin.empty() ? mark_location(node.Mark()) : "--set " + origin;
  }
};

// Finds `key` among the pairs of `map` without yaml-cpp's operator[], which would add
// a pair when the key is missing.
bool find_key(const YAML::Node& map, const std::string& key, YAML::Node* value) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) {
      value->reset(it->second);
      return true;
    }
  }
  return false;
}

// The stage element of `stages` whose name is `name`.
bool find_stage(Context* context, const YAML::Node& stages, const std::string& name,
                const std::string& override_text, YAML::Node* stage) {
  std::vector<std::string> names;
  for (auto it = stages.begin(); it != stages.end(); ++it) {
    YAML::Node name_node;
    if (!it->IsMap() || !find_key(*it, "name", &name_node) || !name_node.IsScalar()) continue;
    std::string stage_name;
    ValueError ignored;  // an unset variable is reported when the stage is mapped
    if (!expand_env(name_node.Scalar(), context->getenv, &stage_name, &ignored)) {
      stage_name = name_node.Scalar();
    }
    if (stage_name == name) {
      stage->reset(*it);
      return true;
    }
    names.push_back(stage_name);
  }
  context->error("--set " + override_text, "no stage named '" + name + "'",
                 names.empty() ? "the flow has no stages" : "stages: " + comma_list(names));
  return false;
}

// Applies one "path=value" override to `root` (a mapping).
void apply_override(Context* context, YAML::Node root, const std::string& text) {
  const std::string where = "--set " + text;
  const size_t equals = text.find('=');
  if (equals == std::string::npos) {
    context->error(where, "an override must be path=value",
                   "e.g. --set stages.in.config.count=10");
    return;
  }
  const std::string path = text.substr(0, equals);
  if (path.empty()) {
    context->error(where, "an override needs a path before '='",
                   "e.g. --set stages.in.config.count=10");
    return;
  }
  std::vector<std::string> segments;
  for (size_t start = 0;;) {
    const size_t dot = path.find('.', start);
    segments.push_back(path.substr(start, dot == std::string::npos ? dot : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const std::string& segment : segments) {
    if (segment.empty()) {
      context->error(where, "the override path '" + path + "' has an empty part",
                     "write dot-separated keys, e.g. stages.in.config.count=10");
      return;
    }
  }

  YAML::Node value;
  try {
    const std::string value_text = text.substr(equals + 1);
    value.reset(value_text.empty() ? YAML::Node(YAML::NodeType::Null) : YAML::Load(value_text));
  } catch (const YAML::Exception& e) {
    context->error(where, "the override value is not valid YAML: " + e.msg,
                   "quote it in YAML, e.g. --set 'name=\"a: b\"'");
    return;
  }

  // Walk down; `current` is rebound with reset(), since assigning one Node to another
  // would overwrite the tree.
  YAML::Node current(root);
  std::string walked;  // the path so far, for messages
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& segment = segments[i];
    const bool last = i + 1 == segments.size();
    YAML::Node next;
    if (current.IsSequence()) {
      if (i == 1 && segments[0] == "stages") {
        if (!find_stage(context, current, segment, text, &next)) return;
      } else {
        size_t index = 0;
        const auto [end, ec] =
            std::from_chars(segment.data(), segment.data() + segment.size(), index);
        if (ec != std::errc() || end != segment.data() + segment.size() ||
            index >= current.size()) {
          context->error(where, "'" + segment + "' is not an item of the list " + walked,
                         "the list has " + std::to_string(current.size()) +
                             " items, numbered from 0");
          return;
        }
        next.reset(std::as_const(current)[index]);
      }
      if (last) {
        YAML::Node target(next);
        target = value;  // replaces the element in the tree
        context->override_nodes.push_back({value, text});
        return;
      }
    } else if (current.IsMap() || current.IsNull()) {
      if (current.IsNull()) {
        // `config:` with nothing after it: the override gives it its first key.
        YAML::Node fresh(YAML::NodeType::Map);
        current = fresh;  // assigns into the tree; `current` now refers to `fresh`
        context->override_nodes.push_back({fresh, text});
      }
      const bool found = find_key(current, segment, &next);
      if (i == 0 && segment == "stages" && !last && (!found || !next.IsSequence())) {
        context->error(where, "no stage named '" + segments[1] + "'",
                       "the flow has no list of stages");
        return;
      }
      if (last) {
        if (found) {
          YAML::Node target(next);
          target = value;  // replaces the value in the tree
        } else {
          current[segment] = value;
        }
        context->override_nodes.push_back({value, text});
        return;
      }
      if (!found) {
        YAML::Node fresh(YAML::NodeType::Map);
        current[segment] = fresh;
        context->override_nodes.push_back({fresh, text});
        next.reset(fresh);
      }
    } else {
      context->error(where, "cannot set '" + segment + "' inside " + walked + ", a single value",
                     "an override path can only go through mappings and lists");
      return;
    }
    current.reset(next);
    walked = join_path(walked, segment);
  }
}

// ---- mapping --------------------------------------------------------------------------

// A scalar after environment expansion, with whether YAML would read it as a string no
// matter what it says (quoted, block or !!str).
struct Scalar {
  std::string text;
  bool quoted = false;
  bool null = false;  // plain null, ~ or empty: "absent" for fields

  // For messages: quoted values are shown quoted so the reader sees why they are strings.
  std::string shown() const { return quoted ? "\"" + text + "\"" : text; }
};

const char* kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a single value";
    default:
      return "nothing";
  }
}

std::vector<std::string> json_names(const pb::Descriptor* type) {
  std::vector<std::string> names;
  for (int i = 0; i < type->field_count(); ++i) names.push_back(type->field(i)->json_name());
  return names;
}

const pb::FieldDescriptor* find_field(const pb::Descriptor* type, const std::string& key) {
  for (int i = 0; i < type->field_count(); ++i) {
    if (type->field(i)->json_name() == key) return type->field(i);
  }
  return nullptr;
}

// An enum value's YAML spelling: the name without its type prefix, lower-case
// (ERROR_ACTION_FALLBACK -> "fallback"); empty for *_UNSPECIFIED, which is not
// writable since it means "not set".
std::string enum_spelling(const pb::EnumValueDescriptor* value) {
  const std::string& name = value->name();
  const std::string suffix = "_UNSPECIFIED";
  if (name.size() >= suffix.size() &&
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return {};
  }
  const std::string prefix = upper_snake(value->type()->name()) + "_";
  return lower(name.compare(0, prefix.size(), prefix) == 0 ? name.substr(prefix.size()) : name);
}

class Mapper {
 public:
  Mapper(Context* context, std::map<std::string, std::string>* locations)
      : context_(context), locations_(locations) {}

  // Maps the mapping `node` onto `message`; `path` is its path in the spec.
  void map_message(const YAML::Node& node, const std::string& path, const std::string& origin,
                   pb::Message* message) {
    const pb::Descriptor* type = message->GetDescriptor();
    std::map<std::string, std::string> seen;  // key -> where
    std::vector<const pb::FieldDescriptor*> set_fields;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      // A key an override added has no position of its own; its value tells.
      const std::string pair_origin = context_->origin_of(value, origin);
      const std::string key_where = context_->location(key, pair_origin);
      std::string name;
      if (!read_key(key, key_where, path, &name)) continue;
      if (!check_unique(&seen, name, key_where, path)) continue;
      const pb::FieldDescriptor* field = find_field(type, name);
      if (field == nullptr) {
        unknown_key(name, key_where, path, type);
        continue;
      }
      const std::string field_path = join_path(path, name);
      record_pair(field_path, key_where, value, pair_origin);
      if (map_field(value, field_path, pair_origin, message, field) &&
          field->real_containing_oneof() != nullptr) {
        set_fields.push_back(field);
      }
    }
    check_oneofs(type, set_fields, context_->location(node, origin));
  }

 private:
  void error(const std::string& where, std::string message, std::string hint = {}) {
    context_->error(where, std::move(message), std::move(hint));
  }

  void record(const std::string& path, const std::string& where) {
    locations_->emplace(path, where);
  }

  // A field is located at its value when that is a scalar (the most precise spot), and
  // otherwise at its key: a block mapping's own position is its first nested key, and
  // an empty value's is wherever the next token happens to be.
  void record_pair(const std::string& path, const std::string& key_where,
                   const YAML::Node& value, const std::string& origin) {
    record(path, value.IsScalar() ? context_->location(value, origin) : key_where);
  }

  bool read_scalar(const YAML::Node& node, const std::string& where, Scalar* out) {
    const std::string& tag = node.Tag();
    if (tag == "!" || tag == kStrTag) {
      out->quoted = true;
    } else if (tag != "?" && !tag.empty()) {  // empty: a node an override created
      error(where, "YAML tag " + tag + " is not supported here",
            "remove the tag; quote the value if it should be a string");
      return false;
    }
    ValueError problem;
    if (!expand_env(node.Scalar(), context_->getenv, &out->text, &problem)) {
      error(where, problem.message, problem.hint);
      return false;
    }
    out->null = !out->quoted && is_null_word(out->text);
    return true;
  }

  bool read_key(const YAML::Node& key, const std::string& where, const std::string& path,
                std::string* name) {
    Scalar scalar;
    if (!key.IsScalar()) {
      error(where, "a key" + in_path(path) + " is " + kind_of(key) + "; keys must be plain words");
      return false;
    }
    if (!read_scalar(key, where, &scalar)) return false;
    *name = scalar.text;
    return true;
  }

  // yaml-cpp keeps both pairs of a repeated key, so this sees every one of them.
  bool check_unique(std::map<std::string, std::string>* seen, const std::string& name,
                    const std::string& where, const std::string& path) {
    const auto [first, inserted] = seen->emplace(name, where);
    if (!inserted) {
      error(where, "duplicate key '" + name + "'" + in_path(path),
            "it is also set at " + first->second + "; keep one");
    }
    return inserted;
  }

  static std::string in_path(const std::string& path) { return path.empty() ? "" : " in " + path; }

  void unknown_key(const std::string& name, const std::string& where, const std::string& path,
                   const pb::Descriptor* type) {
    const std::vector<std::string> known = json_names(type);
    const std::string guess = closest(name, known);
    error(where, "unknown key '" + name + "'" + in_path(path),
          guess.empty() ? "known keys: " + comma_list(known) : "did you mean " + guess + "?");
  }

  // A oneof written twice over is reported at the message, not at either key: both keys
  // are fine on their own.
  void check_oneofs(const pb::Descriptor* type, const std::vector<const pb::FieldDescriptor*>& set,
                    const std::string& where) {
    for (int i = 0; i < type->oneof_decl_count(); ++i) {
      const pb::OneofDescriptor* oneof = type->oneof_decl(i);
      if (oneof->is_synthetic()) continue;
      std::vector<std::string> all, present;
      for (int j = 0; j < oneof->field_count(); ++j) all.push_back(oneof->field(j)->json_name());
      for (const pb::FieldDescriptor* field : set) {
        if (field->real_containing_oneof() == oneof) present.push_back(field->json_name());
      }
      if (present.size() > 1) {
        error(where, a_type_name(type->name()) + " has exactly one of " + comma_list(all) +
                         "; this one has " + and_list(present));
      }
    }
  }

  // Returns false when `value` is null, i.e. the field stays absent.
  bool map_field(const YAML::Node& value, const std::string& path, const std::string& origin,
                 pb::Message* message, const pb::FieldDescriptor* field) {
    if (field->is_map()) {
      error(context_->location(value, origin),
            path + ": the loader does not support protobuf map fields");
      return true;
    }
    if (!field->is_repeated()) return map_single(value, path, origin, message, field);
    if (value.IsNull()) return false;
    if (!value.IsSequence()) {
      error(context_->location(value, origin), path + " must be a list, not " + kind_of(value),
            "write [a, b] or one '- item' line per item");
      return true;
    }
    size_t index = 0;
    for (auto it = value.begin(); it != value.end(); ++it, ++index) {
      const YAML::Node element = *it;
      const std::string element_path = index_path(path, index);
      const std::string element_origin = context_->origin_of(element, origin);
      const std::string where = context_->location(element, element_origin);
      record(element_path, where);
      if (!map_single(element, element_path, element_origin, message, field)) {
        error(where, element_path + " is empty", "remove the '-' or give it a value");
      }
    }
    return true;
  }

  // One value of `field` (its only one, or a new element when repeated). Returns false
  // when `value` is null.
  bool map_single(const YAML::Node& value, const std::string& path, const std::string& origin,
                  pb::Message* message, const pb::FieldDescriptor* field) {
    const std::string where = context_->location(value, origin);
    if (value.IsNull()) return false;
    Scalar scalar;
    if (value.IsScalar()) {
      if (!read_scalar(value, where, &scalar)) return true;
      if (scalar.null) return false;
    }
    const pb::Reflection* reflection = message->GetReflection();
    const bool repeated = field->is_repeated();
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      pb::Message* sub = repeated ? reflection->AddMessage(message, field)
                                  : reflection->MutableMessage(message, field);
      map_message_value(value, scalar, path, origin, sub);
      return true;
    }
    if (!value.IsScalar()) {
      error(where, path + " must be " + expected(field) + ", not " + kind_of(value));
      return true;
    }
    switch (field->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_STRING:
        // Kept exactly as written: `name: 010` is "010", `name: yes` is "yes".
        repeated ? reflection->AddString(message, field, scalar.text)
                 : reflection->SetString(message, field, scalar.text);
        break;
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        if (const std::optional<bool> b = parse_bool(scalar, path, where)) {
          repeated ? reflection->AddBool(message, field, *b)
                   : reflection->SetBool(message, field, *b);
        }
        break;
      case pb::FieldDescriptor::CPPTYPE_ENUM:
        if (const pb::EnumValueDescriptor* e = parse_enum(scalar, path, where, field)) {
          repeated ? reflection->AddEnum(message, field, e)
                   : reflection->SetEnum(message, field, e);
        }
        break;
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
        store_number(scalar, path, where, message, field);
        break;
      default:
        store_integer(scalar, path, where, message, field);
        break;
    }
    return true;
  }

  static std::string expected(const pb::FieldDescriptor* field) {
    switch (field->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_STRING:
        return "a string";
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        return "true or false";
      case pb::FieldDescriptor::CPPTYPE_ENUM:
        return "one of " + comma_list(enum_spellings(field->enum_type()));
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
        return "a number";
      default:
        return "a whole number";
    }
  }

  static std::vector<std::string> enum_spellings(const pb::EnumDescriptor* type) {
    std::vector<std::string> spellings;
    for (int i = 0; i < type->value_count(); ++i) {
      std::string spelling = enum_spelling(type->value(i));
      if (!spelling.empty()) spellings.push_back(std::move(spelling));
    }
    return spellings;
  }

  std::optional<bool> parse_bool(const Scalar& scalar, const std::string& path,
                                 const std::string& where) {
    if (!scalar.quoted) {
      if (const std::optional<bool> b = bool_word(scalar.text)) return b;
    }
    const std::string hint = "\"" + scalar.text +
                             "\" is a string, not a bool; write true or false without quotes";
    error(where, path + " must be true or false, not " + scalar.shown(),
          looks_boolean(scalar.text) ? hint : "");
    return std::nullopt;
  }

  const pb::EnumValueDescriptor* parse_enum(const Scalar& scalar, const std::string& path,
                                            const std::string& where,
                                            const pb::FieldDescriptor* field) {
    // Quoting does not matter here: an enum is written as a word either way.
    const pb::EnumDescriptor* type = field->enum_type();
    for (int i = 0; i < type->value_count(); ++i) {
      const std::string spelling = enum_spelling(type->value(i));
      if (!spelling.empty() && spelling == scalar.text) return type->value(i);
    }
    const std::vector<std::string> spellings = enum_spellings(type);
    const std::string guess = closest(scalar.text, spellings);
    error(where, path + " must be one of " + comma_list(spellings) + ", not " + scalar.shown(),
          guess.empty() ? "" : "did you mean " + guess + "?");
    return nullptr;
  }

  void store_integer(const Scalar& scalar, const std::string& path, const std::string& where,
                     pb::Message* message, const pb::FieldDescriptor* field) {
    uint64_t max_positive = 0;
    uint64_t max_negative = 0;  // magnitude
    switch (field->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        max_positive = std::numeric_limits<int32_t>::max();
        max_negative = max_positive + 1;
        break;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        max_positive = std::numeric_limits<int64_t>::max();
        max_negative = max_positive + 1;
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        max_positive = std::numeric_limits<uint32_t>::max();
        break;
      default:
        max_positive = std::numeric_limits<uint64_t>::max();
        break;
    }
    Integer n;
    const IntRead read = read_integer(scalar.text, /*core_bases=*/false, &n);
    if (scalar.quoted || read == IntRead::kNotInteger) {
      error(where, path + " must be a whole number, not " + scalar.shown(),
            scalar.quoted && read != IntRead::kNotInteger
                ? scalar.shown() + " is a string, not a number; write " + scalar.text +
                      " without quotes"
                : "");
      return;
    }
    const bool fits = read == IntRead::kOk &&
                      (n.negative ? n.magnitude <= max_negative : n.magnitude <= max_positive);
    if (!fits) {
      error(where, path + " must be " +
                       (max_negative == 0 ? "from 0 to " + std::to_string(max_positive)
                                          : "from -" + std::to_string(max_negative) + " to " +
                                                std::to_string(max_positive)) +
                       ", not " + scalar.text);
      return;
    }
    const pb::Reflection* r = message->GetReflection();
    const bool repeated = field->is_repeated();
    // Two's complement: the negated magnitude, cast, is the value.
    const uint64_t bits = n.negative ? uint64_t{0} - n.magnitude : n.magnitude;
    switch (field->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        repeated ? r->AddInt32(message, field, static_cast<int32_t>(bits))
                 : r->SetInt32(message, field, static_cast<int32_t>(bits));
        break;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        repeated ? r->AddInt64(message, field, static_cast<int64_t>(bits))
                 : r->SetInt64(message, field, static_cast<int64_t>(bits));
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        repeated ? r->AddUInt32(message, field, static_cast<uint32_t>(bits))
                 : r->SetUInt32(message, field, static_cast<uint32_t>(bits));
        break;
      default:
        repeated ? r->AddUInt64(message, field, bits) : r->SetUInt64(message, field, bits);
        break;
    }
  }

  void store_number(const Scalar& scalar, const std::string& path, const std::string& where,
                    pb::Message* message, const pb::FieldDescriptor* field) {
    double value = 0;
    const bool is_number = read_float(scalar.text, &value);
    if (scalar.quoted || !is_number) {
      error(where, path + " must be a number, not " + scalar.shown(),
            scalar.quoted && is_number ? scalar.shown() + " is a string, not a number; write " +
                                             scalar.text + " without quotes"
                                       : "");
      return;
    }
    const bool is_float = field->cpp_type() == pb::FieldDescriptor::CPPTYPE_FLOAT;
    if (!std::isfinite(value) ||
        (is_float && std::fabs(value) > std::numeric_limits<float>::max())) {
      error(where, path + " must be a finite number, not " + scalar.text);
      return;
    }
    const pb::Reflection* r = message->GetReflection();
    if (is_float) {
      const float f = static_cast<float>(value);
      field->is_repeated() ? r->AddFloat(message, field, f) : r->SetFloat(message, field, f);
    } else {
      field->is_repeated() ? r->AddDouble(message, field, value)
                           : r->SetDouble(message, field, value);
    }
  }

  // A message-typed value: one of the types with a YAML form of their own, or a mapping.
  // `scalar` is filled when `value` is a scalar.
  void map_message_value(const YAML::Node& value, const Scalar& scalar, const std::string& path,
                         const std::string& origin, pb::Message* message) {
    const pb::Descriptor* type = message->GetDescriptor();
    const pb::Reflection* r = message->GetReflection();
    const std::string where = context_->location(value, origin);
    if (type->full_name() == kJsonValueType) {
      const Json json = to_json(value, path, origin);
      r->SetString(message, type->FindFieldByName("json"),
                   json.dump(-1, ' ', false, Json::error_handler_t::replace));
    } else if (type->full_name() == kDurationType) {
      std::chrono::nanoseconds duration{};
      ValueError problem;
      if (!value.IsScalar()) {
        error(where, path + " must be a duration such as 250ms or 2s, not " + kind_of(value));
      } else if (!parse_duration(scalar.text, &duration, &problem)) {
        error(where, path + ": " + problem.message, problem.hint);
      } else {
        r->SetInt64(message, type->FindFieldByName("seconds"), duration.count() / 1'000'000'000);
        r->SetInt32(message, type->FindFieldByName("nanos"),
                    static_cast<int32_t>(duration.count() % 1'000'000'000));
      }
    } else if (type->full_name() == kByteSizeType) {
      uint64_t bytes = 0;
      ValueError problem;
      if (!value.IsScalar()) {
        error(where, path + " must be a size such as 64KiB or 1024, not " + kind_of(value));
      } else if (!parse_byte_size(scalar.text, &bytes, &problem)) {
        error(where, path + ": " + problem.message, problem.hint);
      } else {
        r->SetUInt64(message, type->FindFieldByName("bytes"), bytes);
      }
    } else if (value.IsMap()) {
      map_message(value, path, origin, message);
    } else {
      error(where, path + " must be a mapping, not " + kind_of(value),
            "its keys are " + comma_list(json_names(type)));
    }
  }

  // Converts a YAML subtree to JSON. Plain scalars follow the YAML 1.2 core schema, so
  // `10` stays an integer, `1.0` a float and `true` a bool; quoted scalars are strings.
  Json to_json(const YAML::Node& node, const std::string& path, const std::string& origin) {
    const std::string where = context_->location(node, origin);
    switch (node.Type()) {
      case YAML::NodeType::Sequence: {
        Json array = Json::array();
        size_t index = 0;
        for (auto it = node.begin(); it != node.end(); ++it, ++index) {
          const std::string element_path = index_path(path, index);
          const std::string element_origin = context_->origin_of(*it, origin);
          record(element_path, context_->location(*it, element_origin));
          array.push_back(to_json(*it, element_path, element_origin));
        }
        return array;
      }
      case YAML::NodeType::Map: {
        Json object = Json::object();
        std::map<std::string, std::string> seen;
        for (auto it = node.begin(); it != node.end(); ++it) {
          const std::string pair_origin = context_->origin_of(it->second, origin);
          const std::string key_where = context_->location(it->first, pair_origin);
          std::string name;
          if (!read_key(it->first, key_where, path, &name)) continue;
          if (!check_unique(&seen, name, key_where, path)) continue;
          const std::string key_path = join_path(path, name);
          record_pair(key_path, key_where, it->second, pair_origin);
          object[name] = to_json(it->second, key_path, pair_origin);
        }
        return object;
      }
      case YAML::NodeType::Scalar:
        return scalar_to_json(node, path, where);
      default:
        return nullptr;
    }
  }

  Json scalar_to_json(const YAML::Node& node, const std::string& path, const std::string& where) {
    Scalar scalar;
    if (!read_scalar(node, where, &scalar)) return nullptr;
    if (scalar.quoted) return scalar.text;
    if (scalar.null) return nullptr;
    if (const std::optional<bool> b = bool_word(scalar.text)) return *b;
    Integer n;
    const IntRead read = read_integer(scalar.text, /*core_bases=*/true, &n);
    if (read == IntRead::kOk && !n.negative) return n.magnitude;
    if (read == IntRead::kOk && n.magnitude <= uint64_t{1} << 63) {
      return static_cast<int64_t>(uint64_t{0} - n.magnitude);
    }
    if (read != IntRead::kNotInteger) {
      error(where, path + ": " + scalar.text + " does not fit in a 64-bit integer",
            "quote it to pass it as a string");
      return nullptr;
    }
    double value = 0;
    if (read_float(scalar.text, &value)) {
      if (!std::isfinite(value)) {
        error(where, path + ": " + scalar.text + " cannot be written in JSON",
              "JSON has no infinity or NaN; quote it to pass it as a string");
        return nullptr;
      }
      return value;
    }
    return scalar.text;
  }

  Context* context_;
  std::map<std::string, std::string>* locations_;
};

}  // namespace

std::string LoadedFlow::where(std::string_view path) const {
  std::string prefix(path);
  while (!prefix.empty()) {
    if (const auto it = locations.find(prefix); it != locations.end()) return it->second;
    const size_t cut = prefix.find_last_of(".[");
    if (cut == std::string::npos) break;
    prefix.resize(cut);
  }
  return file.string();
}

std::optional<LoadedFlow> load_flow_text(std::string_view yaml, const std::string& display_name,
                                         const fs::path& dir, const FlowLoadOptions& options,
                                         Diagnostics* diagnostics) {
  const size_t errors_before = diagnostics->size();
  Context context{display_name,
                  options.getenv ? options.getenv : Getenv([](const char* name) -> const char* {
                    return std::getenv(name);
                  }),
                  diagnostics,
                  {}};

  LoadedFlow loaded;
  loaded.file = display_name;
  std::error_code ec;
  loaded.dir = fs::absolute(dir, ec).lexically_normal();
  if (ec) loaded.dir = dir;

  YAML::Node root;
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(std::string(yaml));
    if (documents.size() > 1) {
      context.error(context.mark_location(documents[1].Mark()),
                    "a flow file holds one YAML document; this is a second one",
                    "remove the '---' line or move the rest to another file");
      return std::nullopt;
    }
    if (!documents.empty()) root.reset(documents[0]);
  } catch (const YAML::Exception& e) {
    context.error(context.mark_location(e.mark), e.msg);
    return std::nullopt;
  }
  if (!root.IsDefined() || root.IsNull()) {
    context.error(display_name, "the flow file is empty",
                  "a flow needs at least `stages:` with a source and a sink");
    return std::nullopt;
  }
  if (!root.IsMap()) {
    context.error(context.mark_location(root.Mark()),
                  std::string("a flow file must be a mapping (name:, stages:, ...), not ") +
                      kind_of(root));
    return std::nullopt;
  }

  try {
    for (const std::string& text : options.overrides) apply_override(&context, root, text);
    Mapper(&context, &loaded.locations).map_message(root, "", "", &loaded.spec);
  } catch (const YAML::Exception& e) {
    // Not expected: every node is type-checked before use. Kept so a yaml-cpp surprise
    // is a diagnostic rather than a crash of the CLI.
    context.error(context.mark_location(e.mark), std::string("internal error: ") + e.what());
  }
  if (diagnostics->size() > errors_before) return std::nullopt;
  return loaded;
}

std::optional<LoadedFlow> load_flow(const fs::path& file, const FlowLoadOptions& options,
                                    Diagnostics* diagnostics) {
  std::error_code ec;
  if (fs::is_directory(file, ec)) {
    diagnostics->add(file.string(), "cannot read the flow file: it is a directory");
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    diagnostics->add(file.string(),
                     std::string("cannot read the flow file: ") + std::strerror(errno));
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    diagnostics->add(file.string(), "cannot read the flow file: read error");
    return std::nullopt;
  }
  fs::path dir = fs::absolute(file, ec).parent_path();
  if (ec) dir = file.parent_path();
  return load_flow_text(text.str(), file.string(), dir, options, diagnostics);
}

}  // namespace sluice::host
