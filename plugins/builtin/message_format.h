// How the `stdout` and `file` sinks render a message: one line per message, either the
// value as it is or a JSON object describing the whole message.
#pragma once

#include <string>
#include <string_view>

#include "config.h"
#include "json_text.h"

namespace sluice::builtin {

enum class MessageFormat {
  kValue,  // the value's bytes, then "\n"
  kJson,   // {"id", "keys", "value", "event_time", "headers", "tags"}, then "\n"
};

// The sinks' `format` key.
inline MessageFormat read_message_format(Config& c) {
  return c.choice("format", "value", {"value", "json"}) == "json" ? MessageFormat::kJson
                                                                   : MessageFormat::kValue;
}

// Appends one message's line to `out`. Reuses `out`'s capacity: nothing is allocated
// once the buffer has grown to a batch's size.
inline void append_message(std::string& out, const Message& m, MessageFormat format) {
  if (format == MessageFormat::kValue) {
    out += m.value();
    out += '\n';
    return;
  }
  // Every key is always present, so consumers need no existence checks.
  out += "{\"id\":";
  append_json_string(out, m.id());
  out += ",\"keys\":[";
  for (size_t i = 0; i < m.key_count(); ++i) {
    if (i) out += ',';
    append_json_string(out, m.key(i));
  }
  out += "],\"value\":";
  append_json_string(out, m.value());
  out += ",\"event_time\":";
  if (m.event_time() == SLUICE_TIME_UNSET) out += "null";
  else append_integer(out, m.event_time());
  out += ",\"headers\":{";
  bool first = true;
  for (size_t i = 0; i < m.header_count(); ++i) {
    // A repeated header name keeps its last value, as header inheritance does: skip
    // this one if a later header has the same name (headers are few; O(n^2) is fine).
    std::string_view key = detail::view(m.header_at(i).key);
    bool replaced = false;
    for (size_t j = i + 1; j < m.header_count() && !replaced; ++j)
      replaced = detail::view(m.header_at(j).key) == key;
    if (replaced) continue;
    if (!first) out += ',';
    first = false;
    append_json_string(out, key);
    out += ':';
    append_json_string(out, detail::view(m.header_at(i).value));
  }
  out += "},\"tags\":[";
  for (size_t i = 0; i < m.tag_count(); ++i) {
    if (i) out += ',';
    append_json_string(out, m.tag(i));
  }
  out += "]}\n";
}

}  // namespace sluice::builtin
