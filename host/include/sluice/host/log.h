// Host logging: one line per call to stderr, never stdout (stdout carries data).
//
// Thread-safe: each line is written with a single write(2), so lines up to PIPE_BUF
// bytes from different threads never interleave. Newlines inside a message are written
// as "\n", so every line starts with "sluice: ".
#pragma once

#include <sluice/plugin.h>

#include <string_view>

namespace sluice::host {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// Lines below this level are discarded. Default: kInfo.
void set_log_level(LogLevel level);
LogLevel log_level();
// Parses "debug" / "info" / "warn" / "error" / "off"; false when unknown.
bool parse_log_level(std::string_view text, LogLevel* out);

// Writes "sluice: <level>: [<where>: ]<message>\n" to stderr.
void log(LogLevel level, std::string_view where, std::string_view message);

inline LogLevel from_abi(sluice_log_level l) {
  return l <= SLUICE_LOG_ERROR ? static_cast<LogLevel>(l) : LogLevel::kError;
}

}  // namespace sluice::host
