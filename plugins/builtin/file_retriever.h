// The `file` type as a side-input retriever: the whole file is the value. Answers "no
// change" (emits nothing) while the file's identity, size and modification time are
// those of the last read, so a schedule that fires every second costs one stat().
// Config: path (relative to the flow file's folder); nothing else.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <string>

#include "types.h"

namespace sluice::builtin {

class FileRetriever {
 public:
  explicit FileRetriever(const CreateArgs& args);
  sluice_status process(Context& ctx);

 private:
  std::string path_;
  bool read_once_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  off_t size_ = 0;
  timespec mtime_{};
};

}  // namespace sluice::builtin
