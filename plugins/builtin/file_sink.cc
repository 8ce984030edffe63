#include "file_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace sluice::builtin {

namespace {
// The buffer is written out when it grows past this, and at the end of each batch.
constexpr size_t kFlushBytes = 256 << 10;

std::string errno_text() { return std::strerror(errno); }
}  // namespace

FileSink::FileSink(const CreateArgs& args) {
  Config c(args.config_json);
  const std::filesystem::path path =
      resolve_config_path(args, c.required_string("path", "the file to write"));
  path_ = path.string();
  const bool append = c.boolean("append", false);
  format_ = read_message_format(c);
  c.reject_unknown_keys();
  require_one_worker(args, "every worker would write the same file over the others");

  // The sink creates the file, never folders: a missing one is more likely a typo.
  const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw c.error("path", "the folder \"" + dir.string() + "\" does not exist (the sink "
                          "creates the file, not its folder)");
  fd_ = UniqueFd(::open(path_.c_str(),
                        O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644));
  if (!fd_) throw c.error("path", "cannot open \"" + path_ + "\" for writing: " + errno_text());
  const off_t end = ::lseek(fd_.get(), 0, SEEK_END);
  size_ = end > 0 ? end : 0;  // lseek fails on a pipe or a terminal: nothing to roll back
  buf_.reserve(kFlushBytes + 4096);
}

FileSink::~FileSink() {
  if (fd_ && !synced_) ::fsync(fd_.get());  // nowhere to report a failure from here
}

void FileSink::process(Context&, const Batch& batch) {
  buf_.clear();
  off_t written = 0;
  try {
    for (size_t i = 0; i < batch.size(); ++i) {
      append_message(buf_, batch[i], format_);
      if (buf_.size() >= kFlushBytes) flush(&written);
    }
    flush(&written);
  } catch (const std::exception& e) {
    buf_.clear();
    if (written > 0) roll_back(size_, e.what());
    throw;
  }
  size_ += written;
  synced_ = false;
}

void FileSink::flush(off_t* written) {
  const char* p = buf_.data();
  size_t left = buf_.size();
  while (left > 0) {
    ssize_t n = ::write(fd_.get(), p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("writing \"" + path_ + "\" failed: " + errno_text());
    p += n;
    left -= static_cast<size_t>(n);
    *written += n;
  }
  buf_.clear();
}

void FileSink::roll_back(off_t size, const std::string& why) {
  // Without O_APPEND the file offset stays past the cut: move it back too, or the
  // next write would leave a hole of zero bytes.
  if (::ftruncate(fd_.get(), size) != 0 || ::lseek(fd_.get(), size, SEEK_SET) < 0) {
    throw FatalError(why + "; removing the partly written batch failed too (" + errno_text() +
                     "): \"" + path_ + "\" may end with part of a batch");
  }
}

void FileSink::finish(Context&) {
  if (::fsync(fd_.get()) != 0 && errno != EINVAL && errno != EROFS)
    throw std::runtime_error("syncing \"" + path_ + "\" failed: " + errno_text());
  synced_ = true;
}

}  // namespace sluice::builtin
