// A JSON Schema validator for the subset plugin config schemas use (draft 2020-12
// keywords; unknown keywords such as title, description, default, $schema, examples
// are ignored, as the specification says annotations are).
//
// Supported: type (a name or a list; "integer" accepts 3 and 3.0), enum, const,
// properties, required, additionalProperties (bool or schema), patternProperties,
// items (a schema), prefixItems, minItems, maxItems, uniqueItems,
// minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf, minLength,
// maxLength (in Unicode code points), pattern (ECMAScript regex, unanchored search),
// minProperties, maxProperties, allOf, anyOf, oneOf, not, if/then/else, and local
// "$ref": "#/$defs/name" (or "#/definitions/name").
//
// Thread-safety: a parsed JsonSchema is immutable; validate() may run concurrently.
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
  // What is wrong, for a person: "expected an integer, got \"10\"",
  // "unknown key \"cuont\" (known keys: count, size)", "is less than the minimum 0".
  std::string message;
};

class JsonSchema {
 public:
  // Parses a schema given as JSON text. Returns nullopt and sets *error when the text
  // is not JSON, not a schema object/boolean, or uses a keyword value of the wrong
  // shape (say "minimum": "x"), or a $ref that does not resolve, or a bad regex.
  static std::optional<JsonSchema> parse(std::string_view text, std::string* error);

  // Every violation of `instance` against the schema, in document order (empty: valid).
  // Within anyOf/oneOf the message summarises the alternatives instead of listing
  // every branch's errors.
  std::vector<SchemaViolation> validate(const nlohmann::json& instance) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace sluice::host
