#include "line_source.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <nlohmann/json.hpp>

#include "event_time.h"
#include "json_text.h"

namespace sluice::builtin {

namespace {
// How many lines that are not JSON get a warning of their own; the rest are counted.
constexpr uint64_t kBadLineWarnings = 10;

// How long process() may wait for a pipe or terminal to deliver data, at most: the
// batch's budget, capped so a quiet stdin does not hold the worker for long.
int wait_ms(const Batch& batch) {
  return static_cast<int>(std::clamp<int64_t>(batch.budget_us() / 1000, 0, 1000));
}

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

// Checks that a line is JSON and picks out the key field and the event-time field, in
// one pass and without building a document (a SAX parser: only those fields' values are
// kept).
class LineSource::JsonLineParser : public nlohmann::json_sax<nlohmann::json> {
 public:
  // What the event-time field held (the last one, when the field is given twice).
  enum class Time { kMissing, kInteger, kUnsigned, kFloat, kString, kOther };

  JsonLineParser(std::string key_field, std::string time_field)
      : key_field_(std::move(key_field)), time_field_(std::move(time_field)) {}

  // True when `text` is one JSON value; then has_key() and key() tell the key field,
  // time() and its value the event-time field.
  bool parse(std::string_view text) {
    depth_ = 0;
    at_key_ = at_time_ = false;
    has_key_ = false;
    time_ = Time::kMissing;
    return nlohmann::json::sax_parse(text.data(), text.data() + text.size(), this);
  }
  bool has_key() const { return has_key_; }
  const std::string& key() const { return key_; }
  const std::string& error() const { return error_; }
  Time time() const { return time_; }
  int64_t time_integer() const { return time_integer_; }
  uint64_t time_unsigned() const { return time_unsigned_; }
  double time_float() const { return time_float_; }
  const std::string& time_text() const { return time_text_; }  // kString, kFloat, kOther

  bool null() override { return other("null"); }
  bool boolean(bool b) override { return other(b ? "true" : "false"); }
  bool number_integer(number_integer_t v) override {
    if (at_time_) time_ = Time::kInteger, time_integer_ = v;
    return integer(v);
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (at_time_) time_ = Time::kUnsigned, time_unsigned_ = v;
    return integer(v);
  }
  bool number_float(number_float_t v, const string_t& text) override {
    if (at_time_) time_ = Time::kFloat, time_float_ = v, time_text_.assign(text);
    return scalar();
  }
  bool string(string_t& s) override {
    if (at_key_) {
      key_.assign(s);
      has_key_ = true;
    }
    if (at_time_) time_ = Time::kString, time_text_.assign(s);
    return scalar();
  }
  bool binary(binary_t&) override { return other("binary"); }
  bool start_object(std::size_t) override { return open("an object"); }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open("an array"); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    // Only a key of the outermost object names a field; a later duplicate wins.
    at_key_ = depth_ == 1 && !key_field_.empty() && k == key_field_;
    at_time_ = depth_ == 1 && !time_field_.empty() && k == time_field_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    // One line is one input: its "line 1" would contradict the line number we report.
    error_ = json_error_text(e);
    const std::string_view kLineOne = "parse error at line 1, ";
    if (error_.compare(0, kLineOne.size(), kLineOne) == 0) error_.erase(0, kLineOne.size());
    return false;
  }

 private:
  bool scalar() {
    at_key_ = at_time_ = false;
    return true;
  }
  bool other(const char* what) {
    if (at_time_) time_ = Time::kOther, time_text_.assign(what);
    return scalar();
  }
  template <class N>
  bool integer(N v) {
    if (at_key_) {
      char digits[24];
      const char* end = std::to_chars(digits, digits + sizeof digits, v).ptr;
      key_.assign(digits, static_cast<size_t>(end - digits));
      has_key_ = true;
    }
    return scalar();
  }
  bool open(const char* what) {
    // An object or array under a field: no key, no event time.
    if (at_time_) time_ = Time::kOther, time_text_.assign(what);
    at_key_ = at_time_ = false;
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }

  std::string key_field_, time_field_;
  int depth_ = 0;
  bool at_key_ = false;   // the next value is the key field's
  bool at_time_ = false;  // ... the event-time field's
  bool has_key_ = false;
  Time time_ = Time::kMissing;
  int64_t time_integer_ = 0;
  uint64_t time_unsigned_ = 0;
  double time_float_ = 0;
  std::string key_, error_, time_text_;  // reused: their capacity is kept across lines
};

LineFormat read_line_format(Config& c) {
  LineFormat f;
  f.json = c.choice("format", "lines", {"lines", "json"}) == "json";
  if (c.has("key") && !f.json)
    throw c.error("key", "only used with format: json (it names a top-level field)");
  f.key_field = c.string("key", "");
  if (f.json && c.has("key") && f.key_field.empty())
    throw c.error("key", "must not be empty (the top-level field that gives the key)");
  if (c.has("eventTime") && !f.json)
    throw c.error("eventTime", "only used with format: json (it names a top-level field)");
  f.event_time_field = c.string("eventTime", "");
  if (f.json && c.has("eventTime") && f.event_time_field.empty())
    throw c.error("eventTime", "must not be empty (the top-level field that gives the event time)");
  if (c.has("eventTimeUnit") && !c.has("eventTime"))
    throw c.error("eventTimeUnit", "only used with eventTime (the unit of its numbers)");
  f.event_time_unit_ms = c.choice("eventTimeUnit", "ms", {"ms", "s"}) == "s" ? 1000 : 1;
  return f;
}

LineSource::LineSource(int fd, std::string name, LineFormat format, bool follow)
    : reader_(fd, name), name_(std::move(name)), format_(std::move(format)), follow_(follow) {
  if (format_.json)
    json_ = std::make_unique<JsonLineParser>(format_.key_field, format_.event_time_field);
}

LineSource::~LineSource() = default;

sluice_status LineSource::process(Context& ctx, const Batch& batch) {
  if (ended_) return SLUICE_END;
  const size_t max = batch.max_messages();
  size_t emitted = 0;
  LineReader::Line line;
  while (emitted < max) {
    LineReader::Result r;
    try {
      // Wait for a pipe only while there is nothing to return yet.
      r = reader_.next(&line, emitted == 0 ? wait_ms(batch) : 0);
    } catch (const std::exception&) {
      // A failing call discards its outputs, and those lines are consumed: deliver
      // them now; the next call meets the error again, with nothing to lose.
      if (emitted > 0) break;
      throw;
    }
    if (r == LineReader::Result::kLine) {
      emitted += emit_line(ctx, line) ? 1 : 0;
      continue;
    }
    if (r == LineReader::Result::kNoData || follow_) break;
    // The end of the input: a last line without '\n' is a line too.
    if (reader_.take_rest(&line)) emit_line(ctx, line);
    ended_ = true;
    return SLUICE_END;
  }
  return emitted > 0 ? SLUICE_OK : SLUICE_IDLE;
}

bool LineSource::emit_line(Context& ctx, const LineReader::Line& line) {
  std::string_view text = line.text;
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);

  sluice_output out{};
  out.struct_size = sizeof(out);
  out.value = {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
  out.event_time = SLUICE_TIME_UNSET;  // the host stamps the read time
  char id[24];
  out.id = {id, static_cast<size_t>(std::to_chars(id, id + sizeof id, line.offset).ptr - id)};

  sluice_str key;
  if (json_) {
    if (is_blank(text)) return false;
    if (!json_->parse(text)) {
      report_bad_line(ctx, line, json_->error());
      return false;
    }
    if (!format_.event_time_field.empty()) {
      std::string why;
      out.event_time = event_time(&why);
      if (!why.empty()) {
        report_bad_time(ctx, line, why);
        return false;
      }
    }
    if (json_->has_key()) {
      key = detail::str(json_->key());
      out.keys = &key;
      out.key_count = 1;
    }
  }
  ctx.emit_raw(SLUICE_NO_INPUT, out);
  ++emitted_;
  return true;
}

int64_t LineSource::event_time(std::string* why) const {
  using Time = JsonLineParser::Time;
  const int64_t unit = format_.event_time_unit_ms;
  std::optional<int64_t> ms;
  switch (json_->time()) {
    case Time::kInteger: ms = integer_to_ms(json_->time_integer(), unit); break;
    case Time::kUnsigned:
      if (json_->time_unsigned() <= static_cast<uint64_t>(INT64_MAX))
        ms = integer_to_ms(static_cast<int64_t>(json_->time_unsigned()), unit);
      break;
    case Time::kFloat: ms = number_to_ms(json_->time_float(), unit); break;
    case Time::kString: ms = parse_rfc3339_ms(json_->time_text()); break;
    case Time::kMissing:
    case Time::kOther: break;
  }
  // 0 means "no event time" to the host, and times before 1970 are not what a clock
  // gives: the first representable time is 1 ms after the epoch.
  if (ms && *ms > 0) return *ms;

  // The reason, built only for a line that is skipped.
  const char* unit_name = unit == 1 ? " ms" : " s";
  *why = "field \"" + format_.event_time_field + "\" is ";
  std::string shown;  // the value
  switch (json_->time()) {
    case Time::kMissing: *why += "missing"; return 0;
    case Time::kOther:
      *why += json_->time_text() + ": expected an RFC 3339 time string or a number of" + unit_name;
      return 0;
    case Time::kString: {
      std::string text = json_->time_text();
      if (text.size() > 64) text = text.substr(0, 64) + "...";
      if (!ms) {
        *why += "\"" + text + "\": not an RFC 3339 time (such as \"2026-11-21T06:00:00Z\") or a number";
        return 0;
      }
      shown = "\"" + text + "\"";
      break;
    }
    case Time::kInteger: shown = std::to_string(json_->time_integer()) + unit_name; break;
    case Time::kUnsigned: shown = std::to_string(json_->time_unsigned()) + unit_name; break;
    case Time::kFloat: shown = json_->time_text() + unit_name; break;
  }
  *why += shown + ": out of range" + (ms ? " (event times start after 1970-01-01T00:00:00Z)" : "");
  return 0;
}

void LineSource::report_bad_time(Context& ctx, const LineReader::Line& line,
                                 const std::string& why) {
  ++bad_times_;
  if (bad_times_ <= kBadLineWarnings)
    ctx.log(SLUICE_LOG_WARN, name_ + ":" + std::to_string(line.number) +
                                 ": no event time, skipped: " + why);
  if (bad_times_ == kBadLineWarnings) {
    ctx.log(SLUICE_LOG_WARN, name_ + ": further lines without a valid event time are skipped "
                                     "without a warning (finish reports their number)");
  }
}

void LineSource::report_bad_line(Context& ctx, const LineReader::Line& line,
                                 const std::string& why) {
  ++bad_lines_;
  if (bad_lines_ <= kBadLineWarnings) {
    ctx.log(SLUICE_LOG_WARN, name_ + ":" + std::to_string(line.number) +
                                 ": not JSON, skipped: " + why);
  }
  if (bad_lines_ == kBadLineWarnings) {
    ctx.log(SLUICE_LOG_WARN, name_ + ": further lines that are not JSON are skipped "
                                     "without a warning (finish reports their number)");
  }
}

void LineSource::finish(Context& ctx) {
  if (bad_lines_ > 0)
    ctx.log(SLUICE_LOG_WARN, name_ + ": skipped " + std::to_string(bad_lines_) +
                                 (bad_lines_ == 1 ? " line that is" : " lines that are") +
                                 " not JSON");
  if (bad_times_ > 0)
    ctx.log(SLUICE_LOG_WARN, name_ + ": skipped " + std::to_string(bad_times_) +
                                 (bad_times_ == 1 ? " line" : " lines") +
                                 " without a valid event time (field \"" +
                                 format_.event_time_field + "\")");
  ctx.log(SLUICE_LOG_DEBUG, name_ + ": emitted " + std::to_string(emitted_) + " messages, " +
                                std::to_string(acked_) + " acknowledged");
}

}  // namespace sluice::builtin
