// When a side input is refreshed: a cron expression in a time zone, or a fixed interval.
// The user-facing syntax is in docs/schedules.md.
//
// Contract:
//   - Parsing (cron(), interval()) either yields a Schedule or fails with a message that
//     names the field, the offending value and how to fix it. Everything that can be
//     checked is checked there, including expressions that can never fire because of the
//     calendar (day 30 of February): a Schedule that parsed fires at least once in any
//     eight years, except as noted for daylight saving time below.
//   - Cron expressions have 6 fields, seconds first: `sec min hour dom month dow`.
//     A 5-field expression is rejected rather than guessed at (is the first field
//     seconds or minutes?).
//   - next_after(t) is the first firing strictly after t (so feeding it its own result
//     walks the firings in order, never repeating one). Resolution is one second for
//     cron and one millisecond for intervals; for an interval it is t + every.
//   - Daylight saving time (the expression is matched against the zone's wall clock):
//       a wall-clock time that does not exist (spring-forward gap) does not fire: the
//       schedule continues with its next matching time after the gap (as robfig/cron);
//       a wall-clock time that occurs twice (fall-back) fires once, at its first
//       occurrence; the repeated hour fires nothing the second time round.
//   - next_after() searches at most ten years ahead of t; when nothing fires in that span
//     (only possible if every match falls in a DST gap; a safety net that guarantees
//     termination) it returns kNever. It also returns kNever for t within eleven years
//     of the end of system_clock (2262).
//   - Zone rules come from the system's /usr/share/zoneinfo through Debian's date-tz,
//     which does not extend DST rules past 2037: later instants use standard time.
//
// Thread-safety: a Schedule is immutable after parsing; every const member may be
// called from any thread. Copying is cheap (the zone is a pointer into the process-wide
// time-zone database, which lives as long as the process).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;  // <date/tz.h> stays out of this header: only schedule.cc needs it.
}

namespace sluice::host {

class Schedule {
 public:
  // What next_after() returns when the schedule never fires again.
  static constexpr std::chrono::system_clock::time_point kNever =
      std::chrono::system_clock::time_point::max();

  // Parses a 6-field cron expression or a shorthand (@yearly, @annually, @monthly,
  // @weekly, @daily, @midnight, @hourly, @every <duration>). `time_zone` is an IANA name
  // ("Europe/Paris"); empty means "UTC". An @every expression is an interval and ignores
  // the zone. Returns nullopt and sets *error (if not null) on bad input.
  static std::optional<Schedule> cron(std::string_view expr, std::string_view time_zone,
                                      std::string* error);
  // A fixed period; `every` must be positive.
  static std::optional<Schedule> interval(std::chrono::milliseconds every,
                                          std::string* error);

  // The first firing strictly after `t`, or kNever.
  std::chrono::system_clock::time_point next_after(
      std::chrono::system_clock::time_point t) const;

  // For logs: "cron '0 */5 * * * *' (Europe/Paris)" or "every 30s".
  std::string describe() const;

 private:
  Schedule() = default;

  // The smallest wall-clock second >= from that the fields match, in seconds since the
  // local epoch; nullopt once the search passes `last_year`.
  std::optional<std::int64_t> next_local_match(std::int64_t from, int last_year) const;
  bool day_matches(int month_day, unsigned week_day) const;

  // Interval when every_ > 0, cron otherwise.
  std::chrono::milliseconds every_{0};

  // Cron fields as bit sets: bit i set when value i matches.
  std::uint64_t seconds_ = 0;      // 0-59
  std::uint64_t minutes_ = 0;      // 0-59
  std::uint32_t hours_ = 0;        // 0-23
  std::uint32_t month_days_ = 0;   // 1-31
  std::uint16_t months_ = 0;       // 1-12
  std::uint8_t week_days_ = 0;     // 0-6, Sunday is 0
  // True when the day field was written `*` or `?`: the two day fields combine with AND
  // when either is unrestricted, with OR when both are restricted (as in every cron).
  bool any_month_day_ = false;
  bool any_week_day_ = false;
  const date::time_zone* zone_ = nullptr;

  std::string expr_;       // as written, trimmed (for describe())
  std::string zone_name_;  // as written, "UTC" when empty
};

}  // namespace sluice::host
