// Event times read from data (the `file` and `stdin` sources' `eventTime`): RFC 3339
// text and numbers, as milliseconds since the Unix epoch. Header-only, no allocation.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace sluice::builtin {

namespace event_time_detail {

// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's
// days_from_civil): no time zone, no timegm.
constexpr int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

constexpr unsigned days_in_month(int64_t y, unsigned m) {
  constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at s[*i]; advances *i.
inline bool digits(std::string_view s, size_t* i, size_t n, unsigned* out) {
  if (*i + n > s.size()) return false;
  unsigned v = 0;
  for (size_t k = 0; k < n; ++k) {
    const char c = s[*i + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  *i += n;
  *out = v;
  return true;
}

inline bool expect(std::string_view s, size_t* i, char c) {
  if (*i >= s.size() || s[*i] != c) return false;
  ++*i;
  return true;
}

}  // namespace event_time_detail

// An RFC 3339 date-time ("2026-11-21T06:00:00Z", "2026-11-21T07:00:00.250+01:00") as
// ms since the epoch; nullopt when `s` is not one. `T` may also be `t` or a space, `Z`
// also `z`; a fraction has at least one digit, and digits beyond milliseconds are
// dropped (truncated toward the earlier time). Second 60 (a leap second) is accepted and
// reads as the next minute's second 0.
inline std::optional<int64_t> parse_rfc3339_ms(std::string_view s) {
  using namespace event_time_detail;
  size_t i = 0;
  unsigned year, month, day, hour, minute, second;
  if (!digits(s, &i, 4, &year) || !expect(s, &i, '-') || !digits(s, &i, 2, &month) ||
      !expect(s, &i, '-') || !digits(s, &i, 2, &day))
    return std::nullopt;
  if (i >= s.size() || (s[i] != 'T' && s[i] != 't' && s[i] != ' ')) return std::nullopt;
  ++i;
  if (!digits(s, &i, 2, &hour) || !expect(s, &i, ':') || !digits(s, &i, 2, &minute) ||
      !expect(s, &i, ':') || !digits(s, &i, 2, &second))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60)
    return std::nullopt;
  int64_t millis = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    const size_t first = i;
    int64_t scale = 100;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, scale /= 10) millis += (s[i] - '0') * scale;
    if (i == first) return std::nullopt;
  }
  int64_t offset_minutes = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const int sign = s[i] == '+' ? 1 : -1;
    ++i;
    unsigned oh, om;
    if (!digits(s, &i, 2, &oh) || !expect(s, &i, ':') || !digits(s, &i, 2, &om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_minutes = sign * static_cast<int64_t>(oh * 60 + om);
  } else {
    return std::nullopt;  // RFC 3339 requires the offset
  }
  if (i != s.size()) return std::nullopt;
  const int64_t days = days_from_civil(year, month, day);
  const int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return secs * 1000 + millis;
}

// A JSON number in `unit_ms` units (1: milliseconds, 1000: seconds) as ms; a fraction
// of a millisecond is dropped (toward the earlier time). nullopt when out of range.
inline std::optional<int64_t> number_to_ms(double v, int64_t unit_ms) {
  const double ms = std::floor(v * static_cast<double>(unit_ms));
  // 2^62 ms is about 146 million years: far beyond any real time, well inside int64.
  constexpr double kLimit = 4611686018427387904.0;
  if (!std::isfinite(ms) || ms >= kLimit || ms <= -kLimit) return std::nullopt;
  return static_cast<int64_t>(ms);
}

inline std::optional<int64_t> integer_to_ms(int64_t v, int64_t unit_ms) {
  constexpr int64_t kLimit = int64_t{1} << 62;
  if (v >= kLimit / unit_ms || v <= -kLimit / unit_ms) return std::nullopt;
  return v * unit_ms;
}

}  // namespace sluice::builtin
