// `generator`: a source of synthetic messages, for demos, tests and benchmarks.
//
// config:
//   count:    messages to produce, then END (absent: unbounded)
//   size:     value size in bytes when no template is given (default 100); the value is
//             the zero-padded sequence number followed by 'x' filler
//   template: value text with "{seq}" replaced by the sequence number (overrides size)
//   keys:     key cardinality: message n gets the key "key-<n % keys>" (default 0: none)
//   rate:     messages per second, at most (default 0: as fast as possible)
//   start:    the first sequence number (default 0)
//   eventTimeStart, eventTimeStep: message n's event time is eventTimeStart +
//             n * eventTimeStep ms (n counted from 0); absent: the read time. For
//             reproducible windows in tests, examples and benchmarks. The step may be
//             fractional (0.001: a thousand messages per ms), rounded down per message:
//             how a benchmark puts millions of messages into one 1-second window.
#include <charconv>
#include <chrono>
#include <cstring>
#include <string>

#include "config.h"
#include "types.h"

namespace sluice::builtin {
namespace {

using Clock = std::chrono::steady_clock;

class Generator {
 public:
  explicit Generator(const CreateArgs& args) {
    Config c(args.config_json);
    bounded_ = c.has("count");  // null counts as absent, as everywhere in Config
    count_ = static_cast<uint64_t>(c.integer("count", 0, 0));
    size_ = static_cast<size_t>(c.integer("size", 100, 0, 64 << 20));
    template_ = c.string("template", "");
    has_template_ = c.has("template");
    keys_ = static_cast<uint64_t>(c.integer("keys", 0, 0));
    rate_ = c.number("rate", 0, 0, 1e9);
    seq_ = static_cast<uint64_t>(c.integer("start", 0, 0));
    has_event_time_ = c.has("eventTimeStart");
    event_time_ = c.integer("eventTimeStart", 0, 1);
    event_step_ = c.number("eventTimeStep", 0, 0, static_cast<double>(int64_t{1} << 40));
    integral_step_ = event_step_ == static_cast<double>(static_cast<int64_t>(event_step_));
    event_time_start_ = event_time_;
    if (!has_event_time_ && c.has("eventTimeStep"))
      throw ConfigError("config.eventTimeStep: needs eventTimeStart (the first message's event time, ms)");
    c.reject_unknown_keys();
  }

  sluice_status process(Context& ctx, const Batch& batch) {
    if (bounded_ && produced_ >= count_) return SLUICE_END;
    uint64_t n = batch.max_messages();
    if (bounded_) n = std::min<uint64_t>(n, count_ - produced_);
    if (rate_ > 0) {
      auto now = Clock::now();
      if (produced_ == 0) started_ = now;
      double elapsed = std::chrono::duration<double>(now - started_).count();
      double allowed = rate_ * elapsed + 1 - static_cast<double>(produced_);
      if (allowed < 1) return SLUICE_IDLE;
      n = std::min<uint64_t>(n, static_cast<uint64_t>(allowed));
    }
    for (uint64_t i = 0; i < n; ++i) emit_one(ctx);
    return bounded_ && produced_ >= count_ ? SLUICE_END : SLUICE_OK;
  }

 private:
  void emit_one(Context& ctx) {
    const uint64_t seq = seq_++;
    ++produced_;
    char digits[24];
    const size_t nd = static_cast<size_t>(std::to_chars(digits, digits + sizeof digits, seq).ptr - digits);
    if (has_template_) {
      value_ = template_;
      for (size_t pos = 0; (pos = value_.find("{seq}", pos)) != std::string::npos; pos += nd)
        value_.replace(pos, 5, digits, nd);
    } else {
      // The sequence number zero-padded to 20 digits (so values sort in sequence
      // order), then the 'x' filler laid down once at construction. Below 20 bytes the
      // low-order digits are kept, so small values still differ.
      if (value_.size() != size_) value_.assign(size_, 'x');
      char padded[20];
      std::memset(padded, '0', sizeof padded);
      std::memcpy(padded + sizeof padded - nd, digits, nd);
      const size_t n = std::min(size_, sizeof padded);
      std::memcpy(value_.data(), padded + sizeof padded - n, n);
    }
    sluice_output out{};
    out.struct_size = sizeof(out);
    out.value = {reinterpret_cast<const uint8_t*>(value_.data()), value_.size()};
    out.event_time = SLUICE_TIME_UNSET;  // the host stamps the read time
    if (has_event_time_) {
      out.event_time = event_time_;
      if (integral_step_) {
        event_time_ += static_cast<int64_t>(event_step_);
      } else {
        // From the start each time, so rounding does not accumulate.
        event_time_ = event_time_start_ +
                      static_cast<int64_t>(static_cast<double>(produced_) * event_step_);
      }
    }
    sluice_str key;
    if (keys_ > 0) {
      char* end = std::to_chars(key_ + 4, key_ + sizeof key_, seq % keys_).ptr;
      key = {key_, static_cast<size_t>(end - key_)};
      out.keys = &key;
      out.key_count = 1;
    }
    ctx.emit_raw(SLUICE_NO_INPUT, out);
  }

  bool bounded_ = false;
  bool has_template_ = false;
  uint64_t count_ = 0;
  size_t size_ = 100;
  std::string template_;
  uint64_t keys_ = 0;
  double rate_ = 0;
  bool has_event_time_ = false;
  int64_t event_time_ = 0, event_time_start_ = 0;
  double event_step_ = 0;
  bool integral_step_ = true;
  uint64_t seq_ = 0, produced_ = 0;
  Clock::time_point started_{};
  std::string value_;        // reused: no allocation per message once warm
  char key_[32] = "key-";
};

constexpr const char* kSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "count":    {"type": "integer", "minimum": 0},
    "size":     {"type": "integer", "minimum": 0, "maximum": 67108864},
    "template": {"type": "string"},
    "keys":     {"type": "integer", "minimum": 0},
    "rate":     {"type": "number", "minimum": 0},
    "start":    {"type": "integer", "minimum": 0},
    "eventTimeStart": {"type": "integer", "minimum": 1},
    "eventTimeStep":  {"type": "number", "minimum": 0}
  }
})";

}  // namespace

void add_generator(Library& lib) {
  lib.add<Generator>({"generator", SLUICE_KIND_SOURCE, "0.1.0",
                      "synthetic messages: count, size, template with {seq}, keys, rate",
                      kSchema});
}

}  // namespace sluice::builtin
