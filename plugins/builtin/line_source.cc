#include "line_source.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

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

// Checks that a line is JSON and picks out the key field, in one pass and without
// building a document (a SAX parser: only the key's text is kept).
class LineSource::JsonLineParser : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit JsonLineParser(std::string key_field) : field_(std::move(key_field)) {}

  // True when `text` is one JSON value; then has_key() and key() tell the key field.
  bool parse(std::string_view text) {
    depth_ = 0;
    at_field_ = false;
    has_key_ = false;
    return nlohmann::json::sax_parse(text.data(), text.data() + text.size(), this);
  }
  bool has_key() const { return has_key_; }
  const std::string& key() const { return key_; }
  const std::string& error() const { return error_; }

  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t v) override { return integer(v); }
  bool number_unsigned(number_unsigned_t v) override { return integer(v); }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool string(string_t& s) override {
    if (at_field_) {
      key_.assign(s);
      has_key_ = true;
    }
    return scalar();
  }
  bool binary(binary_t&) override { return scalar(); }
  bool start_object(std::size_t) override { return open(); }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    // Only a key of the outermost object names the field; a later duplicate wins.
    at_field_ = depth_ == 1 && !field_.empty() && k == field_;
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
    at_field_ = false;
    return true;
  }
  template <class N>
  bool integer(N v) {
    if (at_field_) {
      char digits[24];
      const char* end = std::to_chars(digits, digits + sizeof digits, v).ptr;
      key_.assign(digits, static_cast<size_t>(end - digits));
      has_key_ = true;
    }
    return scalar();
  }
  bool open() {
    at_field_ = false;  // an object or array under the key field: no key
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }

  std::string field_;
  int depth_ = 0;
  bool at_field_ = false;  // the next value is the key field's
  bool has_key_ = false;
  std::string key_, error_;  // reused: their capacity is kept across lines
};

LineFormat read_line_format(Config& c) {
  LineFormat f;
  f.json = c.choice("format", "lines", {"lines", "json"}) == "json";
  if (c.has("key") && !f.json)
    throw c.error("key", "only used with format: json (it names a top-level field)");
  f.key_field = c.string("key", "");
  if (f.json && c.has("key") && f.key_field.empty())
    throw c.error("key", "must not be empty (the top-level field that gives the key)");
  return f;
}

LineSource::LineSource(int fd, std::string name, LineFormat format, bool follow)
    : reader_(fd, name), name_(std::move(name)), format_(std::move(format)), follow_(follow) {
  if (format_.json) json_ = std::make_unique<JsonLineParser>(format_.key_field);
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
  ctx.log(SLUICE_LOG_DEBUG, name_ + ": emitted " + std::to_string(emitted_) + " messages, " +
                                std::to_string(acked_) + " acknowledged");
}

}  // namespace sluice::builtin
