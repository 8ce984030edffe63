// The sink side of the `file` type (see file.cc): writes each message as a line (its
// value, or a JSON object), batch by batch, so that a batch is in the file whole or
// not at all.
#pragma once

#include <sys/types.h>

#include <string>

#include "config.h"
#include "message_format.h"
#include "unique_fd.h"

namespace sluice::builtin {

class FileSink {
 public:
  // Reads the config (path, append, format) and opens (creates, truncates) the file.
  explicit FileSink(const CreateArgs& args);
  // Syncs the file when finish did not (a stage torn down without draining).
  ~FileSink();

  // Writes the batch. On an I/O error removes whatever part of the batch reached the
  // file and throws: the host's error policy may retry the batch without duplicating.
  void process(Context& ctx, const Batch& batch);
  // Syncs the file to disk.
  void finish(Context& ctx);

 private:
  // Writes buf_ at the end of the file; `written` counts the batch's bytes written.
  void flush(off_t* written);
  // Cuts the file back to `size` after a failed batch.
  void roll_back(off_t size, const std::string& why);

  std::string path_;
  MessageFormat format_ = MessageFormat::kValue;
  UniqueFd fd_;
  off_t size_ = 0;    // the file's size after the last complete batch
  std::string buf_;   // the batch being rendered; its capacity is reused
  bool synced_ = false;
};

}  // namespace sluice::builtin
