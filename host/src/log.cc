#include "sluice/host/log.h"

#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <string>

namespace sluice::host {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warning";
    case LogLevel::kError: return "error";
    case LogLevel::kOff: break;
  }
  return "";
}
}  // namespace

void set_log_level(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }
LogLevel log_level() { return g_level.load(std::memory_order_relaxed); }

bool parse_log_level(std::string_view text, LogLevel* out) {
  if (text == "debug") *out = LogLevel::kDebug;
  else if (text == "info") *out = LogLevel::kInfo;
  else if (text == "warn" || text == "warning") *out = LogLevel::kWarn;
  else if (text == "error") *out = LogLevel::kError;
  else if (text == "off") *out = LogLevel::kOff;
  else return false;
  return true;
}

void log(LogLevel level, std::string_view where, std::string_view message) {
  if (level < log_level() || level == LogLevel::kOff) return;
  std::string line = "sluice: ";
  line += level_name(level);
  line += ": ";
  if (!where.empty()) {
    line += where;
    line += ": ";
  }
  // One message, one line: a newline inside it would make a line without our prefix.
  for (char c : message) {
    if (c == '\n') line += "\\n";
    else if (c != '\r') line += c;
  }
  line += '\n';
  // One write per line: lines up to PIPE_BUF bytes (4096) reach a pipe whole even from
  // several threads; longer ones may interleave. Interrupted writes are retried.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace sluice::host
