// The source side of the `file` type (see file.cc): reads a file's lines as messages,
// optionally following it as it grows (like `tail -f`).
#pragma once

#include "line_source.h"
#include "unique_fd.h"

namespace sluice::builtin {

class FileSource {
 public:
  // Reads the config (path, format, key, follow) and opens the file; a file that
  // cannot be opened is a config error naming it, so a typo stops the flow at once.
  explicit FileSource(const CreateArgs& args);

  sluice_status process(Context& ctx, const Batch& batch) { return lines_->process(ctx, batch); }
  void ack(const Batch& batch) { lines_->ack(batch); }
  void finish(Context& ctx) { lines_->finish(ctx); }

 private:
  UniqueFd fd_;
  std::unique_ptr<LineSource> lines_;  // reads fd_
};

}  // namespace sluice::builtin
