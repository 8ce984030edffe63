// The config schema checker: what parse() refuses and why, and for validate() which
// values pass, where each problem is reported and how it is worded (the flow engine
// shows these messages to users as they are).
#include "sluice/host/json_schema.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace sluice::host {
namespace {

using json = nlohmann::json;

// The generator's schema, as plugins/builtin/generator.cc declares it.
constexpr const char* kGeneratorSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "count":    {"type": "integer", "minimum": 0},
    "size":     {"type": "integer", "minimum": 0, "maximum": 67108864},
    "template": {"type": "string"},
    "keys":     {"type": "integer", "minimum": 0},
    "rate":     {"type": "number", "minimum": 0},
    "start":    {"type": "integer", "minimum": 0}
  }
})";

JsonSchema compile(const std::string& schema) {
  std::string error;
  std::optional<JsonSchema> parsed = JsonSchema::parse(schema, &error);
  EXPECT_TRUE(parsed.has_value()) << "schema: " << schema << "\nerror: " << error;
  return parsed ? *parsed : JsonSchema{};
}

// The parse error for a schema that must be refused ("" if it was accepted).
std::string parse_error(const std::string& schema) {
  std::string error;
  std::optional<JsonSchema> parsed = JsonSchema::parse(schema, &error);
  EXPECT_FALSE(parsed.has_value()) << "accepted: " << schema;
  return parsed ? "" : error;
}

// Each violation as "pointer: message", in the order validate() gives them.
std::vector<std::string> problems(const JsonSchema& schema, const json& instance) {
  std::vector<std::string> out;
  for (const SchemaViolation& v : schema.validate(instance))
    out.push_back(v.pointer + ": " + v.message);
  return out;
}

std::vector<std::string> problems(const std::string& schema,
                                  const std::string& instance) {
  return problems(compile(schema), json::parse(instance));
}

bool valid(const std::string& schema, const std::string& instance) {
  return problems(schema, instance).empty();
}

using Lines = std::vector<std::string>;

// ---- parse: what is refused --------------------------------------------------------

TEST(JsonSchemaParseTest, AcceptsObjectsAndBooleans) {
  compile("{}");
  compile("true");
  compile("false");
  compile(kGeneratorSchema);
}

TEST(JsonSchemaParseTest, RefusesTextThatIsNotJson) {
  std::string error = parse_error("{\"type\": ");
  EXPECT_EQ(error.rfind("the schema is not valid JSON: ", 0), 0u) << error;
  EXPECT_EQ(error.find("[json.exception"), std::string::npos) << error;
}

TEST(JsonSchemaParseTest, RefusesAnythingButAnObjectOrBooleanAsASchema) {
  EXPECT_EQ(parse_error("5"), "the schema at # must be an object or a boolean, got 5");
  EXPECT_EQ(parse_error("[]"), "the schema at # must be an object or a boolean, got []");
  EXPECT_EQ(
      parse_error(R"({"properties": {"a": "string"}})"),
      "the schema at #/properties/a must be an object or a boolean, got \"string\"");
  EXPECT_EQ(parse_error(R"({"items": null})"),
            "the schema at #/items must be an object or a boolean, got null");
}

TEST(JsonSchemaParseTest, ErrorNamesTheKeywordAndItsLocation) {
  EXPECT_EQ(parse_error(R"({"properties": {"count": {"minimum": "x"}}})"),
            "\"minimum\" at #/properties/count must be a number, got \"x\"");
  EXPECT_EQ(parse_error(R"({"required": 5})"),
            "\"required\" at # must be an array of key names, got 5");
  EXPECT_EQ(parse_error(R"({"required": ["a", 5]})"),
            "\"required\" at # must list key names (strings), got 5");
  EXPECT_EQ(
      parse_error(R"({"type": "bogus"})"),
      "\"type\" at # must be one of object, array, string, integer, number, boolean, "
      "null (or a list of them), got \"bogus\"");
  EXPECT_EQ(
      parse_error(R"({"type": ["string", 5]})"),
      "\"type\" at # must be one of object, array, string, integer, number, boolean, "
      "null (or a list of them), got 5");
  EXPECT_EQ(parse_error(R"({"type": []})"), "\"type\" at # must not be an empty list");
}

TEST(JsonSchemaParseTest, RefusesMalformedKeywordValues) {
  struct Case {
    const char* schema;
    const char* error;
  };
  const Case cases[] = {
      {R"({"enum": "a"})", "\"enum\" at # must be an array, got \"a\""},
      {R"({"maximum": true})", "\"maximum\" at # must be a number, got true"},
      {R"({"exclusiveMinimum": true})",
       "\"exclusiveMinimum\" at # must be a number, got true"},
      {R"({"multipleOf": 0})", "\"multipleOf\" at # must be greater than 0, got 0"},
      {R"({"multipleOf": -2})", "\"multipleOf\" at # must be greater than 0, got -2"},
      {R"({"minLength": -1})",
       "\"minLength\" at # must be a non-negative integer, got -1"},
      {R"({"maxItems": 1.5})",
       "\"maxItems\" at # must be a non-negative integer, got 1.5"},
      {R"({"minProperties": "2"})",
       "\"minProperties\" at # must be a non-negative integer, got \"2\""},
      {R"({"pattern": 5})", "\"pattern\" at # must be a string, got 5"},
      {R"({"uniqueItems": "yes"})",
       "\"uniqueItems\" at # must be true or false, got \"yes\""},
      {R"({"properties": []})",
       "\"properties\" at # must be an object of schemas, got []"},
      {R"({"patternProperties": 1})",
       "\"patternProperties\" at # must be an object of schemas, got 1"},
      {R"({"additionalProperties": 5})",
       "the schema at #/additionalProperties must be an object or a boolean, got 5"},
      {R"({"allOf": []})", "\"allOf\" at # must be a non-empty array of schemas, got []"},
      {R"({"anyOf": {}})", "\"anyOf\" at # must be a non-empty array of schemas, got {}"},
      {R"({"oneOf": [{}, 3]})",
       "the schema at #/oneOf/1 must be an object or a boolean, got 3"},
      {R"({"prefixItems": []})",
       "\"prefixItems\" at # must be a non-empty array of schemas, got []"},
      {R"({"items": [{}, {}]})",
       "\"items\" at # must be a schema (for a list of schemas use \"prefixItems\")"},
      {R"({"not": "x"})",
       "the schema at #/not must be an object or a boolean, got \"x\""},
      {R"({"$defs": {"a": {"type": 1}}})",
       "\"type\" at #/$defs/a must be one of object, array, string, integer, number, "
       "boolean, null (or a list of them), got 1"},
      {R"({"$defs": []})", "\"$defs\" at # must be an object of schemas, got []"},
  };
  for (const Case& c : cases) EXPECT_EQ(parse_error(c.schema), c.error) << c.schema;
}

TEST(JsonSchemaParseTest, AcceptsWholeNumbersWrittenAsFloatsForCounts) {
  EXPECT_FALSE(valid(R"({"minLength": 2.0})", R"("a")"));
  EXPECT_TRUE(valid(R"({"minLength": 2.0})", R"("ab")"));
}

TEST(JsonSchemaParseTest, RefusesBadRegexesAtParseTime) {
  std::string error = parse_error(R"({"properties": {"name": {"pattern": "([a-z"}}})");
  EXPECT_EQ(error.rfind("\"pattern\" at #/properties/name \"([a-z\" is not a valid "
                        "regular expression: ",
                        0),
            0u)
      << error;
  error = parse_error(R"({"patternProperties": {"x(": {}}})");
  EXPECT_EQ(
      error.rfind("\"patternProperties\" at # \"x(\" is not a valid regular expression: ",
                  0),
      0u)
      << error;
}

TEST(JsonSchemaParseTest, RefusesStandardKeywordsItDoesNotImplement) {
  for (const char* keyword :
       {"contains", "propertyNames", "dependentRequired", "dependentSchemas",
        "unevaluatedProperties", "unevaluatedItems", "additionalItems", "dependencies",
        "minContains"}) {
    std::string schema =
        std::string(R"({"properties": {"a": {")") + keyword + R"(": {}}}})";
    std::string expected = std::string("\"") + keyword +
                           "\" at #/properties/a is not supported by this checker";
    EXPECT_EQ(parse_error(schema), expected);
  }
}

TEST(JsonSchemaParseTest, IgnoresAnnotationsAndUnknownKeywords) {
  JsonSchema schema = compile(R"({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://example.com/x", "$comment": "hi",
    "title": "T", "description": "D", "default": 3, "examples": [1, 2],
    "format": "email", "deprecated": true, "readOnly": false,
    "x-sluice-ui": {"widget": 1},
    "type": "integer"
  })");
  EXPECT_EQ(problems(schema, json(3)), Lines{});
  EXPECT_EQ(problems(schema, json("not an email")),
            Lines{": expected an integer, got \"not an email\""});
}

TEST(JsonSchemaParseTest, RefusesRefsThatDoNotResolve) {
  EXPECT_EQ(parse_error(R"({"$ref": "#/$defs/nope"})"),
            "\"$ref\" at # \"#/$defs/nope\" does not resolve");
  EXPECT_EQ(parse_error(R"({"properties": {"a": {"$ref": "#/definitions/x"}}})"),
            "\"$ref\" at #/properties/a \"#/definitions/x\" does not resolve");
  EXPECT_EQ(
      parse_error(R"({"$ref": "other.json#/$defs/a"})"),
      "\"$ref\" at # must refer into this schema (\"#/$defs/name\"); other documents "
      "are not supported, got \"other.json#/$defs/a\"");
  EXPECT_EQ(parse_error(R"({"$ref": "#anchor"})"),
            "\"$ref\" at # must be \"#\" or \"#\" followed by a JSON Pointer such as "
            "\"#/$defs/name\", got \"#anchor\"");
  EXPECT_EQ(parse_error(R"({"$ref": 5})"), "\"$ref\" at # must be a string, got 5");
  EXPECT_EQ(parse_error(R"({"$ref": "#/$defs/a~2"})"),
            "\"$ref\" at # \"#/$defs/a~2\" is not a valid JSON Pointer");
  // Resolves, but to something that is not a schema.
  EXPECT_EQ(parse_error(R"({"required": ["a"], "$ref": "#/required"})"),
            "the schema at #/required must be an object or a boolean, got [\"a\"]");
}

TEST(JsonSchemaParseTest, RefusesRefLoopsThatNeverGoIntoTheValue) {
  EXPECT_EQ(
      parse_error(R"({"$ref": "#"})"),
      "the schema at # refers back to itself without going into the value (# -> #), "
      "so it could never be checked");
  EXPECT_EQ(
      parse_error(R"({"$defs": {
                         "a": {"allOf": [{"$ref": "#/$defs/b"}]},
                         "b": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/a"}]}},
                       "$ref": "#/$defs/a"})"),
      "the schema at #/$defs/a refers back to itself without going into the value "
      "(#/$defs/a -> #/$defs/a/allOf/0 -> #/$defs/b -> #/$defs/b/anyOf/1 -> #/$defs/a), "
      "so it could never be checked");
  // Recursion through a member is fine: it ends where the value ends.
  compile(R"({"properties": {"child": {"$ref": "#"}}})");
}

TEST(JsonSchemaParseTest, ErrorPointerIsOptional) {
  EXPECT_FALSE(JsonSchema::parse("5", nullptr).has_value());
  EXPECT_TRUE(JsonSchema::parse("{}", nullptr).has_value());
}

// ---- type --------------------------------------------------------------------------

TEST(JsonSchemaTest, TypeNamesEachJsonType) {
  EXPECT_TRUE(valid(R"({"type": "object"})", "{}"));
  EXPECT_TRUE(valid(R"({"type": "array"})", "[]"));
  EXPECT_TRUE(valid(R"({"type": "string"})", R"("")"));
  EXPECT_TRUE(valid(R"({"type": "boolean"})", "false"));
  EXPECT_TRUE(valid(R"({"type": "null"})", "null"));
  EXPECT_TRUE(valid(R"({"type": "number"})", "1.5"));
  EXPECT_EQ(problems(R"({"type": "object"})", "[]"),
            Lines{": expected an object, got []"});
  EXPECT_EQ(problems(R"({"type": "array"})", "{}"), Lines{": expected an array, got {}"});
  EXPECT_EQ(problems(R"({"type": "boolean"})", R"("true")"),
            Lines{": expected a boolean, got \"true\""});
  EXPECT_EQ(problems(R"({"type": "null"})", "0"), Lines{": expected null, got 0"});
  EXPECT_EQ(problems(R"({"type": "number"})", R"("1")"),
            Lines{": expected a number, got \"1\""});
  EXPECT_EQ(problems(R"({"type": "string"})", "null"),
            Lines{": expected a string, got null"});
}

TEST(JsonSchemaTest, IntegerAcceptsWholeFloatsAndNumberAcceptsIntegers) {
  const char* integer = R"({"type": "integer"})";
  EXPECT_TRUE(valid(integer, "3"));
  EXPECT_TRUE(valid(integer, "-3"));
  EXPECT_TRUE(valid(integer, "3.0"));
  EXPECT_TRUE(valid(integer, "18446744073709551615"));
  EXPECT_EQ(problems(integer, "3.5"), Lines{": expected an integer, got 3.5"});
  EXPECT_EQ(problems(integer, R"("10")"), Lines{": expected an integer, got \"10\""});
  EXPECT_EQ(problems(integer, "true"), Lines{": expected an integer, got true"});
  EXPECT_TRUE(valid(R"({"type": "number"})", "3"));
  EXPECT_TRUE(valid(R"({"type": "number"})", "-3"));
}

TEST(JsonSchemaTest, TypeListAcceptsAnyOfItsTypes) {
  const char* schema = R"({"type": ["null", "string"]})";
  EXPECT_TRUE(valid(schema, "null"));
  EXPECT_TRUE(valid(schema, R"("x")"));
  EXPECT_EQ(problems(schema, "5"), Lines{": expected a string or null, got 5"});
  EXPECT_EQ(problems(R"({"type": ["boolean", "integer", "array"]})", "{}"),
            Lines{": expected an array or an integer or a boolean, got {}"});
}

TEST(JsonSchemaTest, ShowsLongValuesCut) {
  std::string long_text(200, 'x');
  std::vector<std::string> found =
      problems(compile(R"({"type": "integer"})"), json(long_text));
  ASSERT_EQ(found.size(), 1u);
  // 60 characters of JSON (the quote and 59 x) and an ellipsis.
  EXPECT_EQ(found[0], ": expected an integer, got \"" + std::string(59, 'x') + "...");

  found = problems(compile(R"({"type": "string"})"),
                   json::parse(R"({"a": [1, 2, 3], "b": {"c": "a long string value here"},
                                   "d": "more text to push it past sixty"})"));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0],
            ": expected a string, got {\"a\":[1,2,3],\"b\":{\"c\":\"a long string value "
            "here\"},\"d\":\"more ...");
}

TEST(JsonSchemaTest, DoesNotCutAUtf8CharacterInHalf) {
  // 59 bytes of JSON, then a two-byte character across the 60-byte cut.
  std::string text = std::string(58, 'a') + "\xC3\xA9" + "bbbb";
  std::vector<std::string> found =
      problems(compile(R"({"type": "integer"})"), json(text));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0], ": expected an integer, got \"" + std::string(58, 'a') + "...");
}

TEST(JsonSchemaTest, SurvivesStringsThatAreNotUtf8) {
  std::vector<std::string> found =
      problems(compile(R"({"type": "integer"})"), json(std::string("a\xFF"
                                                                   "b")));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0],
            ": expected an integer, got \"a\xEF\xBF\xBD"
            "b\"");
}

TEST(JsonSchemaTest, TypeMismatchHidesTheOtherKeywordsOfThatSchema) {
  EXPECT_EQ(problems(R"({"type": "string", "enum": ["a", "b"], "minLength": 3})", "5"),
            Lines{": expected a string, got 5"});
  EXPECT_EQ(problems(R"({"type": "object", "required": ["path"]})", R"("p")"),
            Lines{": expected an object, got \"p\""});
}

// ---- enum and const ----------------------------------------------------------------

TEST(JsonSchemaTest, EnumListsTheAllowedValues) {
  const char* schema = R"({"enum": ["lines", "json"]})";
  EXPECT_TRUE(valid(schema, R"("json")"));
  EXPECT_EQ(problems(schema, R"("fast")"),
            Lines{": \"fast\" is not one of: \"lines\", \"json\""});
  EXPECT_EQ(problems(R"({"enum": [1, null, {"a": 1}]})", "2"),
            Lines{": 2 is not one of: 1, null, {\"a\":1}"});
  // JSON equality: numbers by value, objects regardless of key order.
  EXPECT_TRUE(valid(R"({"enum": [1, {"a": 1, "b": 2}]})", "1.0"));
  EXPECT_TRUE(valid(R"({"enum": [1, {"a": 1, "b": 2}]})", R"({"b": 2, "a": 1})"));
  EXPECT_EQ(problems(R"({"enum": []})", "1"), Lines{": 1 is not one of: "});
}

TEST(JsonSchemaTest, ConstNamesTheExpectedValue) {
  EXPECT_TRUE(valid(R"({"const": "lines"})", R"("lines")"));
  EXPECT_TRUE(valid(R"({"const": 2})", "2.0"));
  EXPECT_EQ(problems(R"({"const": "lines"})", R"("json")"),
            Lines{": expected \"lines\", got \"json\""});
  EXPECT_EQ(problems(R"({"const": null})", "0"), Lines{": expected null, got 0"});
}

// ---- numbers -----------------------------------------------------------------------

TEST(JsonSchemaTest, MinimumAndMaximumAreInclusive) {
  const char* schema = R"({"minimum": 0, "maximum": 5})";
  EXPECT_TRUE(valid(schema, "0"));
  EXPECT_TRUE(valid(schema, "5"));
  EXPECT_TRUE(valid(schema, "5.0"));
  EXPECT_EQ(problems(schema, "10"), Lines{": 10 is greater than the maximum 5"});
  EXPECT_EQ(problems(schema, "-1"), Lines{": -1 is less than the minimum 0"});
  EXPECT_EQ(problems(schema, "5.5"), Lines{": 5.5 is greater than the maximum 5"});
  EXPECT_EQ(problems(R"({"minimum": 0.5})", "0"),
            Lines{": 0 is less than the minimum 0.5"});
  // Integers compare exactly, whatever their sign and size.
  EXPECT_EQ(problems(R"({"maximum": -1})", "18446744073709551615"),
            Lines{": 18446744073709551615 is greater than the maximum -1"});
  EXPECT_EQ(problems(R"({"minimum": 9007199254740993})", "9007199254740992"),
            Lines{": 9007199254740992 is less than the minimum 9007199254740993"});
  EXPECT_EQ(
      problems(R"({"maximum": -9223372036854775808})", "-9223372036854775807"),
      Lines{": -9223372036854775807 is greater than the maximum -9223372036854775808"});
  // Numeric keywords say nothing about other types.
  EXPECT_TRUE(valid(schema, R"("100")"));
}

TEST(JsonSchemaTest, ExclusiveBoundsRefuseTheBoundItself) {
  const char* schema = R"({"exclusiveMinimum": 0, "exclusiveMaximum": 1})";
  EXPECT_TRUE(valid(schema, "0.5"));
  EXPECT_EQ(problems(schema, "0"),
            Lines{": 0 is not greater than the exclusive minimum 0"});
  EXPECT_EQ(problems(schema, "1"), Lines{": 1 is not less than the exclusive maximum 1"});
  EXPECT_EQ(problems(schema, "7"), Lines{": 7 is not less than the exclusive maximum 1"});
}

TEST(JsonSchemaTest, MultipleOfIsExactForIntegersAndToleratesDecimalRounding) {
  EXPECT_TRUE(valid(R"({"multipleOf": 5})", "10"));
  EXPECT_TRUE(valid(R"({"multipleOf": 5})", "-10"));
  EXPECT_TRUE(valid(R"({"multipleOf": 5})", "0"));
  EXPECT_EQ(problems(R"({"multipleOf": 5})", "7"), Lines{": 7 is not a multiple of 5"});
  // 2^53 + 1 is a multiple of 3; as a double it would be 2^53, which is not.
  EXPECT_TRUE(valid(R"({"multipleOf": 3})", "9007199254740993"));
  EXPECT_EQ(problems(R"({"multipleOf": 3})", "9007199254740994"),
            Lines{": 9007199254740994 is not a multiple of 3"});
  EXPECT_TRUE(valid(R"({"multipleOf": 3})", "-9007199254740993"));
  EXPECT_TRUE(valid(R"({"multipleOf": 0.1})", "0.3"));
  EXPECT_TRUE(valid(R"({"multipleOf": 0.01})", "1.1"));
  EXPECT_TRUE(valid(R"({"multipleOf": 0.5})", "2"));
  EXPECT_EQ(problems(R"({"multipleOf": 0.1})", "0.35"),
            Lines{": 0.35 is not a multiple of 0.1"});
  EXPECT_EQ(problems(R"({"multipleOf": 2})", "3.0"),
            Lines{": 3.0 is not a multiple of 2"});
  EXPECT_EQ(problems(R"({"multipleOf": 1e-300})", "1e300"),
            Lines{": 1e+300 is not a multiple of 1e-300"});
}

// ---- strings -----------------------------------------------------------------------

TEST(JsonSchemaTest, StringLengthCountsCodePoints) {
  const char* schema = R"({"minLength": 2, "maxLength": 3})";
  EXPECT_TRUE(valid(schema, R"("ab")"));
  EXPECT_TRUE(valid(schema, R"("h\u00e9\u00e9")"));             // 3 characters, 5 bytes
  EXPECT_TRUE(valid(schema, R"("\ud83d\ude00\ud83d\ude00")"));  // 2 emoji, 8 bytes
  EXPECT_EQ(problems(schema, R"("a")"),
            Lines{": \"a\" has 1 character, fewer than the minimum 2"});
  EXPECT_EQ(problems(schema, R"("abcd")"),
            Lines{": \"abcd\" has 4 characters, more than the maximum 3"});
}

TEST(JsonSchemaTest, PatternSearchesUnlessAnchored) {
  EXPECT_TRUE(valid(R"({"pattern": "b+"})", R"("abbbc")"));
  EXPECT_TRUE(valid(R"({"pattern": "^[a-z]+$"})", R"("abc")"));
  EXPECT_EQ(problems(R"({"pattern": "^[a-z]+$"})", R"("abc1")"),
            Lines{": \"abc1\" does not match the pattern ^[a-z]+$"});
  EXPECT_EQ(problems(R"({"pattern": "^\\d{3}$"})", R"("12")"),
            Lines{": \"12\" does not match the pattern ^\\d{3}$"});
  EXPECT_TRUE(valid(R"({"pattern": "^\\d{3}$"})", R"("123")"));
  EXPECT_TRUE(valid(R"({"pattern": "^x"})", "5"));  // only strings
}

// ---- arrays ------------------------------------------------------------------------

TEST(JsonSchemaTest, ItemsChecksEveryItemAtItsIndex) {
  EXPECT_EQ(
      problems(R"({"items": {"type": "integer", "minimum": 0}})", R"([1, "2", -3, 4])"),
      (Lines{"/1: expected an integer, got \"2\"", "/2: -3 is less than the minimum 0"}));
}

TEST(JsonSchemaTest, PrefixItemsChecksByPositionThenItemsTheRest) {
  const char* schema = R"({"prefixItems": [{"type": "string"}, {"type": "integer"}],
                           "items": {"type": "boolean"}})";
  EXPECT_TRUE(valid(schema, "[]"));
  EXPECT_TRUE(valid(schema, R"(["a"])"));
  EXPECT_TRUE(valid(schema, R"(["a", 1, true, false])"));
  EXPECT_EQ(problems(schema, R"([1, "a", null])"),
            (Lines{"/0: expected a string, got 1", "/1: expected an integer, got \"a\"",
                   "/2: expected a boolean, got null"}));
}

TEST(JsonSchemaTest, ItemsFalseClosesATuple) {
  const char* schema = R"({"prefixItems": [{}, {}], "items": false})";
  EXPECT_TRUE(valid(schema, "[1, 2]"));
  EXPECT_EQ(problems(schema, "[1, 2, 3, 4]"),
            (Lines{"/2: unexpected item (at most 2 items allowed)",
                   "/3: unexpected item (at most 2 items allowed)"}));
  EXPECT_EQ(problems(R"({"items": false})", "[1]"),
            Lines{"/0: unexpected item (the array must be empty)"});
}

TEST(JsonSchemaTest, ItemCounts) {
  const char* schema = R"({"minItems": 2, "maxItems": 3})";
  EXPECT_TRUE(valid(schema, "[1, 2]"));
  EXPECT_EQ(problems(schema, "[1]"), Lines{": has 1 item, fewer than the minimum 2"});
  EXPECT_EQ(problems(schema, "[]"), Lines{": has 0 items, fewer than the minimum 2"});
  EXPECT_EQ(problems(schema, "[1, 2, 3, 4]"),
            Lines{": has 4 items, more than the maximum 3"});
}

TEST(JsonSchemaTest, UniqueItemsPointsAtEachDuplicate) {
  const char* schema = R"({"uniqueItems": true})";
  EXPECT_TRUE(valid(schema, R"([1, "1", [1], {"a": 1}, {"a": 2}])"));
  EXPECT_EQ(problems(schema, R"(["a", "b", "a", 1, 1.0, "a"])"),
            (Lines{"/2: \"a\" is a duplicate of item 0 (items must be unique)",
                   "/4: 1.0 is a duplicate of item 3 (items must be unique)",
                   "/5: \"a\" is a duplicate of item 0 (items must be unique)"}));
  EXPECT_EQ(
      problems(schema, R"([{"a": 1, "b": 2}, {"b": 2, "a": 1}])"),
      Lines{"/1: {\"a\":1,\"b\":2} is a duplicate of item 0 (items must be unique)"});
  EXPECT_TRUE(valid(R"({"uniqueItems": false})", "[1, 1]"));
}

// ---- objects -----------------------------------------------------------------------

TEST(JsonSchemaTest, GeneratorConfigs) {
  JsonSchema schema = compile(kGeneratorSchema);
  EXPECT_EQ(problems(schema, json::object()), Lines{});
  EXPECT_EQ(problems(schema,
                     json::parse(R"({"count": 10, "rate": 2.5, "template": "t{seq}"})")),
            Lines{});
  EXPECT_EQ(
      problems(schema, json::parse(R"({"cuont": 10})")),
      Lines{"/cuont: unknown key \"cuont\" (known keys: count, keys, rate, size, start, "
            "template)"});
  EXPECT_EQ(problems(schema, json::parse(R"({"count": "10"})")),
            Lines{"/count: expected an integer, got \"10\""});
  EXPECT_EQ(problems(schema, json::parse(R"({"size": 67108865, "rate": -1})")),
            (Lines{"/rate: -1 is less than the minimum 0",
                   "/size: 67108865 is greater than the maximum 67108864"}));
  EXPECT_EQ(problems(schema, json::parse("[]")), Lines{": expected an object, got []"});
}

TEST(JsonSchemaTest, RequiredReportsEachMissingKeyAtTheObject) {
  const char* schema =
      R"({"required": ["path", "mode"], "properties": {"sub": {"required": ["x"]}}})";
  EXPECT_TRUE(valid(schema, R"({"path": "p", "mode": 1})"));
  EXPECT_EQ(problems(schema, R"({"sub": {}})"),
            (Lines{": missing required key \"path\"", ": missing required key \"mode\"",
                   "/sub: missing required key \"x\""}));
  // A present null still counts as present.
  EXPECT_TRUE(valid(R"({"required": ["a"]})", R"({"a": null})"));
  // required only applies to objects.
  EXPECT_TRUE(valid(R"({"required": ["a"]})", "[]"));
}

TEST(JsonSchemaTest, UnknownKeyMessagesSayWhatIsAllowed) {
  EXPECT_EQ(problems(R"({"additionalProperties": false})", R"({"x": 1})"),
            Lines{"/x: unknown key \"x\" (no keys are allowed)"});
  EXPECT_EQ(
      problems(R"({"patternProperties": {"^x-": {}}, "additionalProperties": false})",
               R"({"x-a": 1, "y": 1})"),
      Lines{"/y: unknown key \"y\" (keys must match ^x-)"});
  EXPECT_EQ(
      problems(
          R"({"properties": {"b": {}, "a": {}},
              "patternProperties": {"^x-": {}, "^y-": {}},
              "additionalProperties": false})",
          R"({"z": 1})"),
      Lines{"/z: unknown key \"z\" (known keys: a, b; or keys matching ^x- or ^y-)"});
}

TEST(JsonSchemaTest, AdditionalPropertiesSchemaChecksTheOtherKeys) {
  const char* schema = R"({"properties": {"name": {"type": "string"}},
                           "additionalProperties": {"type": "integer"}})";
  EXPECT_TRUE(valid(schema, R"({"name": "n", "a": 1, "b": 2})"));
  EXPECT_EQ(
      problems(schema, R"({"name": 1, "a": "x"})"),
      (Lines{"/a: expected an integer, got \"x\"", "/name: expected a string, got 1"}));
}

TEST(JsonSchemaTest, PatternPropertiesApplyToEveryMatchingKey) {
  const char* schema = R"({"properties": {"x-id": {"type": "integer"}},
                           "patternProperties": {"^x-": {"minimum": 0},
                                                 "id$": {"maximum": 9}},
                           "additionalProperties": {"type": "string"}})";
  EXPECT_TRUE(valid(schema, R"({"x-a": 1, "x-id": 5, "other": "s"})"));
  EXPECT_EQ(
      problems(schema, R"({"x-id": 10.5, "x-a": -1, "other": 1})"),
      (Lines{"/other: expected a string, got 1", "/x-a: -1 is less than the minimum 0",
             "/x-id: expected an integer, got 10.5",
             "/x-id: 10.5 is greater than the maximum 9"}));
  EXPECT_EQ(problems(schema, R"({"x-id": -20})"),
            (Lines{"/x-id: -20 is less than the minimum 0"}));
  EXPECT_EQ(problems(schema, R"({"x-id": 20})"),
            (Lines{"/x-id: 20 is greater than the maximum 9"}));
}

TEST(JsonSchemaTest, PropertyCounts) {
  const char* schema = R"({"minProperties": 1, "maxProperties": 2})";
  EXPECT_TRUE(valid(schema, R"({"a": 1})"));
  EXPECT_EQ(problems(schema, "{}"), Lines{": has 0 keys, fewer than the minimum 1"});
  EXPECT_EQ(problems(schema, R"({"a": 1, "b": 2, "c": 3})"),
            Lines{": has 3 keys, more than the maximum 2"});
}

TEST(JsonSchemaTest, PointersEscapeSlashAndTilde) {
  EXPECT_EQ(problems(R"({"additionalProperties": {"type": "integer"}})",
                     R"({"a/b": "x", "c~d": "y"})"),
            (Lines{"/a~1b: expected an integer, got \"x\"",
                   "/c~0d: expected an integer, got \"y\""}));
  EXPECT_EQ(problems(R"({"additionalProperties": false})", R"({"": 1})"),
            Lines{"/: unknown key \"\" (no keys are allowed)"});
}

TEST(JsonSchemaTest, NestedPointers) {
  const char* schema = R"({
    "properties": {"stages": {"type": "array", "items": {
      "type": "object", "required": ["name"],
      "properties": {"name": {"type": "string"},
                     "config": {"properties": {"count": {"type": "integer"}}}}}}}})";
  EXPECT_EQ(
      problems(schema, R"({"stages": [{"name": "a"}, {"config": {"count": "x"}}]})"),
      (Lines{"/stages/1: missing required key \"name\"",
             "/stages/1/config/count: expected an integer, got \"x\""}));
}

// ---- everything in one pass, in document order ---------------------------------------

TEST(JsonSchemaTest, ReportsEveryProblemInDocumentOrder) {
  const char* schema = R"({
    "type": "object", "required": ["z"], "additionalProperties": false,
    "properties": {
      "a": {"type": "integer"},
      "b": {"items": {"enum": [1, 2]}},
      "c": {"minLength": 3, "pattern": "^[a-z]+$"}
    }})";
  EXPECT_EQ(problems(schema, R"({"c": "A", "b": [1, 3, 2, 4], "a": 1.5, "d": 0})"),
            (Lines{": missing required key \"z\"", "/a: expected an integer, got 1.5",
                   "/b/1: 3 is not one of: 1, 2", "/b/3: 4 is not one of: 1, 2",
                   "/c: \"A\" has 1 character, fewer than the minimum 3",
                   "/c: \"A\" does not match the pattern ^[a-z]+$",
                   "/d: unknown key \"d\" (known keys: a, b, c)"}));
}

TEST(JsonSchemaTest, ArrayItemsSortNumerically) {
  std::string items;
  for (int i = 0; i < 12; ++i) items += i == 0 ? "\"x\"" : ",\"x\"";
  std::vector<std::string> found =
      problems(R"({"items": {"type": "integer"}})", "[" + items + "]");
  ASSERT_EQ(found.size(), 12u);
  EXPECT_EQ(found[2], "/2: expected an integer, got \"x\"");
  EXPECT_EQ(found[10], "/10: expected an integer, got \"x\"");
}

TEST(JsonSchemaTest, AllOfReportsEveryBranchInDocumentOrderWithoutRepeats) {
  const char* schema = R"({"allOf": [
      {"properties": {"b": {"type": "string"}}, "required": ["x"]},
      {"properties": {"a": {"type": "string"}}, "required": ["x"]}]})";
  EXPECT_TRUE(valid(schema, R"({"x": 0, "a": "s", "b": "s"})"));
  EXPECT_EQ(problems(schema, R"({"a": 1, "b": 2})"),
            (Lines{": missing required key \"x\"", "/a: expected a string, got 1",
                   "/b: expected a string, got 2"}));
}

// ---- anyOf, oneOf, not, if ---------------------------------------------------------

TEST(JsonSchemaTest, AnyOfSummarisesEachFormsFirstProblem) {
  const char* schema = R"({"anyOf": [
      {"type": "string", "minLength": 1},
      {"type": "object", "required": ["path"], "additionalProperties": false,
       "properties": {"path": {"type": "string"}, "mode": {"type": "string"}}}]})";
  EXPECT_TRUE(valid(schema, R"("x")"));
  EXPECT_TRUE(valid(schema, R"({"path": "p"})"));
  EXPECT_EQ(problems(schema, "5"),
            Lines{": matches none of the 2 allowed forms: (1) expected a string, got 5; "
                  "(2) expected an object, got 5"});
  EXPECT_EQ(
      problems(schema, R"("")"),
      Lines{
          ": matches none of the 2 allowed forms: (1) \"\" has 0 characters, fewer than "
          "the minimum 1; (2) expected an object, got \"\""});
  EXPECT_EQ(
      problems(schema, R"({"pth": "p", "mode": 1})"),
      Lines{": matches none of the 2 allowed forms: (1) expected a string, got "
            "{\"mode\":1,\"pth\":\"p\"}; (2) missing required key \"path\" (and 2 more "
            "problems)"});
  EXPECT_EQ(problems(schema, R"({"path": "p", "mode": 1})"),
            Lines{": matches none of the 2 allowed forms: (1) expected a string, got "
                  "{\"mode\":1,\"path\":\"p\"}; (2) at /mode: expected a string, got 1"});
}

TEST(JsonSchemaTest, AnyOfInsideAMemberKeepsItsPointer) {
  const char* schema = R"({"properties": {"size": {"anyOf": [
                             {"type": "integer"},
                             {"type": "string", "pattern": "^[0-9]+[kMG]?$"}]}}})";
  EXPECT_TRUE(valid(schema, R"({"size": 10})"));
  EXPECT_TRUE(valid(schema, R"({"size": "10M"})"));
  EXPECT_EQ(
      problems(schema, R"({"size": "big"})"),
      Lines{"/size: matches none of the 2 allowed forms: (1) expected an integer, got "
            "\"big\"; (2) \"big\" does not match the pattern ^[0-9]+[kMG]?$"});
}

TEST(JsonSchemaTest, AnyOfFormsFirstProblemIsInDocumentOrder) {
  // The form's problems come from allOf branches in reverse key order.
  const char* schema = R"({"anyOf": [{"type": "string"}, {"allOf": [
      {"properties": {"b": {"type": "string"}}},
      {"properties": {"a": {"type": "string"}}}]}]})";
  EXPECT_EQ(
      problems(schema, R"({"a": 1, "b": 1})"),
      Lines{
          ": matches none of the 2 allowed forms: (1) expected a string, got "
          "{\"a\":1,\"b\":1}; (2) at /a: expected a string, got 1 (and 1 more problem)"});
}

TEST(JsonSchemaTest, OneOfWantsExactlyOneForm) {
  const char* schema =
      R"({"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 10},
                                        {"type": "string"}]})";
  EXPECT_TRUE(valid(schema, "5"));
  EXPECT_TRUE(valid(schema, "10.5"));
  EXPECT_TRUE(valid(schema, R"("s")"));
  EXPECT_EQ(
      problems(schema, "12"),
      Lines{": matches 2 of the 3 allowed forms (1 and 2), but must match exactly one"});
  EXPECT_EQ(
      problems(schema, "2.5"),
      Lines{": matches none of the 3 allowed forms: (1) expected an integer, got 2.5; "
            "(2) 2.5 is less than the minimum 10; (3) expected a string, got 2.5"});
}

TEST(JsonSchemaTest, NotShowsTheForbiddenSchema) {
  const char* schema = R"({"properties": {"a": {"not": {"type": "null"}}}})";
  EXPECT_TRUE(valid(schema, R"({"a": 1})"));
  EXPECT_EQ(problems(schema, R"({"a": null})"),
            Lines{"/a: must not match the schema {\"type\":\"null\"}"});
  EXPECT_EQ(
      problems(
          R"({"not": {"required": ["a"],
                      "title": "a long title to push the shown schema past sixty characters"}})",
          R"({"a": 1})"),
      Lines{
          ": must not match the schema {\"required\":[\"a\"],\"title\":\"a long title to "
          "push the shown sc..."});
}

TEST(JsonSchemaTest, IfThenElse) {
  const char* schema = R"({
    "if": {"properties": {"mode": {"const": "file"}}, "required": ["mode"]},
    "then": {"required": ["path"]},
    "else": {"properties": {"path": false}}})";
  EXPECT_TRUE(valid(schema, R"({"mode": "file", "path": "p"})"));
  EXPECT_TRUE(valid(schema, R"({"mode": "stdin"})"));
  EXPECT_EQ(problems(schema, R"({"mode": "file"})"),
            Lines{": missing required key \"path\""});
  EXPECT_EQ(problems(schema, R"({"mode": "stdin", "path": "p"})"),
            Lines{"/path: no value is allowed here"});
  // then and else without if do nothing.
  EXPECT_TRUE(valid(R"({"then": false, "else": false})", "1"));
  EXPECT_TRUE(valid(R"({"if": true, "else": false})", "1"));
  EXPECT_EQ(problems(R"({"if": true, "then": false})", "1"),
            Lines{": no value is allowed here"});
}

TEST(JsonSchemaTest, BooleanSchemas) {
  EXPECT_TRUE(valid("true", R"({"anything": [1, 2]})"));
  EXPECT_EQ(problems("false", "1"), Lines{": no value is allowed here"});
  EXPECT_EQ(problems(R"({"properties": {"old": false}})", R"({"old": 1, "new": 2})"),
            Lines{"/old: no value is allowed here"});
}

// ---- $ref --------------------------------------------------------------------------

TEST(JsonSchemaTest, RefToDefsAndDefinitions) {
  const char* schema = R"({
    "$defs": {"port": {"type": "integer", "minimum": 1, "maximum": 65535}},
    "definitions": {"host": {"type": "string", "minLength": 1}},
    "properties": {"port": {"$ref": "#/$defs/port"},
                   "host": {"$ref": "#/definitions/host"}}})";
  EXPECT_TRUE(valid(schema, R"({"port": 80, "host": "h"})"));
  EXPECT_EQ(problems(schema, R"({"port": 0, "host": ""})"),
            (Lines{"/host: \"\" has 0 characters, fewer than the minimum 1",
                   "/port: 0 is less than the minimum 1"}));
}

TEST(JsonSchemaTest, RefAppliesAlongsideSiblingKeywords) {
  const char* schema = R"({"$defs": {"n": {"type": "integer"}},
                           "properties": {
                             "even": {"$ref": "#/$defs/n", "multipleOf": 2}}})";
  EXPECT_TRUE(valid(schema, R"({"even": 4})"));
  EXPECT_EQ(problems(schema, R"({"even": 3})"), Lines{"/even: 3 is not a multiple of 2"});
  EXPECT_EQ(problems(schema, R"({"even": "4"})"),
            Lines{"/even: expected an integer, got \"4\""});
}

TEST(JsonSchemaTest, RecursiveSchemas) {
  const char* tree = R"({"type": "object", "additionalProperties": false,
                         "properties": {
                           "value": {"type": "integer"},
                           "children": {"type": "array", "items": {"$ref": "#"}}}})";
  EXPECT_TRUE(
      valid(tree, R"({"value": 1, "children": [{"value": 2, "children": [{}]}]})"));
  EXPECT_EQ(
      problems(tree, R"({"children": [{"value": 2, "children": [{"valeu": 3}]}]})"),
      Lines{"/children/0/children/0/valeu: unknown key \"valeu\" (known keys: children, "
            "value)"});

  const char* list = R"({"$ref": "#/$defs/node",
                         "$defs": {"node": {
                           "type": ["object", "null"],
                           "properties": {"next": {"$ref": "#/$defs/node"}}}}})";
  EXPECT_TRUE(valid(list, R"({"next": {"next": {"next": null}}})"));
  EXPECT_EQ(problems(list, R"({"next": {"next": 3}})"),
            Lines{"/next/next: expected an object or null, got 3"});
}

TEST(JsonSchemaTest, RefPointersAreUnescapedAndPercentDecoded) {
  const char* schema =
      R"({"$defs": {"a/b": {"type": "string"}, "c d": {"type": "integer"},
                                     "e~f": {"type": "boolean"}},
                           "properties": {"x": {"$ref": "#/$defs/a~1b"},
                                          "y": {"$ref": "#/$defs/c%20d"},
                                          "z": {"$ref": "#/$defs/e~0f"}}})";
  EXPECT_TRUE(valid(schema, R"({"x": "s", "y": 1, "z": true})"));
  EXPECT_EQ(problems(schema, R"({"x": 1, "y": "s", "z": 0})"),
            (Lines{"/x: expected a string, got 1", "/y: expected an integer, got \"s\"",
                   "/z: expected a boolean, got 0"}));
}

TEST(JsonSchemaTest, RefCanPointAnywhereInTheDocument) {
  const char* schema = R"({"properties": {"a": {"type": "integer"},
                                          "b": {"$ref": "#/properties/a"}}})";
  EXPECT_EQ(problems(schema, R"({"a": 1, "b": "x"})"),
            Lines{"/b: expected an integer, got \"x\""});
}

// ---- the object itself -------------------------------------------------------------

TEST(JsonSchemaTest, DefaultConstructedAcceptsEverything) {
  JsonSchema schema;
  EXPECT_TRUE(schema.validate(json::parse(R"({"a": 1})")).empty());
}

TEST(JsonSchemaTest, CopiesOutliveTheOriginal) {
  std::optional<JsonSchema> copy;
  {
    JsonSchema original = compile(kGeneratorSchema);
    copy = original;
  }
  EXPECT_EQ(problems(*copy, json::parse(R"({"count": -1})")),
            Lines{"/count: -1 is less than the minimum 0"});
}

TEST(JsonSchemaTest, ValidatesConcurrently) {
  const JsonSchema schema = compile(R"({"properties": {"name": {"pattern": "^[a-z]+$"},
                                                       "n": {"type": "integer"}}})");
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        if (!schema.validate(json::parse(R"({"name": "abc", "n": 1})")).empty())
          ++failures[t];
        if (schema.validate(json::parse(R"({"name": "ABC", "n": "1"})")).size() != 2)
          ++failures[t];
      }
    });
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace sluice::host
