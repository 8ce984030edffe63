// `stdout`: a sink writing each message to standard output as a line, its value or a
// JSON object (see message_format.h). A batch is rendered into one buffer and written
// with one fwrite, then flushed, so output shows up batch by batch (also when a person
// is watching) and batches of several workers never interleave within a line.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "config.h"
#include "message_format.h"
#include "types.h"

namespace sluice::builtin {
namespace {

class Stdout {
 public:
  explicit Stdout(const CreateArgs& args) {
    Config c(args.config_json);
    format_ = read_message_format(c);
    c.reject_unknown_keys();
  }

  void process(Context&, const Batch& batch) {
    buf_.clear();
    for (size_t i = 0; i < batch.size(); ++i) append_message(buf_, batch[i], format_);
    // stdio locks the stream for each call: one fwrite per batch keeps it whole.
    if (std::fwrite(buf_.data(), 1, buf_.size(), stdout) != buf_.size() ||
        std::fflush(stdout) != 0) {
      const int err = errno;
      std::clearerr(stdout);
      throw std::runtime_error(std::string("writing to standard output failed: ") +
                               std::strerror(err));
    }
  }

 private:
  MessageFormat format_ = MessageFormat::kValue;
  std::string buf_;  // the batch being rendered; its capacity is reused
};

constexpr const char* kSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "format": {"enum": ["value", "json"]}
  }
})";

}  // namespace

void add_stdout(Library& lib) {
  lib.add<Stdout>({"stdout", SLUICE_KIND_SINK, "0.1.0",
                   "writes each message to standard output as a line (value or JSON)",
                   kSchema});
}

}  // namespace sluice::builtin
