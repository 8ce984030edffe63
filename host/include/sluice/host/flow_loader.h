// Reads a flow YAML file into the protobuf schema (host/proto/flow.proto), strictly.
//
// Contract:
//   - Every YAML key must be a field's json_name; unknown keys, wrong types, malformed
//     durations/sizes/enums and duplicate keys are errors. All errors are reported in
//     one pass, each with file:line:column and a hint where one helps (the closest known
//     key for a typo, the accepted spellings of an enum or a duration).
//   - Quoted scalars stay strings: a quoted "yes" or "10" where a bool or a number is
//     expected is an error, and an unquoted value where a string is expected is kept as
//     written (`name: 010` is the string "010").
//   - A null value (`key:`, `key: null`, `key: ~`) leaves the field absent; inside a
//     plugin `config` it is JSON null.
//   - `${NAME}` in any scalar (keys included) is replaced by the environment variable
//     NAME before the value is interpreted, so a plain `${COUNT}` can be a number and a
//     quoted one stays a string; `${NAME:-default}` gives a default (also when NAME is
//     empty, as in the shell); `$${` is a literal `${`. An unset variable without a
//     default is an error at its location.
//   - Overrides ("stages.in.config.count=10") are applied to the YAML tree before
//     mapping, so they are checked like the file. A path segment after `stages` is a
//     stage name; a segment inside any other list is an index (`edges.0.capacity`);
//     other segments are keys (created when missing). The value is read as YAML (`10`
//     is a number, `'"10"'` a string, `[a, b]` a list, empty is null). Whatever an
//     override put in the tree is located at "--set <override>".
//   - Field-level checks only: graph rules (names unique, edges valid, ...) are the
//     validator's (flow_graph.h). Defaults are not filled in: `optional`/absent fields
//     stay absent so the validator can tell "not set" from "set to the default".
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/flow.pb.h"
#include "sluice/host/diagnostics.h"

namespace sluice::host {

struct FlowLoadOptions {
  std::vector<std::string> overrides;  // "path.to.key=value", applied in order
  // Environment lookup for ${NAME}; returns null when unset. Defaults to ::getenv.
  std::function<const char*(const char*)> getenv;
};

struct LoadedFlow {
  flow::Flow spec;
  std::filesystem::path file;  // as given (for messages)
  std::filesystem::path dir;   // absolute directory of the file (for relative paths)

  // Where each field came from, keyed by its path in the spec: "name", "stages[2]",
  // "stages[2].sink", "stages[0].config.count", "edges[1].when.tags[0]". Values are
  // "file:line:column" (1-based) or "--set <override>". A field with a scalar value is
  // located at the value, any other field at its key; list items at the item.
  std::map<std::string, std::string> locations;

  // The location of `path`, or of its longest recorded prefix, or the file name.
  std::string where(std::string_view path) const;
};

// Reads and maps `file`. Returns nullopt when anything is wrong; every problem is in
// *diagnostics (which may already hold entries; they are kept).
std::optional<LoadedFlow> load_flow(const std::filesystem::path& file,
                                    const FlowLoadOptions& options, Diagnostics* diagnostics);

// The same for YAML text; `display_name` stands for the file in locations and `dir` is
// what relative paths resolve against.
std::optional<LoadedFlow> load_flow_text(std::string_view yaml, const std::string& display_name,
                                         const std::filesystem::path& dir,
                                         const FlowLoadOptions& options,
                                         Diagnostics* diagnostics);

}  // namespace sluice::host
