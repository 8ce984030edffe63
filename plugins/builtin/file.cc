// `file`: one type name for both ends of a flow, as flows say `source: file` and
// `sink: file`. The instance's kind picks the class: FileSource (file_source.h) reads
// lines, FileSink (file_sink.h) writes them. Each checks the keys of its own kind, so
// `append` on a source or `follow` on a sink is an unknown key.
#include <memory>

#include "file_retriever.h"
#include "file_sink.h"
#include "file_source.h"
#include "types.h"

namespace sluice::builtin {
namespace {

class File {
 public:
  explicit File(const CreateArgs& args) {
    if (args.kind == SLUICE_KIND_SOURCE) source_ = std::make_unique<FileSource>(args);
    else if (args.kind == SLUICE_KIND_SIDE_INPUT) retriever_ = std::make_unique<FileRetriever>(args);
    else sink_ = std::make_unique<FileSink>(args);
  }

  // `sluice check`: a retriever's config is read without touching the file (a source
  // or sink is checked by its JSON Schema and at create).
  static void check(const CreateArgs& args) {
    if (args.kind == SLUICE_KIND_SIDE_INPUT) FileRetriever retriever(args);
  }

  sluice_status process(Context& ctx, const Batch& batch) {
    if (source_) return source_->process(ctx, batch);
    if (retriever_) return retriever_->process(ctx);
    sink_->process(ctx, batch);
    return SLUICE_OK;
  }
  // The host acknowledges only sources.
  void ack(Context&, const Batch& batch) {
    if (source_) source_->ack(batch);
  }
  void finish(Context& ctx) {
    if (source_) source_->finish(ctx);
    else if (sink_) sink_->finish(ctx);
  }

 private:
  std::unique_ptr<FileSource> source_;
  std::unique_ptr<FileSink> sink_;
  std::unique_ptr<FileRetriever> retriever_;  // side-input kind: the whole file
};

// One schema for both kinds: the keys are the union, and the conditions below keep a
// source's keys (follow, key, eventTime, eventTimeUnit, format lines) and a sink's
// (append, format value) apart, so a validator says "/append: no value is allowed here"
// for {follow, append}. create checks the same per kind.
constexpr const char* kSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "required": ["path"],
  "properties": {
    "path":   {"type": "string", "minLength": 1},
    "format": {"enum": ["lines", "json", "value"]},
    "key":    {"type": "string", "minLength": 1},
    "eventTime":     {"type": "string", "minLength": 1},
    "eventTimeUnit": {"enum": ["ms", "s"]},
    "follow": {"type": "boolean"},
    "append": {"type": "boolean"}
  },
  "allOf": [
    {
      "description": "source keys (follow, key, eventTime, eventTimeUnit, format lines) exclude sink keys",
      "if": {"anyOf": [{"required": ["follow"]}, {"required": ["key"]},
                       {"required": ["eventTime"]}, {"required": ["eventTimeUnit"]},
                       {"required": ["format"], "properties": {"format": {"const": "lines"}}}]},
      "then": {"properties": {"append": false, "format": {"enum": ["lines", "json"]}}}
    },
    {
      "description": "sink keys (append, format value) exclude source keys",
      "if": {"anyOf": [{"required": ["append"]},
                       {"required": ["format"], "properties": {"format": {"const": "value"}}}]},
      "then": {"properties": {"follow": false, "key": false, "eventTime": false,
                              "eventTimeUnit": false,
                              "format": {"enum": ["value", "json"]}}}
    },
    {
      "description": "key names a field of a JSON line",
      "if": {"required": ["key"]},
      "then": {"required": ["format"], "properties": {"format": {"const": "json"}}}
    },
    {
      "description": "eventTime names a field of a JSON line",
      "if": {"required": ["eventTime"]},
      "then": {"required": ["format"], "properties": {"format": {"const": "json"}}}
    },
    {
      "description": "eventTimeUnit is the unit of eventTime's numbers",
      "if": {"required": ["eventTimeUnit"]},
      "then": {"required": ["eventTime"]}
    }
  ]
})";

}  // namespace

void add_file(Library& lib) {
  lib.add<File>({"file", SLUICE_KIND_SOURCE | SLUICE_KIND_SINK | SLUICE_KIND_SIDE_INPUT, "0.1.0",
                 "source: a file's lines (lines or JSON lines, optionally followed); "
                 "sink: writes each message as a line; side input: the whole file",
                 kSchema});
}

}  // namespace sluice::builtin
