// `filter`: a map that keeps, drops or tags messages by a condition (condition.h).
//
// config:
//   where:     the condition (required)
//   action:    keep (default): pass the matching messages, drop the rest
//              drop: drop the matching messages, pass the rest
//              tag: pass everything; the matching messages get the tag `tag`, the rest
//                   the tag `otherwise` when given, else none
//   tag, otherwise: only with action: tag
//
// Passed messages are unchanged (value, keys, event time, headers); a dropped one gets
// no output at all, which finishes it. A field condition on a value that is not JSON
// fails that message alone, and the stage's error policy decides what happens to it.
#include <string>

#include "condition.h"
#include "config.h"
#include "types.h"

namespace sluice::builtin {
namespace {

class Filter {
 public:
  explicit Filter(const CreateArgs& args) : Filter(Config(args.config_json)) {}

  // Thread-safe: everything here is read-only after construction.
  void process(Context& ctx, const Batch& batch) const {
    std::string error;
    for (size_t i = 0; i < batch.size(); ++i) {
      const std::string_view value = batch[i].value();
      std::optional<bool> match = where_.matches(value, &error);
      if (!match) {
        ctx.fail(i, "value is not JSON: " + error);
        continue;
      }
      switch (action_) {
        case Action::kKeep:
          if (*match) ctx.emit(i, value);
          break;
        case Action::kDrop:
          if (!*match) ctx.emit(i, value);
          break;
        case Action::kTag:
          emit_tagged(ctx, i, value, *match ? &tag_ : otherwise_.size ? &otherwise_ : nullptr);
          break;
      }
    }
  }

 private:
  enum class Action { kKeep, kDrop, kTag };

  explicit Filter(Config c) : where_(c.object("where", "the condition")) {
    const std::string action = c.choice("action", "keep", {"keep", "drop", "tag"});
    action_ = action == "tag" ? Action::kTag : action == "drop" ? Action::kDrop : Action::kKeep;
    if (action_ == Action::kTag) {
      tag_text_ = c.required_string("tag", "the tag for matching messages");
      otherwise_text_ = c.string("otherwise", "");
      if (c.has("otherwise") && otherwise_text_.empty())
        throw c.error("otherwise", "must not be empty (the tag for the other messages)");
    } else {
      for (const char* key : {"tag", "otherwise"})
        if (c.has(key)) throw c.error(key, "only used with action: tag");
    }
    c.reject_unknown_keys();
    tag_ = detail::str(tag_text_);
    otherwise_ = detail::str(otherwise_text_);
  }

  // Emits the input unchanged but for its tag (none when `tag` is null). A raw output
  // pointing at the input's value and our tag: nothing is copied or allocated.
  static void emit_tagged(Context& ctx, size_t i, std::string_view value, const sluice_str* tag) {
    sluice_output out{};  // zero: keys, event time and headers are the input's
    out.struct_size = sizeof(out);
    out.value = {reinterpret_cast<const uint8_t*>(value.data()), value.size()};
    out.tags = tag;
    out.tag_count = tag ? 1 : 0;
    ctx.emit_raw(i, out);
  }

  Condition where_;
  Action action_ = Action::kKeep;
  std::string tag_text_, otherwise_text_;
  sluice_str tag_{}, otherwise_{};  // views of the two strings above
};

constexpr const char* kSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "required": ["where"],
  "properties": {
    "where":     {"$ref": "#/$defs/condition"},
    "action":    {"enum": ["keep", "drop", "tag"]},
    "tag":       {"type": "string", "minLength": 1},
    "otherwise": {"type": "string", "minLength": 1}
  },
  "if": {"required": ["action"], "properties": {"action": {"const": "tag"}}},
  "then": {"required": ["tag"]},
  "else": {"properties": {"tag": false, "otherwise": false}},
  "$defs": {
    "condition": {
      "oneOf": [
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["regex"],
          "properties": {"regex": {"type": "string"}}
        },
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["field"],
          "minProperties": 2,
          "maxProperties": 2,
          "properties": {
            "field":     {"type": "string", "minLength": 1},
            "equals":    true,
            "notEquals": true,
            "in":        {"type": "array"},
            "regex":     {"type": "string"},
            "exists":    {"type": "boolean"},
            "gt":        {"type": "number"},
            "ge":        {"type": "number"},
            "lt":        {"type": "number"},
            "le":        {"type": "number"}
          }
        }
      ]
    }
  }
})";

}  // namespace

void add_filter(Library& lib) {
  lib.add<Filter>({"filter", SLUICE_KIND_MAP, "0.1.0",
                   "keeps, drops or tags messages by a regex or a JSON field condition",
                   kSchema, SLUICE_TYPE_THREAD_SAFE});
}

}  // namespace sluice::builtin
