// A JSON Schema validator for the subset plugin config schemas use (draft 2020-12
// keywords; unknown keywords such as title, description, default, $schema, examples,
// format are ignored, as the specification says annotations are).
//
// Supported: type (a name or a list; "integer" accepts 3 and 3.0, "number" accepts
// integers), enum, const, properties, required, additionalProperties (bool or schema),
// patternProperties, items (a schema), prefixItems, minItems, maxItems, uniqueItems,
// minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf, minLength,
// maxLength (in Unicode code points), pattern (ECMAScript regex via std::regex,
// unanchored search, matched bytewise), minProperties, maxProperties, allOf, anyOf,
// oneOf, not, if/then/else, $defs/definitions, and local "$ref": "#", "#/$defs/name",
// "#/definitions/name" (any "#" + JSON Pointer into the same document).
//
// Refused at parse time (rather than silently ignored, which would accept configs the
// author meant to refuse): the standard keywords this checker does not implement
// (contains, propertyNames, dependentRequired, dependentSchemas, unevaluatedProperties,
// unevaluatedItems, additionalItems, ...), "items" as a list (draft-07 tuples), and
// $ref chains that loop without going into the value ({"$ref": "#"} at the root).
//
// Thread-safety: a parsed JsonSchema is immutable; validate() may run concurrently.
// Copies share the compiled schema.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::host {

struct SchemaViolation {
  // Where in the instance, as a JSON Pointer ("" is the root, "/count", "/items/2").
  std::string pointer;
  // What is wrong, for a person, quoting the offending value compactly (cut to about
  // 60 characters): "expected an integer, got \"10\"", "10 is greater than the maximum
  // 5", "missing required key \"path\"" (at the object), "unknown key \"cuont\" (known
  // keys: count, size)" (at the unknown key itself, "/cuont").
  std::string message;
};

class JsonSchema {
 public:
  // Parses a schema given as JSON text. Returns nullopt and sets *error when the text
  // is not JSON, not a schema object/boolean, or uses a keyword value of the wrong
  // shape (say "minimum": "x"), or a $ref that does not resolve, or a bad regex. The
  // error names the keyword and its schema location: "\"minimum\" at
  // #/properties/count must be a number, got \"x\"".
  static std::optional<JsonSchema> parse(std::string_view text, std::string* error);

  // Every violation of `instance` against the schema, in document order (a value before
  // its members, members in the instance's order), without duplicates; empty: valid.
  // anyOf/oneOf give one message summarising the alternatives ("matches none of the 2
  // allowed forms: (1) ...; (2) ...", each with its first problem) instead of listing
  // every branch's errors. A default-constructed JsonSchema accepts everything.
  std::vector<SchemaViolation> validate(const nlohmann::json& instance) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace sluice::host
