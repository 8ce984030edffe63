// Which event-time windows a message belongs to, for aligned windows (fixed and sliding).
// Pure arithmetic: no state, no clock, no allocation.
//
// Contract:
//   - Times are int64 milliseconds since the Unix epoch (the ABI's event_time). A window
//     is half-open, [start, end): a message at exactly `end` is NOT in it; it belongs to
//     the next window (the one starting there).
//   - Windows are aligned to the epoch: starts are the multiples of `slide` (of `length`
//     for fixed windows), negative times included (start = floor(t / slide) * slide,
//     rounding toward minus infinity, never toward zero).
//   - Fixed(length) is Sliding(length, length): every time is in exactly one window.
//   - Sliding(length, slide) needs 0 < slide <= length and length % slide == 0, so every
//     time is in exactly length / slide windows, at most kMaxWindowsPerTime (every
//     message is appended to each of them; a day sliding by the millisecond would be
//     86 million appends per message). The factory refuses anything else with an error
//     saying why.
//   - Event times must lie within [kMinEventTime, kMaxEventTime] (about +-146 million
//     years) so window bounds never overflow; the engine maps SLUICE_TIME_UNSET (INT64_MIN)
//     to a real time before it gets here.
//
// Session windows depend on the other messages of the key, so they live in WindowBook.
//
// Thread-safety: immutable after construction; any thread may call any member.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace sluice::host {

inline constexpr int64_t kMinEventTime = -(int64_t{1} << 62);
inline constexpr int64_t kMaxEventTime = int64_t{1} << 62;
inline constexpr int64_t kMaxWindowsPerTime = 1000;
// The watermark before any is known; equal to the ABI's SLUICE_TIME_UNSET.
inline constexpr int64_t kNoWatermark = std::numeric_limits<int64_t>::min();

// [start, end), ms since epoch.
struct Window {
  int64_t start = 0;
  int64_t end = 0;
  friend bool operator==(const Window&, const Window&) = default;
};

// floor(t / d) * d for d > 0 (C++ division truncates toward zero; this does not).
int64_t align_down(int64_t t, int64_t d);

class WindowAssigner {
 public:
  // Windows [k*length, (k+1)*length). length must be > 0.
  static std::optional<WindowAssigner> fixed(int64_t length_ms, std::string* error);
  // Windows [k*slide, k*slide + length); see the contract for the limits.
  static std::optional<WindowAssigner> sliding(int64_t length_ms, int64_t slide_ms,
                                               std::string* error);

  int64_t length() const { return length_; }
  int64_t slide() const { return slide_; }
  // How many windows every time belongs to: 1 for fixed, length / slide for sliding.
  size_t windows_per_time() const { return per_time_; }

  // The window of `t` that starts last (for fixed windows: its only window).
  Window last_window(int64_t t) const {
    const int64_t start = align_down(t, slide_);
    return {start, start + length_};
  }
  // Writes the windows of `t`, ordered by start, into out[0 .. windows_per_time()).
  // Returns windows_per_time().
  size_t assign(int64_t t, Window* out) const;

 private:
  WindowAssigner(int64_t length, int64_t slide)
      : length_(length), slide_(slide), per_time_(static_cast<size_t>(length / slide)) {}

  int64_t length_;
  int64_t slide_;
  size_t per_time_;
};

}  // namespace sluice::host
