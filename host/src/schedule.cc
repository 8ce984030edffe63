#include "sluice/host/schedule.h"

#include <date/date.h>
#include <date/tz.h>

#include <array>
#include <bit>
#include <cctype>
#include <charconv>
#include <exception>
#include <vector>

namespace sluice::host {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr std::string_view kFieldsHelp =
    "6 fields are needed, seconds first: 'second minute hour day-of-month month "
    "day-of-week', e.g. '0 */5 * * * *'";

// How far next_after() looks ahead. Above the longest gap between two February 29ths
// (8 years, e.g. 2096 to 2104), so only DST gaps can exhaust it.
constexpr int kSearchYears = 10;

struct FieldSpec {
  const char* name;
  int min;
  int max;  // day-of-week allows 7 (Sunday again); it is folded to 0 when stored
  const std::array<const char*, 12>* names;  // names[i] is value min + i; or null
  bool question_mark;                        // `?` allowed (the two day fields)
};

constexpr std::array<const char*, 12> kMonthNames = {
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<const char*, 12> kDayNames = {"SUN", "MON", "TUE", "WED", "THU",
                                                   "FRI", "SAT", "",    "",    "",
                                                   "",    ""};

const FieldSpec kFields[6] = {
    {"second", 0, 59, nullptr, false},
    {"minute", 0, 59, nullptr, false},
    {"hour", 0, 23, nullptr, false},
    {"day-of-month", 1, 31, nullptr, true},
    {"month", 1, 12, &kMonthNames, false},
    {"day-of-week", 0, 7, &kDayNames, true},
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// Parses one field (e.g. "1-5/2,10") into a bit set. On failure returns false with
// *problem saying what is wrong with which part and how to fix it.
class FieldParser {
 public:
  FieldParser(const FieldSpec& spec, std::string* problem) : spec_(spec), problem_(problem) {}

  bool parse(std::string_view text, std::uint64_t* bits) {
    *bits = 0;
    size_t start = 0;
    while (true) {
      size_t comma = text.find(',', start);
      std::string_view part = text.substr(start, comma == std::string_view::npos
                                                     ? std::string_view::npos
                                                     : comma - start);
      if (part.empty())
        return fail("empty list element; separate values with single commas, e.g. 1,15,30");
      if (!parse_part(part, bits)) return false;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return true;
  }

 private:
  bool parse_part(std::string_view part, std::uint64_t* bits) {
    std::string_view range = part;
    int step = 1;
    bool has_step = false;
    if (size_t slash = part.find('/'); slash != std::string_view::npos) {
      range = part.substr(0, slash);
      std::string_view step_text = part.substr(slash + 1);
      if (!all_digits(step_text))
        return fail("step '" + std::string(step_text) + "' in '" + std::string(part) +
                    "' is not a positive number; write e.g. */5 or 10-40/10");
      if (!parse_number(step_text, &step) || step < 1 || step > spec_.max)
        return fail("step " + std::string(step_text) + " in '" + std::string(part) +
                    "' must be between 1 and " + std::to_string(spec_.max));
      has_step = true;
      if (range.empty())
        return fail("'" + std::string(part) + "' has no range before '/'; write e.g. */" +
                    std::string(step_text));
    }

    int low = 0;
    int high = 0;
    if (range == "*" || range == "?") {
      if (range == "?" && !spec_.question_mark)
        return fail("'?' is only allowed in the day-of-month and day-of-week fields; use *");
      low = spec_.min;
      high = spec_.max;
    } else if (size_t dash = range.find('-'); dash != std::string_view::npos) {
      std::string_view a = range.substr(0, dash);
      std::string_view b = range.substr(dash + 1);
      if (a.empty() || b.empty())
        return fail("range '" + std::string(range) + "' needs a value on both sides of '-'" +
                    " (negative values are not allowed), e.g. 1-5");
      if (!parse_value(a, &low) || !parse_value(b, &high)) return false;
      if (low > high)
        return fail("range '" + std::string(range) + "' is reversed; write it low-high, e.g. " +
                    std::string(b) + "-" + std::string(a) +
                    ", or use a list for a wrap-around");
    } else {
      if (!parse_value(range, &low)) return false;
      // "a/n" means from a to the end of the field, stepping by n.
      high = has_step ? spec_.max : low;
    }

    for (int v = low; v <= high; v += step) {
      int stored = (spec_.max == 7 && v == 7) ? 0 : v;  // day-of-week 7 is Sunday
      *bits |= std::uint64_t{1} << stored;
    }
    return true;
  }

  bool parse_value(std::string_view text, int* value) {
    if (all_digits(text)) {
      if (!parse_number(text, value) || *value < spec_.min || *value > spec_.max)
        return fail("value " + std::string(text) + " is out of range " +
                    std::to_string(spec_.min) + "-" + std::to_string(spec_.max) +
                    (spec_.max == 7 ? " (0 and 7 are both Sunday)" : ""));
      return true;
    }
    if (spec_.names) {
      for (size_t i = 0; i < spec_.names->size(); ++i) {
        if (*(*spec_.names)[i] != '\0' && iequals(text, (*spec_.names)[i])) {
          *value = spec_.min + static_cast<int>(i);
          return true;
        }
      }
      return fail("unknown name '" + std::string(text) + "'; use a number " +
                  std::to_string(spec_.min) + "-" + std::to_string(spec_.max) + " or " +
                  (spec_.names == &kMonthNames ? "JAN-DEC" : "SUN-SAT"));
    }
    return fail("'" + std::string(text) + "' is not a number; use " +
                std::to_string(spec_.min) + "-" + std::to_string(spec_.max) +
                ", *, a range a-b, a step */n or a list a,b");
  }

  static bool parse_number(std::string_view text, int* value) {
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
    return ec == std::errc() && ptr == text.data() + text.size();
  }

  bool fail(const std::string& message) {
    *problem_ = message;
    return false;
  }

  const FieldSpec& spec_;
  std::string* problem_;
};

// Go-style durations as in robfig/cron's @every: "1h30m", "10s", "250ms".
bool parse_duration(std::string_view text, milliseconds* out, std::string* problem) {
  if (text.empty()) {
    *problem = "missing duration; write e.g. '@every 1h30m' (units h, m, s, ms)";
    return false;
  }
  milliseconds total{0};
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t digits = 0;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits])))
      ++digits;
    if (digits == 0 || digits > 9) {
      *problem = "duration '" + std::string(text) +
                 "' is not of the form <number><unit>..., e.g. 1h30m (units h, m, s, ms)";
      return false;
    }
    std::int64_t n = 0;
    std::from_chars(rest.data(), rest.data() + digits, n);
    rest.remove_prefix(digits);
    size_t unit_len = 0;
    while (unit_len < rest.size() && std::isalpha(static_cast<unsigned char>(rest[unit_len])))
      ++unit_len;
    std::string_view unit = rest.substr(0, unit_len);
    rest.remove_prefix(unit_len);
    if (unit == "h") total += hours{n};
    else if (unit == "m") total += minutes{n};
    else if (unit == "s") total += seconds{n};
    else if (unit == "ms") total += milliseconds{n};
    else {
      *problem = "duration '" + std::string(text) + "' has unit '" + std::string(unit) +
                 "'; use h, m, s or ms, e.g. 1h30m";
      return false;
    }
  }
  *out = total;
  return true;
}

std::string format_duration(milliseconds d) {
  std::string out;
  auto take = [&](std::int64_t unit_ms, const char* unit) {
    std::int64_t n = d.count() / unit_ms;
    if (n > 0) {
      out += std::to_string(n) + unit;
      d -= milliseconds{n * unit_ms};
    }
  };
  take(3600000, "h");
  take(60000, "m");
  take(1000, "s");
  take(1, "ms");
  return out;
}

int next_bit(std::uint64_t bits, int from) {
  if (from >= 64) return -1;
  std::uint64_t rest = bits >> from;
  return rest == 0 ? -1 : from + std::countr_zero(rest);
}

constexpr int kMaxMonthDays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

}  // namespace

std::optional<Schedule> Schedule::interval(milliseconds every, std::string* error) {
  if (every <= milliseconds::zero()) {
    if (error)
      *error = "interval " + std::to_string(every.count()) +
               "ms is not positive; give a period greater than zero, e.g. 30s";
    return std::nullopt;
  }
  Schedule s;
  s.every_ = every;
  return s;
}

std::optional<Schedule> Schedule::cron(std::string_view expr, std::string_view time_zone,
                                       std::string* error) {
  std::string scratch;
  std::string& err = error ? *error : scratch;
  const std::string_view text = trim(expr);
  const std::string quoted = "cron '" + std::string(text) + "': ";
  if (text.empty()) {
    err = "empty cron expression; " + std::string(kFieldsHelp) +
          ", or a shorthand such as @hourly or @every 30s";
    return std::nullopt;
  }

  std::string_view fields_text = text;
  if (text.front() == '@') {
    size_t space = text.find_first_of(" \t");
    std::string_view word = text.substr(0, space);
    std::string_view arg = space == std::string_view::npos ? "" : trim(text.substr(space));
    if (iequals(word, "@every")) {
      milliseconds every{0};
      std::string problem;
      if (!parse_duration(arg, &every, &problem)) {
        err = quoted + problem;
        return std::nullopt;
      }
      if (every <= milliseconds::zero()) {
        err = quoted + "duration '" + std::string(arg) + "' is zero; give a positive one, e.g. 30s";
        return std::nullopt;
      }
      return interval(every, error);
    }
    if (!arg.empty()) {
      err = quoted + "shorthand " + std::string(word) + " takes no arguments";
      return std::nullopt;
    }
    if (iequals(word, "@yearly") || iequals(word, "@annually")) fields_text = "0 0 0 1 1 *";
    else if (iequals(word, "@monthly")) fields_text = "0 0 0 1 * *";
    else if (iequals(word, "@weekly")) fields_text = "0 0 0 * * 0";
    else if (iequals(word, "@daily") || iequals(word, "@midnight")) fields_text = "0 0 0 * * *";
    else if (iequals(word, "@hourly")) fields_text = "0 0 * * * *";
    else {
      err = quoted + "unknown shorthand '" + std::string(word) +
            "'; use @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or "
            "@every <duration>";
      return std::nullopt;
    }
  }

  std::vector<std::string_view> fields;
  for (size_t i = 0; i < fields_text.size();) {
    if (std::isspace(static_cast<unsigned char>(fields_text[i]))) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < fields_text.size() && !std::isspace(static_cast<unsigned char>(fields_text[end])))
      ++end;
    fields.push_back(fields_text.substr(i, end - i));
    i = end;
  }
  if (fields.size() != 6) {
    err = quoted + "has " + std::to_string(fields.size()) + " field" +
          (fields.size() == 1 ? "" : "s") + "; " + std::string(kFieldsHelp);
    if (fields.size() == 5)
      err += " (for a classic 5-field expression, put '0 ' in front to fire at second 0)";
    if (fields.size() == 7) err += " (a year field is not supported)";
    return std::nullopt;
  }

  Schedule s;
  std::uint64_t bits[6];
  for (int i = 0; i < 6; ++i) {
    std::string problem;
    FieldParser parser(kFields[i], &problem);
    if (!parser.parse(fields[i], &bits[i])) {
      err = quoted + kFields[i].name + " field '" + std::string(fields[i]) + "': " + problem;
      return std::nullopt;
    }
  }
  s.seconds_ = bits[0];
  s.minutes_ = bits[1];
  s.hours_ = static_cast<std::uint32_t>(bits[2]);
  s.month_days_ = static_cast<std::uint32_t>(bits[3]);
  s.months_ = static_cast<std::uint16_t>(bits[4]);
  s.week_days_ = static_cast<std::uint8_t>(bits[5]);
  s.any_month_day_ = fields[3] == "*" || fields[3] == "?";
  s.any_week_day_ = fields[5] == "*" || fields[5] == "?";

  // Calendar-impossible expressions (only the day-of-month decides the day when the
  // day-of-week is unrestricted): reject now rather than search for years at run time.
  if (s.any_week_day_ && !s.any_month_day_) {
    bool possible = false;
    for (int m = 1; m <= 12 && !possible; ++m) {
      if (!(s.months_ >> m & 1)) continue;
      for (int d = 1; d <= kMaxMonthDays[m]; ++d)
        if (s.month_days_ >> d & 1) possible = true;
    }
    if (!possible) {
      err = quoted + "never fires: no month in month field '" + std::string(fields[4]) +
            "' has a day in day-of-month field '" + std::string(fields[3]) +
            "' (e.g. February has no day 30); fix the days or the months";
      return std::nullopt;
    }
  }

  s.zone_name_ = time_zone.empty() ? "UTC" : std::string(trim(time_zone));
  try {
    s.zone_ = date::locate_zone(s.zone_name_);
  } catch (const std::exception&) {
    s.zone_ = nullptr;
  }
  if (s.zone_ == nullptr) {
    err = quoted + "unknown time zone '" + s.zone_name_ +
          "'; use an IANA name such as UTC, Europe/Paris or America/New_York";
    return std::nullopt;
  }
  s.expr_ = std::string(text);
  return s;
}

bool Schedule::day_matches(int month_day, unsigned week_day) const {
  bool dom = month_days_ >> month_day & 1;
  bool dow = week_days_ >> week_day & 1;
  if (any_month_day_ || any_week_day_) return dom && dow;
  return dom || dow;
}

std::optional<std::int64_t> Schedule::next_local_match(std::int64_t from, int last_year) const {
  // Each step either returns or moves `t` forward to the start of the next unit (month,
  // day, hour, minute) that can still match, so whole months/days/hours are skipped.
  std::int64_t t = from;
  while (true) {
    const date::local_seconds lt{seconds{t}};
    const date::local_days day = date::floor<days>(lt);
    const date::year_month_day ymd{day};
    const int year = static_cast<int>(ymd.year());
    if (year > last_year) return std::nullopt;
    const int month = static_cast<int>(static_cast<unsigned>(ymd.month()));
    auto at = [](date::local_seconds l) { return l.time_since_epoch().count(); };

    if (!(months_ >> month & 1)) {
      const int m = next_bit(months_, month + 1);  // months_ holds bits 1-12 only
      const date::year_month_day next = m > 0 ? date::year{year} / m / 1
                                              : date::year{year + 1} / next_bit(months_, 1) / 1;
      t = at(date::local_days{next});
      continue;
    }
    const date::weekday wd{day};
    if (!day_matches(static_cast<int>(static_cast<unsigned>(ymd.day())), wd.c_encoding())) {
      t = at(day + days{1});
      continue;
    }
    const std::int64_t of_day = (lt - day).count();
    const int h = static_cast<int>(of_day / 3600);
    const int mi = static_cast<int>(of_day / 60 % 60);
    const int sec = static_cast<int>(of_day % 60);
    int h2 = next_bit(hours_, h);
    if (h2 < 0 || h2 > 23) {
      t = at(day + days{1});
      continue;
    }
    if (h2 > h) {
      t = at(day + hours{h2});
      continue;
    }
    int mi2 = next_bit(minutes_, mi);
    if (mi2 < 0) {
      t = at(day + hours{h + 1});
      continue;
    }
    if (mi2 > mi) {
      t = at(day + hours{h} + minutes{mi2});
      continue;
    }
    int sec2 = next_bit(seconds_, sec);
    if (sec2 < 0) {
      t = at(day + hours{h} + minutes{mi + 1});
      continue;
    }
    return at(day + hours{h} + minutes{mi} + seconds{sec2});
  }
}

std::chrono::system_clock::time_point Schedule::next_after(
    std::chrono::system_clock::time_point t) const {
  using std::chrono::system_clock;
  if (every_ > milliseconds::zero()) {
    if (t > kNever - every_) return kNever;
    return t + every_;
  }
  // The search may look kSearchYears ahead; whatever it finds must fit in a time_point
  // (system_clock counts nanoseconds here, so it ends in 2262).
  if (t > kNever - date::years{kSearchYears + 1}) return kNever;

  const date::sys_seconds start = date::floor<seconds>(t) + seconds{1};
  const date::local_seconds start_local = zone_->to_local(start);
  const int last_year =
      static_cast<int>(date::year_month_day{date::floor<days>(start_local)}.year()) +
      kSearchYears;

  std::int64_t from = start_local.time_since_epoch().count();
  while (true) {
    std::optional<std::int64_t> match = next_local_match(from, last_year);
    if (!match) return kNever;
    const date::local_seconds local{seconds{*match}};
    const date::local_info info = zone_->get_info(local);
    switch (info.result) {
      case date::local_info::unique: {
        date::sys_seconds sys{local.time_since_epoch() - info.first.offset};
        if (sys >= start) return sys;
        from = *match + 1;
        break;
      }
      case date::local_info::nonexistent:
        // In a spring-forward gap: resume at the first wall-clock second after it.
        from = (info.second.begin + info.second.offset).time_since_epoch().count();
        break;
      case date::local_info::ambiguous: {
        // Fires at the first occurrence only. If that is past, so is the first
        // occurrence of every repeated time: resume after the repeated span.
        date::sys_seconds first{local.time_since_epoch() - info.first.offset};
        if (first >= start) return first;
        from = (info.first.end + info.first.offset).time_since_epoch().count();
        break;
      }
    }
  }
}

std::string Schedule::describe() const {
  if (every_ > milliseconds::zero()) return "every " + format_duration(every_);
  return "cron '" + expr_ + "' (" + zone_name_ + ")";
}

}  // namespace sluice::host
