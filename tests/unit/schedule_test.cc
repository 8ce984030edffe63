// Schedule (sluice/host/schedule.h): parsing, next_after() on fixed instants (no clocks,
// no sleeping), time zones and DST, errors, and a randomized comparison with a
// second-by-second reference.
#include "sluice/host/schedule.h"

#include <date/date.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace sluice::host {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;
using TimePoint = system_clock::time_point;

// An instant from UTC wall-clock fields.
TimePoint Utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return date::sys_days{date::year{y} / mo / d} + std::chrono::hours{h} +
         std::chrono::minutes{mi} + seconds{s};
}

std::string Format(TimePoint t) {
  if (t == Schedule::kNever) return "never";
  return date::format("%F %TZ", date::floor<seconds>(t));
}

Schedule Parse(std::string_view expr, std::string_view zone = "") {
  std::string error;
  std::optional<Schedule> s = Schedule::cron(expr, zone, &error);
  EXPECT_TRUE(s.has_value()) << expr << ": " << error;
  if (!s) return *Schedule::interval(seconds{1}, nullptr);
  return *s;
}

// The next firing after `from`, in UTC, as text (readable failures).
std::string Next(std::string_view expr, TimePoint from, std::string_view zone = "") {
  return Format(Parse(expr, zone).next_after(from));
}

// The first `n` firings after `from`.
std::vector<std::string> Firings(std::string_view expr, TimePoint from, int n,
                                 std::string_view zone = "") {
  Schedule s = Parse(expr, zone);
  std::vector<std::string> out;
  TimePoint t = from;
  for (int i = 0; i < n; ++i) {
    t = s.next_after(t);
    out.push_back(Format(t));
  }
  return out;
}

std::string ParseError(std::string_view expr, std::string_view zone = "") {
  std::string error;
  std::optional<Schedule> s = Schedule::cron(expr, zone, &error);
  EXPECT_FALSE(s.has_value()) << expr << " parsed";
  EXPECT_FALSE(error.empty()) << expr;
  return error;
}

using V = std::vector<std::string>;

// --- field forms -------------------------------------------------------------------

TEST(ScheduleCron, EverySecond) {
  EXPECT_EQ(Firings("* * * * * *", Utc(2024, 5, 1, 12, 0, 58), 3),
            (V{"2024-05-01 12:00:59Z", "2024-05-01 12:01:00Z", "2024-05-01 12:01:01Z"}));
}

TEST(ScheduleCron, FixedNumbersInEveryField) {
  // 07:08:09 on 10 November, whatever the weekday.
  EXPECT_EQ(Next("9 8 7 10 11 *", Utc(2024, 1, 1)), "2024-11-10 07:08:09Z");
  EXPECT_EQ(Next("9 8 7 10 11 *", Utc(2024, 11, 10, 7, 8, 9)), "2025-11-10 07:08:09Z");
  // Weekday only: 2024-05-01 is a Wednesday (3); Saturday (6) is the 4th.
  EXPECT_EQ(Next("0 0 0 * * 6", Utc(2024, 5, 1)), "2024-05-04 00:00:00Z");
}

TEST(ScheduleCron, Ranges) {
  EXPECT_EQ(Firings("0 0 9-11 * * *", Utc(2024, 5, 1, 10, 30), 3),
            (V{"2024-05-01 11:00:00Z", "2024-05-02 09:00:00Z", "2024-05-02 10:00:00Z"}));
  // Monday to Friday: from Friday 2024-05-03 noon the next is Monday.
  EXPECT_EQ(Next("0 0 8 * * 1-5", Utc(2024, 5, 3, 12)), "2024-05-06 08:00:00Z");
}

TEST(ScheduleCron, Steps) {
  EXPECT_EQ(Firings("*/20 * * * * *", Utc(2024, 5, 1, 0, 0, 0), 4),
            (V{"2024-05-01 00:00:20Z", "2024-05-01 00:00:40Z", "2024-05-01 00:01:00Z",
               "2024-05-01 00:01:20Z"}));
  // a-b/n
  EXPECT_EQ(Firings("0 10-30/10 * * * *", Utc(2024, 5, 1, 0, 0, 0), 4),
            (V{"2024-05-01 00:10:00Z", "2024-05-01 00:20:00Z", "2024-05-01 00:30:00Z",
               "2024-05-01 01:10:00Z"}));
  // a/n runs to the end of the field: 5, 25, 45.
  EXPECT_EQ(Firings("0 5/20 * * * *", Utc(2024, 5, 1, 0, 0, 0), 4),
            (V{"2024-05-01 00:05:00Z", "2024-05-01 00:25:00Z", "2024-05-01 00:45:00Z",
               "2024-05-01 01:05:00Z"}));
  // A step larger than the range keeps only its start.
  EXPECT_EQ(Next("0 0 1-5/10 * * *", Utc(2024, 5, 1, 2)), "2024-05-02 01:00:00Z");
  // Every other month from January: from May, July.
  EXPECT_EQ(Next("0 0 0 1 */2 *", Utc(2024, 5, 15)), "2024-07-01 00:00:00Z");
}

TEST(ScheduleCron, Lists) {
  EXPECT_EQ(Firings("0 0,15,45 * * * *", Utc(2024, 5, 1, 0, 20), 3),
            (V{"2024-05-01 00:45:00Z", "2024-05-01 01:00:00Z", "2024-05-01 01:15:00Z"}));
  // Lists of ranges and steps.
  EXPECT_EQ(Firings("0 0 1-2,20-22/2 * * *", Utc(2024, 5, 1, 3), 4),
            (V{"2024-05-01 20:00:00Z", "2024-05-01 22:00:00Z", "2024-05-02 01:00:00Z",
               "2024-05-02 02:00:00Z"}));
}

TEST(ScheduleCron, MonthAndDayNamesAnyCase) {
  // Noon on weekdays in March only; 2024-03-01 is a Friday.
  EXPECT_EQ(Firings("0 0 12 * mar MON-fri", Utc(2024, 1, 1), 2),
            (V{"2024-03-01 12:00:00Z", "2024-03-04 12:00:00Z"}));
  EXPECT_EQ(Next("0 0 0 1 Jan-Feb,DEC *", Utc(2024, 2, 15)), "2024-12-01 00:00:00Z");
  EXPECT_EQ(Next("0 0 0 * * Sun", Utc(2024, 5, 1)), "2024-05-05 00:00:00Z");
}

TEST(ScheduleCron, DayOfWeekSevenAndZeroAreSunday) {
  // 2024-05-05 is a Sunday.
  EXPECT_EQ(Next("0 0 0 * * 7", Utc(2024, 5, 1)), "2024-05-05 00:00:00Z");
  EXPECT_EQ(Next("0 0 0 * * 0", Utc(2024, 5, 1)), "2024-05-05 00:00:00Z");
  // 5-7 is Friday, Saturday, Sunday.
  EXPECT_EQ(Firings("0 0 0 * * 5-7", Utc(2024, 5, 1), 4),
            (V{"2024-05-03 00:00:00Z", "2024-05-04 00:00:00Z", "2024-05-05 00:00:00Z",
               "2024-05-10 00:00:00Z"}));
}

TEST(ScheduleCron, DayOfMonthOrDayOfWeekWhenBothRestricted) {
  // The 13th OR any Friday. May 2024: Fridays 3, 10, 17; the 13th is a Monday.
  EXPECT_EQ(Firings("0 0 0 13 * FRI", Utc(2024, 5, 1), 4),
            (V{"2024-05-03 00:00:00Z", "2024-05-10 00:00:00Z", "2024-05-13 00:00:00Z",
               "2024-05-17 00:00:00Z"}));
}

TEST(ScheduleCron, DayFieldsCombineWithAndWhenOneIsAnyDay) {
  // `*` or `?` in day-of-week: the day-of-month alone decides.
  EXPECT_EQ(Next("0 0 0 13 * *", Utc(2024, 5, 1)), "2024-05-13 00:00:00Z");
  EXPECT_EQ(Next("0 0 0 13 * ?", Utc(2024, 5, 1)), "2024-05-13 00:00:00Z");
  // `?` in day-of-month: the day-of-week alone decides.
  EXPECT_EQ(Next("0 0 0 ? * FRI", Utc(2024, 5, 4)), "2024-05-10 00:00:00Z");
  // `*/1` is written as a restriction: OR semantics with Friday, so every day.
  EXPECT_EQ(Next("0 0 0 */1 * FRI", Utc(2024, 5, 4)), "2024-05-05 00:00:00Z");
}

// --- shorthands --------------------------------------------------------------------

TEST(ScheduleCron, Shorthands) {
  const TimePoint from = Utc(2024, 5, 15, 10, 30, 15);  // a Wednesday
  EXPECT_EQ(Next("@yearly", from), "2025-01-01 00:00:00Z");
  EXPECT_EQ(Next("@annually", from), "2025-01-01 00:00:00Z");
  EXPECT_EQ(Next("@monthly", from), "2024-06-01 00:00:00Z");
  EXPECT_EQ(Next("@weekly", from), "2024-05-19 00:00:00Z");
  EXPECT_EQ(Next("@daily", from), "2024-05-16 00:00:00Z");
  EXPECT_EQ(Next("@midnight", from), "2024-05-16 00:00:00Z");
  EXPECT_EQ(Next("@hourly", from), "2024-05-15 11:00:00Z");
  EXPECT_EQ(Next("@HOURLY", from), "2024-05-15 11:00:00Z");
  // Shorthands are wall-clock times in the zone: midnight in Paris (CEST, +2).
  EXPECT_EQ(Next("@daily", from, "Europe/Paris"), "2024-05-15 22:00:00Z");
}

TEST(ScheduleCron, EveryIsAnInterval) {
  const TimePoint from = Utc(2024, 5, 15, 10, 30, 15) + milliseconds{250};
  Schedule s = Parse("@every 1h30m", "Europe/Paris");
  EXPECT_EQ(s.next_after(from), from + std::chrono::minutes{90});
  EXPECT_EQ(s.describe(), "every 1h30m");
  EXPECT_EQ(Parse("@every 10s").next_after(from), from + seconds{10});
  EXPECT_EQ(Parse("@every 1m500ms").next_after(from), from + milliseconds{60500});
  EXPECT_EQ(Parse("  @every   2h  ").describe(), "every 2h");
}

// --- calendar edges ----------------------------------------------------------------

TEST(ScheduleCron, February29OnlyInLeapYears) {
  EXPECT_EQ(Next("0 0 0 29 2 *", Utc(2023, 1, 1)), "2024-02-29 00:00:00Z");
  EXPECT_EQ(Next("0 0 0 29 2 *", Utc(2024, 2, 29)), "2028-02-29 00:00:00Z");
  // 2100 is not a leap year: the longest gap, eight years.
  EXPECT_EQ(Next("0 0 0 29 2 *", Utc(2097, 1, 1)), "2104-02-29 00:00:00Z");
}

TEST(ScheduleCron, EndOfMonthAndYearRollovers) {
  // Day 31 skips the months without one.
  EXPECT_EQ(Firings("0 0 0 31 * *", Utc(2024, 1, 31, 1), 3),
            (V{"2024-03-31 00:00:00Z", "2024-05-31 00:00:00Z", "2024-07-31 00:00:00Z"}));
  // Last second of the year to the first of the next.
  EXPECT_EQ(Firings("* * * * * *", Utc(2024, 12, 31, 23, 59, 58), 2),
            (V{"2024-12-31 23:59:59Z", "2025-01-01 00:00:00Z"}));
  EXPECT_EQ(Next("59 59 23 31 12 *", Utc(2024, 12, 31, 23, 59, 59)), "2025-12-31 23:59:59Z");
  // Hour and minute carries.
  EXPECT_EQ(Next("0 0 * * * *", Utc(2024, 2, 29, 23, 0, 1)), "2024-03-01 00:00:00Z");
  EXPECT_EQ(Next("30 * * * * *", Utc(2024, 4, 30, 23, 59, 31)), "2024-05-01 00:00:30Z");
}

TEST(ScheduleCron, StrictlyAfterAFiring) {
  Schedule s = Parse("0 */5 * * * *");
  const TimePoint on = Utc(2024, 5, 1, 10, 5);
  EXPECT_EQ(Format(s.next_after(on)), "2024-05-01 10:10:00Z");
  EXPECT_EQ(Format(s.next_after(on - std::chrono::nanoseconds{1})), "2024-05-01 10:05:00Z");
  // A fraction of a second past a firing is after it.
  EXPECT_EQ(Format(Parse("* * * * * *").next_after(on + milliseconds{500})),
            "2024-05-01 10:05:01Z");
  // The search is bounded and far-future inputs answer "never".
  EXPECT_EQ(s.next_after(Schedule::kNever), Schedule::kNever);
}

// --- time zones and DST ------------------------------------------------------------

TEST(ScheduleZone, EuropeParisSummerAndWinter) {
  EXPECT_EQ(Next("0 0 12 * * *", Utc(2024, 7, 1), "Europe/Paris"), "2024-07-01 10:00:00Z");
  EXPECT_EQ(Next("0 0 12 * * *", Utc(2024, 1, 1), "Europe/Paris"), "2024-01-01 11:00:00Z");
  // Across the spring change (2024-03-31 02:00 CET -> 03:00 CEST): 12:00 each day.
  EXPECT_EQ(Firings("0 0 12 * * *", Utc(2024, 3, 30), 2, "Europe/Paris"),
            (V{"2024-03-30 11:00:00Z", "2024-03-31 10:00:00Z"}));
}

TEST(ScheduleZone, AmericaNewYork) {
  EXPECT_EQ(Next("0 0 9 * * MON-FRI", Utc(2024, 5, 4), "America/New_York"),
            "2024-05-06 13:00:00Z");
  EXPECT_EQ(Next("0 0 9 * * MON-FRI", Utc(2024, 1, 6), "America/New_York"),
            "2024-01-08 14:00:00Z");
}

TEST(ScheduleZone, AsiaKolkataHalfHourOffset) {
  EXPECT_EQ(Next("0 0 9 * * *", Utc(2024, 1, 1), "Asia/Kolkata"), "2024-01-01 03:30:00Z");
  // The local day starts at 18:30 UTC.
  EXPECT_EQ(Next("@daily", Utc(2024, 1, 1, 18), "Asia/Kolkata"), "2024-01-01 18:30:00Z");
  EXPECT_EQ(Next("0 0 * * * *", Utc(2024, 1, 1, 18), "Asia/Kolkata"), "2024-01-01 18:30:00Z");
}

// 2024-03-10 in New York: 02:00 EST becomes 03:00 EDT; 02:00-02:59 does not exist.
TEST(ScheduleZone, SpringForwardGapDoesNotFire) {
  const std::string_view ny = "America/New_York";
  // From 03:00 EST on the 9th: 02:30 does not exist on the 10th, so the next firing is
  // 02:30 EDT on the 11th.
  EXPECT_EQ(Firings("0 30 2 * * *", Utc(2024, 3, 9, 8), 2, ny),
            (V{"2024-03-11 06:30:00Z", "2024-03-12 06:30:00Z"}));
  // Half-hourly: 01:30 EST, then straight to 03:00 EDT (02:00 and 02:30 do not exist).
  EXPECT_EQ(Firings("0 */30 * * * *", Utc(2024, 3, 10, 6, 15), 3, ny),
            (V{"2024-03-10 06:30:00Z", "2024-03-10 07:00:00Z", "2024-03-10 07:30:00Z"}));
  // Every second: 01:59:59 EST is followed by 03:00:00 EDT, one real second later.
  EXPECT_EQ(Firings("* * * * * *", Utc(2024, 3, 10, 6, 59, 58), 2, ny),
            (V{"2024-03-10 06:59:59Z", "2024-03-10 07:00:00Z"}));
}

// 2024-11-03 in New York: 02:00 EDT becomes 01:00 EST; 01:00-01:59 happens twice.
TEST(ScheduleZone, FallBackAmbiguousTimeFiresOnceAtFirstOccurrence) {
  const std::string_view ny = "America/New_York";
  // 01:30 fires at 01:30 EDT (05:30Z), not again at 01:30 EST (06:30Z).
  EXPECT_EQ(Firings("0 30 1 * * *", Utc(2024, 11, 3, 4), 2, ny),
            (V{"2024-11-03 05:30:00Z", "2024-11-04 06:30:00Z"}));
  // Half-hourly: 01:00 and 01:30 EDT, then nothing in the repeated hour, then 02:00 EST.
  EXPECT_EQ(Firings("0 */30 * * * *", Utc(2024, 11, 3, 4, 45), 4, ny),
            (V{"2024-11-03 05:00:00Z", "2024-11-03 05:30:00Z", "2024-11-03 07:00:00Z",
               "2024-11-03 07:30:00Z"}));
  // Asked during the second 01:xx: the first occurrences are past, so 02:00 EST.
  EXPECT_EQ(Next("0 */30 * * * *", Utc(2024, 11, 3, 6, 10), ny), "2024-11-03 07:00:00Z");
  // Asked during the first 01:xx: the rest of the first occurrence still fires.
  EXPECT_EQ(Next("0 */30 * * * *", Utc(2024, 11, 3, 5, 10), ny), "2024-11-03 05:30:00Z");
}

TEST(ScheduleZone, FiringsNeverGoBackwardsAcrossDstChanges) {
  for (std::string_view zone : {"America/New_York", "Europe/Paris", "Asia/Kolkata"}) {
    for (std::string_view expr : {"0 */7 * * * *", "*/13 * 0-3 * * *", "0 30 1,2 * * *"}) {
      Schedule s = Parse(expr, zone);
      TimePoint t = Utc(2024, 3, 1);
      for (int i = 0; i < 3000 && t < Utc(2024, 12, 1); ++i) {
        TimePoint next = s.next_after(t);
        ASSERT_GT(next, t) << expr << " " << zone << " after " << Format(t);
        t = next;
      }
    }
  }
}

// --- describe, intervals -----------------------------------------------------------

TEST(ScheduleDescribe, CronAndInterval) {
  EXPECT_EQ(Parse("0 */5 * * * *", "Europe/Paris").describe(),
            "cron '0 */5 * * * *' (Europe/Paris)");
  EXPECT_EQ(Parse("  @hourly ").describe(), "cron '@hourly' (UTC)");
  EXPECT_EQ(Schedule::interval(seconds{30}, nullptr)->describe(), "every 30s");
  EXPECT_EQ(Schedule::interval(milliseconds{90500}, nullptr)->describe(), "every 1m30s500ms");
}

TEST(ScheduleInterval, NextIsTPlusEvery) {
  std::string error;
  std::optional<Schedule> s = Schedule::interval(milliseconds{1500}, &error);
  ASSERT_TRUE(s) << error;
  const TimePoint t = Utc(2024, 5, 1) + std::chrono::microseconds{7};
  EXPECT_EQ(s->next_after(t), t + milliseconds{1500});
  EXPECT_EQ(s->next_after(Schedule::kNever - milliseconds{1}), Schedule::kNever);
}

TEST(ScheduleInterval, ZeroOrNegativeIsAnError) {
  std::string error;
  EXPECT_FALSE(Schedule::interval(milliseconds{0}, &error));
  EXPECT_NE(error.find("0ms is not positive"), std::string::npos) << error;
  EXPECT_FALSE(Schedule::interval(milliseconds{-5}, &error));
  EXPECT_NE(error.find("-5ms is not positive"), std::string::npos) << error;
  EXPECT_FALSE(Schedule::interval(milliseconds{-5}, nullptr));  // no error wanted
}

// --- errors ------------------------------------------------------------------------

void ExpectErrorMentions(std::string_view expr, std::vector<std::string> parts,
                         std::string_view zone = "") {
  std::string error = ParseError(expr, zone);
  for (const std::string& part : parts)
    EXPECT_NE(error.find(part), std::string::npos)
        << "error for '" << expr << "' lacks '" << part << "': " << error;
}

TEST(ScheduleErrors, OutOfRange) {
  ExpectErrorMentions("60 * * * * *", {"second field '60'", "out of range 0-59"});
  ExpectErrorMentions("0 60 * * * *", {"minute field '60'", "out of range 0-59"});
  ExpectErrorMentions("0 0 24 * * *", {"hour field '24'", "out of range 0-23"});
  ExpectErrorMentions("0 0 0 0 * *", {"day-of-month field '0'", "out of range 1-31"});
  ExpectErrorMentions("0 0 0 32 * *", {"day-of-month field '32'", "out of range 1-31"});
  ExpectErrorMentions("0 0 0 * 13 *", {"month field '13'", "out of range 1-12"});
  ExpectErrorMentions("0 0 0 * * 8", {"day-of-week field '8'", "out of range 0-7"});
  ExpectErrorMentions("0 0 1-99 * * *", {"hour field '1-99'", "99 is out of range 0-23"});
  ExpectErrorMentions("0 99999999999 * * * *", {"minute field", "out of range"});
}

TEST(ScheduleErrors, BadSteps) {
  ExpectErrorMentions("*/0 * * * * *", {"second field '*/0'", "step 0", "between 1 and 59"});
  ExpectErrorMentions("0 */x * * * *", {"minute field '*/x'", "step 'x'"});
  ExpectErrorMentions("0 */ * * * *", {"minute field '*/'", "not a positive number"});
  ExpectErrorMentions("0 /5 * * * *", {"minute field '/5'", "no range before '/'"});
  ExpectErrorMentions("0 */5/2 * * * *", {"minute field '*/5/2'"});
  ExpectErrorMentions("0 0 */99 * * *", {"hour field '*/99'", "between 1 and 23"});
}

TEST(ScheduleErrors, ReversedAndMalformedRanges) {
  ExpectErrorMentions("0 0 5-1 * * *", {"hour field '5-1'", "reversed", "1-5"});
  ExpectErrorMentions("0 0 0 * DEC-JAN *", {"month field 'DEC-JAN'", "reversed"});
  ExpectErrorMentions("0 -5 * * * *", {"minute field '-5'", "both sides"});
  ExpectErrorMentions("0 1- * * * *", {"minute field '1-'", "both sides"});
  ExpectErrorMentions("0 1,,2 * * * *", {"minute field '1,,2'", "empty list element"});
  ExpectErrorMentions("0 1, * * * *", {"minute field '1,'", "empty list element"});
  ExpectErrorMentions("? * * * * *", {"second field '?'", "only allowed in the day"});
}

TEST(ScheduleErrors, UnknownNames) {
  ExpectErrorMentions("0 0 0 * JANUARY *", {"month field 'JANUARY'", "unknown name 'JANUARY'",
                                            "JAN-DEC"});
  ExpectErrorMentions("0 0 0 * * FUN", {"day-of-week field 'FUN'", "unknown name", "SUN-SAT"});
  ExpectErrorMentions("0 0 0 * MON *", {"month field 'MON'", "unknown name 'MON'"});
  ExpectErrorMentions("0 0 noon * * *", {"hour field 'noon'", "'noon' is not a number"});
  ExpectErrorMentions("@fortnightly", {"unknown shorthand '@fortnightly'", "@hourly"});
  ExpectErrorMentions("@daily 5", {"@daily takes no arguments"});
}

TEST(ScheduleErrors, WrongFieldCount) {
  ExpectErrorMentions("*/5 * * * *", {"has 5 fields", "6 fields are needed", "seconds first",
                                      "0 */5 * * * *"});
  ExpectErrorMentions("0 0 0 1 1 * 2025", {"has 7 fields", "6 fields are needed",
                                           "year field is not supported"});
  ExpectErrorMentions("", {"empty cron expression", "6 fields"});
  ExpectErrorMentions("   ", {"empty cron expression"});
  ExpectErrorMentions("0", {"has 1 field;"});
}

TEST(ScheduleErrors, NeverFires) {
  ExpectErrorMentions("0 0 0 30 2 *", {"never fires", "day-of-month field '30'",
                                       "month field '2'"});
  ExpectErrorMentions("0 0 0 31 4,6,9,11 ?", {"never fires"});
  // February 29 does come; with a day-of-week too, the days combine with OR.
  EXPECT_TRUE(Schedule::cron("0 0 0 29 2 *", "", nullptr));
  EXPECT_TRUE(Schedule::cron("0 0 0 30 2 MON", "", nullptr));
}

TEST(ScheduleErrors, UnknownTimeZone) {
  ExpectErrorMentions("0 0 0 * * *", {"unknown time zone 'Mars/Olympus_Mons'", "IANA"},
                      "Mars/Olympus_Mons");
  ExpectErrorMentions("0 0 0 * * *", {"unknown time zone 'europe/paris'"}, "europe/paris");
}

TEST(ScheduleErrors, BadEvery) {
  ExpectErrorMentions("@every", {"missing duration", "@every 1h30m"});
  ExpectErrorMentions("@every 0s", {"'0s' is zero"});
  ExpectErrorMentions("@every -5s", {"duration '-5s'"});
  ExpectErrorMentions("@every 10", {"duration '10'", "unit ''"});
  ExpectErrorMentions("@every 1d", {"unit 'd'", "h, m, s or ms"});
  ExpectErrorMentions("@every 1.5h", {"duration '1.5h'"});
}

// --- randomized comparison with a second-by-second reference ------------------------

// A random field in the accepted syntax and the values it stands for.
struct RandomField {
  std::string text;
  std::uint64_t values = 0;
};

RandomField RandomPart(std::mt19937& rng, int min, int max) {
  auto uniform = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  RandomField f;
  int low = min, high = max, step = 1;
  switch (uniform(0, 4)) {
    case 0:  // n
      low = high = uniform(min, max);
      f.text = std::to_string(low);
      break;
    case 1:  // a-b
      low = uniform(min, max);
      high = uniform(low, max);
      f.text = std::to_string(low) + "-" + std::to_string(high);
      break;
    case 2:  // */n
      step = uniform(1, std::max(1, (max - min) / 2));
      f.text = "*/" + std::to_string(step);
      break;
    case 3:  // a-b/n
      low = uniform(min, max);
      high = uniform(low, max);
      step = uniform(1, std::max(1, high - low + 1));
      f.text = std::to_string(low) + "-" + std::to_string(high) + "/" + std::to_string(step);
      break;
    default:  // a/n
      low = uniform(min, max);
      step = uniform(1, std::max(1, max - min));
      f.text = std::to_string(low) + "/" + std::to_string(step);
      break;
  }
  for (int v = low; v <= high; v += step) f.values |= std::uint64_t{1} << (v == 7 && max == 7 ? 0 : v);
  return f;
}

RandomField RandomFieldOf(std::mt19937& rng, int min, int max, int star_percent) {
  std::uniform_int_distribution<int> percent(0, 99);
  if (percent(rng) < star_percent) {
    RandomField f{"*", 0};
    for (int v = min; v <= max; ++v) f.values |= std::uint64_t{1} << (v == 7 && max == 7 ? 0 : v);
    return f;
  }
  RandomField f = RandomPart(rng, min, max);
  int extra = std::uniform_int_distribution<int>(0, 2)(rng);
  for (int i = 0; i < extra; ++i) {
    RandomField g = RandomPart(rng, min, max);
    f.text += "," + g.text;
    f.values |= g.values;
  }
  return f;
}

TEST(ScheduleRandomized, MatchesSecondBySecondReferenceInUtc) {
  std::mt19937 rng(20240501);
  constexpr int kSpanDays = 3;
  int expressions = 0, checked = 0;
  while (expressions < 150) {
    RandomField sec = RandomFieldOf(rng, 0, 59, 25);
    RandomField min = RandomFieldOf(rng, 0, 59, 30);
    RandomField hour = RandomFieldOf(rng, 0, 23, 30);
    RandomField dom = RandomFieldOf(rng, 1, 31, 50);
    RandomField month = RandomFieldOf(rng, 1, 12, 70);
    RandomField dow = RandomFieldOf(rng, 0, 7, 50);
    const std::string expr = sec.text + " " + min.text + " " + hour.text + " " + dom.text +
                             " " + month.text + " " + dow.text;
    std::optional<Schedule> s = Schedule::cron(expr, "UTC", nullptr);
    if (!s) continue;  // calendar-impossible (e.g. day 31 in February only)
    ++expressions;
    const bool and_days = dom.text == "*" || dow.text == "*";

    // A window of a few days somewhere in 2000-2039, scanned second by second.
    const date::sys_days first_day =
        date::sys_days{date::year{2000} / 1 / 1} +
        date::days{std::uniform_int_distribution<int>(0, 40 * 365)(rng)};
    std::vector<TimePoint> firings;
    for (int d = 0; d < kSpanDays; ++d) {
      const date::sys_days day = first_day + date::days{d};
      const date::year_month_day ymd{day};
      const bool dom_ok = dom.values >> static_cast<unsigned>(ymd.day()) & 1;
      const bool dow_ok = dow.values >> date::weekday{day}.c_encoding() & 1;
      const bool month_ok = month.values >> static_cast<unsigned>(ymd.month()) & 1;
      if (!month_ok || !(and_days ? dom_ok && dow_ok : dom_ok || dow_ok)) continue;
      for (int i = 0; i < 86400; ++i) {
        if ((hour.values >> (i / 3600) & 1) && (min.values >> (i / 60 % 60) & 1) &&
            (sec.values >> (i % 60) & 1))
          firings.push_back(day + seconds{i});
      }
    }
    const TimePoint window_end = first_day + date::days{kSpanDays};

    auto check = [&](TimePoint t) {
      auto it = std::upper_bound(firings.begin(), firings.end(), t);
      TimePoint got = s->next_after(t);
      if (it != firings.end()) {
        ASSERT_EQ(Format(got), Format(*it)) << "'" << expr << "' after " << Format(t);
      } else {
        ASSERT_GE(got, window_end) << "'" << expr << "' after " << Format(t);
      }
      ++checked;
    };
    // Random instants, some with a fraction of a second, some exactly on a second.
    std::uniform_int_distribution<std::int64_t> offset_ms(-1000, kSpanDays * 86400000LL);
    for (int i = 0; i < 100; ++i) {
      TimePoint t = TimePoint{first_day} + milliseconds{offset_ms(rng)};
      if (i % 2) t = date::floor<seconds>(t);
      check(t);
    }
    // Walk the first firings, and just before each.
    for (size_t i = 0; i < firings.size() && i < 200; ++i) {
      check(firings[i]);
      check(firings[i] - std::chrono::nanoseconds{1});
    }
  }
  EXPECT_GT(checked, 20000);
}

}  // namespace
}  // namespace sluice::host
