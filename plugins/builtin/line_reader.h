// Splits what a file descriptor delivers into lines, through one large buffer: a line is
// handed out as a view into the buffer, so reading allocates nothing per line.
//
// Lines end with '\n' (not part of the line). Bytes after the last '\n' are an
// unterminated line: they stay buffered, because more may follow (a file being
// appended to, a pipe), until the caller decides the input is over (take_rest()).
// A line longer than the buffer grows it, up to kMaxLine.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice::builtin {

class LineReader {
 public:
  static constexpr size_t kDefaultBuffer = size_t{1} << 20;  // 1 MiB
  static constexpr size_t kMaxLine = size_t{64} << 20;       // 64 MiB

  struct Line {
    std::string_view text;  // valid until the next call on the reader
    uint64_t offset;        // byte offset of the line's start in the input
    uint64_t number;        // 1-based line number
  };

  enum class Result {
    kLine,    // *line is the next line
    kNoData,  // nothing more to read right now (a pipe with no data within wait_ms)
    kEof,     // the input is at its end for now (a regular file may still grow)
  };

  // `name` is only for error messages. Does not own `fd`.
  LineReader(int fd, std::string name, size_t buffer_size = kDefaultBuffer)
      : fd_(fd), name_(std::move(name)), buf_(new char[buffer_size]), cap_(buffer_size) {}

  // The next complete line, reading more when none is buffered. For a pipe or terminal
  // waits up to wait_ms for data first (a regular file is always ready). Throws
  // std::runtime_error on a read error and when a line exceeds kMaxLine.
  Result next(Line* line, int wait_ms) {
    for (;;) {
      if (const char* nl = find_newline()) {
        *line = take(static_cast<size_t>(nl - (buf_.get() + begin_)), 1);
        return Result::kLine;
      }
      Result r = fill(wait_ms);
      if (r != Result::kLine) return r;
    }
  }

  // The unterminated last line, when the input is over: false if there is none.
  bool take_rest(Line* line) {
    if (begin_ == end_) return false;
    *line = take(end_ - begin_, 0);
    return true;
  }

  // Bytes consumed so far (the offset of the next line).
  uint64_t position() const { return base_ + begin_; }

 private:
  // The first '\n' in the buffered bytes, or null. Remembers how far it looked, so
  // a long unterminated line is not searched again each time more of it arrives.
  const char* find_newline() {
    size_t from = std::max(begin_, scanned_);
    const void* nl = std::memchr(buf_.get() + from, '\n', end_ - from);
    if (nl == nullptr) scanned_ = end_;
    return static_cast<const char*>(nl);
  }

  // Hands out the next `length` bytes as a line and skips `terminator` more.
  Line take(size_t length, size_t terminator) {
    Line l{{buf_.get() + begin_, length}, base_ + begin_, ++line_number_};
    begin_ += length + terminator;
    return l;
  }

  // Reads more input behind the buffered bytes. kLine here means "read something".
  Result fill(int wait_ms) {
    make_room();
    pollfd p{fd_, POLLIN, 0};
    int ready;
    while ((ready = ::poll(&p, 1, wait_ms)) < 0 && errno == EINTR) {
    }
    if (ready == 0) return Result::kNoData;
    for (;;) {
      ssize_t n = ::read(fd_, buf_.get() + end_, cap_ - end_);
      if (n > 0) {
        end_ += static_cast<size_t>(n);
        return Result::kLine;
      }
      if (n == 0) return Result::kEof;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Result::kNoData;
      throw std::runtime_error("reading " + name_ + " failed: " + std::strerror(errno));
    }
  }

  // Moves the unconsumed bytes to the front; grows the buffer when they fill it.
  void make_room() {
    if (begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      base_ += begin_;
      end_ -= begin_;
      scanned_ = scanned_ > begin_ ? scanned_ - begin_ : 0;
      begin_ = 0;
    }
    if (end_ < cap_) return;
    if (cap_ >= kMaxLine)
      throw std::runtime_error(name_ + ": line " + std::to_string(line_number_ + 1) +
                               " (at byte " + std::to_string(base_) + ") is longer than " +
                               std::to_string(kMaxLine >> 20) + " MiB");
    std::unique_ptr<char[]> bigger(new char[cap_ * 2]);
    std::memcpy(bigger.get(), buf_.get(), end_);
    buf_ = std::move(bigger);
    cap_ *= 2;
  }

  int fd_;
  std::string name_;
  std::unique_ptr<char[]> buf_;
  size_t cap_;
  size_t begin_ = 0;    // first unconsumed byte
  size_t end_ = 0;      // one past the last buffered byte
  size_t scanned_ = 0;  // [begin_, scanned_) holds no '\n'
  uint64_t base_ = 0;   // input offset of buf_[0]
  uint64_t line_number_ = 0;
};

}  // namespace sluice::builtin
