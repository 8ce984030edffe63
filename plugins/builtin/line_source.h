// What the `file` and `stdin` sources share: turning the lines of an input into
// messages, in `lines` or `json` (JSON lines) format.
//
//   lines: every line is a message, empty lines included (as empty values); a trailing
//          '\r' is removed, so files with CRLF line ends read like LF ones.
//   json:  every line must be one JSON value; the message value is the line's text
//          unchanged. Blank lines are skipped silently. A line that is not JSON is
//          skipped with a warning naming <input>:<line number> (the first 10 of them;
//          finish logs how many there were in all): a source cannot fail a single
//          message, and stopping the flow for one bad line is rarely what one wants.
//          With `key`, the top-level field of that name gives the message key: a string
//          as it is, an integer as its decimal text; other values, a missing field or a
//          value that is not an object leave the message without a key.
//          With `eventTime`, the top-level field of that name gives the event time: a
//          number (ms since the epoch, or seconds with `eventTimeUnit: s`; a fraction of
//          a ms is dropped) or an RFC 3339 string. A line whose field is missing or
//          invalid is skipped with a warning naming <input>:<line number> and the
//          field, as a line that is not JSON (its own 10 warnings, its own count).
//
// Each message's id is the byte offset of its line in the input, in decimal; without
// `eventTime` the event time is left for the host to stamp with the read time.
#pragma once

#include <memory>
#include <string>

#include "config.h"
#include "line_reader.h"

namespace sluice::builtin {

struct LineFormat {
  bool json = false;
  std::string key_field;  // json only; empty: no key
  std::string event_time_field;  // json only; empty: the host stamps the read time
  int64_t event_time_unit_ms = 1;  // what a number in that field counts: 1 ms or 1000 (s)
};

// Reads the `format`, `key`, `eventTime` and `eventTimeUnit` keys.
LineFormat read_line_format(Config& c);

class LineSource {
 public:
  // Does not own `fd`. `name` names the input in logs ("stdin", a path). With `follow`,
  // the end of the input is not the end of the stream: more lines may be appended, and
  // an unterminated last line is kept until its '\n' arrives.
  LineSource(int fd, std::string name, LineFormat format, bool follow);
  ~LineSource();

  // Emits up to batch.max_messages() messages: SLUICE_OK when it emitted some,
  // SLUICE_IDLE when nothing is available now, SLUICE_END at the end of the input
  // (never when following).
  sluice_status process(Context& ctx, const Batch& batch);
  void ack(const Batch& batch) { acked_ += batch.size(); }
  // Logs what was skipped (warning) and a summary (debug).
  void finish(Context& ctx);

 private:
  class JsonLineParser;

  // Emits one line as a message; false if the format skips it.
  bool emit_line(Context& ctx, const LineReader::Line& line);
  void report_bad_line(Context& ctx, const LineReader::Line& line, const std::string& why);
  // The event time of the line just parsed, in ms; sets *why when it has none.
  int64_t event_time(std::string* why) const;
  void report_bad_time(Context& ctx, const LineReader::Line& line, const std::string& why);

  LineReader reader_;
  std::string name_;
  LineFormat format_;
  bool follow_;
  bool ended_ = false;
  std::unique_ptr<JsonLineParser> json_;  // json format only
  uint64_t emitted_ = 0, acked_ = 0, bad_lines_ = 0;
  uint64_t bad_times_ = 0;  // JSON lines skipped for a missing or invalid event time
};

}  // namespace sluice::builtin
