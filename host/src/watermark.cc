#include "sluice/host/watermark.h"

#include <algorithm>

namespace sluice::host {

SourceWatermark::SourceWatermark(int64_t max_delay_ms, int64_t idle_timeout_ms, int64_t now)
    : max_delay_(std::max<int64_t>(max_delay_ms, 0)),
      idle_timeout_(idle_timeout_ms),
      last_activity_(now) {}

void SourceWatermark::observe(int64_t event_time, int64_t now) {
  if (now > last_activity_) last_activity_ = now;
  if (event_time == kNoWatermark) return;
  if (event_time > max_event_time_) {
    max_event_time_ = event_time;
    raise(event_time - max_delay_);
  }
}

void SourceWatermark::tick(int64_t now) {
  if (idle(now)) raise(now - max_delay_);
}

InputWatermarks::InputWatermarks(size_t inputs) : inputs_(inputs, kNoWatermark) {}

int64_t InputWatermarks::update(size_t input, int64_t watermark) {
  if (watermark <= inputs_[input]) return watermark_;
  inputs_[input] = watermark;
  const int64_t low = *std::min_element(inputs_.begin(), inputs_.end());
  if (low > watermark_) watermark_ = low;
  return watermark_;
}

}  // namespace sluice::host
