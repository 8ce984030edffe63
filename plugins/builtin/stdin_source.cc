// `stdin`: a source reading the lines of standard input as messages (format `lines` or
// `json`, as the `file` source; see line_source.h), ending at its end. There is only
// one standard input, so the type is not thread-safe and takes one worker.
#include <unistd.h>

#include "config.h"
#include "line_source.h"
#include "types.h"

namespace sluice::builtin {
namespace {

class Stdin {
 public:
  explicit Stdin(const CreateArgs& args)
      : lines_(STDIN_FILENO, "stdin", read_config(args), /*follow=*/false) {}

  sluice_status process(Context& ctx, const Batch& batch) { return lines_.process(ctx, batch); }
  void ack(Context&, const Batch& batch) { lines_.ack(batch); }
  void finish(Context& ctx) { lines_.finish(ctx); }

 private:
  static LineFormat read_config(const CreateArgs& args) {
    Config c(args.config_json);
    LineFormat format = read_line_format(c);
    c.reject_unknown_keys();
    require_one_worker(args, "workers would split the input between them at random");
    return format;
  }

  LineSource lines_;
};

constexpr const char* kSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "format": {"enum": ["lines", "json"]},
    "key":    {"type": "string", "minLength": 1},
    "eventTime":     {"type": "string", "minLength": 1},
    "eventTimeUnit": {"enum": ["ms", "s"]}
  },
  "allOf": [
    {"if": {"required": ["key"]},
     "then": {"required": ["format"], "properties": {"format": {"const": "json"}}}},
    {"if": {"required": ["eventTime"]},
     "then": {"required": ["format"], "properties": {"format": {"const": "json"}}}},
    {"if": {"required": ["eventTimeUnit"]}, "then": {"required": ["eventTime"]}}
  ]
})";

}  // namespace

void add_stdin(Library& lib) {
  lib.add<Stdin>({"stdin", SLUICE_KIND_SOURCE, "0.1.0",
                  "reads standard input's lines as messages (lines or JSON lines)", kSchema});
}

}  // namespace sluice::builtin
