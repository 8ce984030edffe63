#include "sluice/host/window_assigner.h"

namespace sluice::host {

int64_t align_down(int64_t t, int64_t d) {
  int64_t q = t / d;
  if (t % d < 0) --q;  // truncation went up for negative t
  return q * d;
}

std::optional<WindowAssigner> WindowAssigner::fixed(int64_t length_ms, std::string* error) {
  if (length_ms <= 0) {
    if (error) *error = "fixed window: length must be > 0 ms (got " + std::to_string(length_ms) + ")";
    return std::nullopt;
  }
  if (length_ms > kMaxEventTime) {
    if (error) *error = "fixed window: length " + std::to_string(length_ms) + " ms is too large";
    return std::nullopt;
  }
  return WindowAssigner(length_ms, length_ms);
}

std::optional<WindowAssigner> WindowAssigner::sliding(int64_t length_ms, int64_t slide_ms,
                                                      std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<WindowAssigner> {
    if (error) {
      *error = "sliding window {length: " + std::to_string(length_ms) +
               " ms, slide: " + std::to_string(slide_ms) + " ms}: " + why;
    }
    return std::nullopt;
  };
  if (length_ms <= 0) return fail("length must be > 0");
  if (length_ms > kMaxEventTime) return fail("length is too large");
  if (slide_ms <= 0) return fail("slide must be > 0");
  if (slide_ms > length_ms) {
    return fail("slide must be <= length (a longer slide would leave gaps no window covers)");
  }
  if (length_ms % slide_ms != 0) {
    return fail("length must be a multiple of slide (so every time is in the same number of "
                "windows)");
  }
  if (length_ms / slide_ms > kMaxWindowsPerTime) {
    return fail("length / slide = " + std::to_string(length_ms / slide_ms) +
                " windows per message; at most " + std::to_string(kMaxWindowsPerTime));
  }
  return WindowAssigner(length_ms, slide_ms);
}

size_t WindowAssigner::assign(int64_t t, Window* out) const {
  const int64_t last_start = align_down(t, slide_);
  int64_t start = last_start - static_cast<int64_t>(per_time_ - 1) * slide_;
  for (size_t i = 0; i < per_time_; ++i, start += slide_) out[i] = {start, start + length_};
  return per_time_;
}

}  // namespace sluice::host
