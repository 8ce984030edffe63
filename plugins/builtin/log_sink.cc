// `log`: a sink that writes each message to the host's log (stderr) at info level, for
// watching what reaches the end of a flow:
//
//   sluice: info: <stage>: keys=["k1","k2"] value="the value"
//
// The value is quoted as a JSON string (control characters escaped, invalid UTF-8 as
// U+FFFD) and cut after maxBytes bytes, at a character boundary. At most maxPerSecond
// messages are logged per second; the rest are counted, and the count is logged when
// the next second's first batch arrives (or at finish).
#include <chrono>
#include <string>

#include "config.h"
#include "json_text.h"
#include "types.h"

namespace sluice::builtin {
namespace {

using Clock = std::chrono::steady_clock;

class Log {
 public:
  explicit Log(const CreateArgs& args) {
    Config c(args.config_json);
    max_bytes_ = static_cast<size_t>(c.integer("maxBytes", 200, 0));
    max_per_second_ = static_cast<uint64_t>(c.integer("maxPerSecond", 100, 0));
    c.reject_unknown_keys();
  }

  void process(Context& ctx, const Batch& batch) {
    const Clock::time_point now = Clock::now();
    if (now - window_start_ >= std::chrono::seconds(1)) {
      report_suppressed(ctx);
      window_start_ = now;
      logged_in_window_ = 0;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (max_per_second_ > 0 && logged_in_window_ >= max_per_second_) {
        suppressed_ += batch.size() - i;
        break;
      }
      ++logged_in_window_;
      ctx.log(SLUICE_LOG_INFO, render(batch[i]));
    }
  }

  void finish(Context& ctx) { report_suppressed(ctx); }

 private:
  const std::string& render(const Message& m) {
    line_.clear();
    if (m.key_count() > 0) {
      line_ += "keys=[";
      for (size_t k = 0; k < m.key_count(); ++k) {
        if (k) line_ += ',';
        append_json_string(line_, m.key(k));
      }
      line_ += "] ";
    }
    line_ += "value=";
    std::string_view value = m.value();
    if (max_bytes_ == 0 || value.size() <= max_bytes_) {
      append_json_string(line_, value);
      return line_;
    }
    // Cut before a UTF-8 continuation byte rather than in the middle of a character.
    size_t cut = max_bytes_;
    while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
    append_json_string(line_, value.substr(0, cut));
    line_ += "... (";
    append_integer(line_, static_cast<int64_t>(value.size()));
    line_ += " bytes)";
    return line_;
  }

  void report_suppressed(Context& ctx) {
    if (suppressed_ == 0) return;
    ctx.log(SLUICE_LOG_INFO, "not logged: " + std::to_string(suppressed_) +
                                 " messages over the limit of " +
                                 std::to_string(max_per_second_) + " per second");
    suppressed_ = 0;
  }

  size_t max_bytes_ = 200;          // 0: no limit
  uint64_t max_per_second_ = 100;   // 0: no limit
  Clock::time_point window_start_{};
  uint64_t logged_in_window_ = 0;
  uint64_t suppressed_ = 0;         // not logged since the last report
  std::string line_;                // reused for every message
};

constexpr const char* kSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "maxBytes":     {"type": "integer", "minimum": 0},
    "maxPerSecond": {"type": "integer", "minimum": 0}
  }
})";

}  // namespace

void add_log(Library& lib) {
  lib.add<Log>({"log", SLUICE_KIND_SINK, "0.1.0",
                "logs each message (keys, value cut at maxBytes) at info level, rate limited",
                kSchema});
}

}  // namespace sluice::builtin
