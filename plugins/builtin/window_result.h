// The result line every built-in reducer emits when a window closes: one JSON object
// with the window's keys and bounds, then the reducer's own fields.
//
//   {"keys":["apple"],"start":"2026-11-21T06:00:00.000Z","end":"2026-11-21T06:00:10.000Z","count":3}
//
// Bounds are RFC 3339 in UTC with milliseconds; `start` is inclusive, `end` exclusive.
#pragma once

#include <cstdio>
#include <ctime>
#include <string>

#include "json_text.h"
#include "types.h"

namespace sluice::builtin {

inline void append_rfc3339(std::string& out, int64_t ms) {
  const int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms - secs * 1000));
  out += buf;
}

// Starts the result object in `out` (cleared): keys, start, end, and a trailing comma
// before the reducer's fields. The caller appends `"name":value}`.
inline void begin_window_result(std::string& out, const Batch& b) {
  out.assign("{\"keys\":[");
  for (size_t k = 0; k < b.window_key_count(); ++k) {
    if (k) out += ',';
    append_json_string(out, b.window_key(k));
  }
  out += "],\"start\":";
  append_rfc3339(out, b.window_start());
  out += ",\"end\":";
  append_rfc3339(out, b.window_end());
  out += ',';
}

}  // namespace sluice::builtin
