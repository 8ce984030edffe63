// Watermarks: a source's, from the event times it reads, and a stage's, from its inputs'.
// No clock inside: callers pass `now` (ms since epoch, the same clock as event times),
// which keeps both deterministic and testable.
//
// Contract (SourceWatermark):
//   - The watermark starts at kNoWatermark and never goes backwards.
//   - On a message: watermark = max(watermark, max event time seen - max_delay). So a
//     message up to max_delay older than the newest one seen is not late.
//   - Idle progress: when idle_timeout > 0 and no message came for at least idle_timeout
//     (now - time of the last message, or of construction when none came yet,
//     >= idle_timeout), tick(now) sets watermark = max(watermark, now - max_delay).
//     Event times are assumed to track `now`; a source whose event times lag the clock by
//     more than max_delay should not use idle progress, as its next message would be
//     late. idle_timeout <= 0 turns idle progress off.
//   - Messages without an event time (kNoWatermark == SLUICE_TIME_UNSET) count as
//     activity (they reset the idle timer) but do not move the watermark.
//
// Contract (InputWatermarks):
//   - A stage's watermark is the minimum over its inputs' watermarks; an input that has
//     not reported yet holds it at kNoWatermark. Each input's watermark and the stage's
//     never go backwards (a smaller report for an input is ignored).
//
// Thread-safety: none; one tracker per source reader / stage worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sluice/host/window_assigner.h"  // kNoWatermark

namespace sluice::host {

class SourceWatermark {
 public:
  // max_delay_ms >= 0 (negative is treated as 0). `now` starts the idle timer.
  SourceWatermark(int64_t max_delay_ms, int64_t idle_timeout_ms, int64_t now);

  // A message read at `now` with `event_time`.
  void observe(int64_t event_time, int64_t now);
  // Applies idle progress (call it when a read returns nothing, or periodically).
  void tick(int64_t now);

  int64_t watermark() const { return watermark_; }
  int64_t max_event_time() const { return max_event_time_; }
  bool idle(int64_t now) const {
    return idle_timeout_ > 0 && now - last_activity_ >= idle_timeout_;
  }

 private:
  void raise(int64_t candidate) {
    if (candidate > watermark_) watermark_ = candidate;
  }

  const int64_t max_delay_;
  const int64_t idle_timeout_;
  int64_t last_activity_;
  int64_t max_event_time_ = kNoWatermark;
  int64_t watermark_ = kNoWatermark;
};

class InputWatermarks {
 public:
  explicit InputWatermarks(size_t inputs);  // inputs >= 1

  // Input `input`'s watermark is now `watermark`. Returns the stage's watermark.
  int64_t update(size_t input, int64_t watermark);

  int64_t watermark() const { return watermark_; }
  int64_t input(size_t i) const { return inputs_[i]; }
  size_t size() const { return inputs_.size(); }

 private:
  std::vector<int64_t> inputs_;
  int64_t watermark_ = kNoWatermark;
};

}  // namespace sluice::host
