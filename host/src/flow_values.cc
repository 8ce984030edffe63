#include "sluice/host/flow_values.h"

#include <limits>

namespace sluice::host {

namespace {

// Exact arithmetic: "1.5m" must become exactly 90s, which binary floating point cannot
// promise for every decimal fraction. 24 significant digits times the largest unit
// (3.6e12 ns in an hour) stays far below 2^128.
__extension__ typedef unsigned __int128 uint128;
constexpr int kMaxDigits = 24;

struct Unit {
  std::string_view name;
  uint64_t scale;
};

constexpr Unit kDurationUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
};
constexpr const char* kDurationUnitList = "units: ns, us, ms, s, m, h";

constexpr Unit kSizeUnits[] = {
    {"B", 1},
    {"kB", 1'000},
    {"MB", 1'000'000},
    {"GB", 1'000'000'000},
    {"TB", 1'000'000'000'000},
    {"KiB", uint64_t{1} << 10},
    {"MiB", uint64_t{1} << 20},
    {"GiB", uint64_t{1} << 30},
    {"TiB", uint64_t{1} << 40},
};
constexpr const char* kSizeUnitList = "units: B, kB, MB, GB, TB, KiB, MiB, GiB, TiB";

// A decimal number read from the front of a value: digits / divisor.
struct Decimal {
  uint128 digits = 0;
  uint128 divisor = 1;
  size_t length = 0;      // characters used; 0 when there was no number
  bool too_long = false;  // more than kMaxDigits significant digits
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads "12", "1.5", ".5" or "5." (no sign, no exponent).
Decimal read_decimal(std::string_view text) {
  Decimal number;
  int significant = 0;
  bool any_digit = false;
  bool in_fraction = false;
  size_t i = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.' && !in_fraction) {
      in_fraction = true;
      continue;
    }
    if (!is_digit(c)) break;
    any_digit = true;
    if (number.digits != 0 || c != '0') ++significant;
    if (significant > kMaxDigits || (in_fraction && number.divisor > uint128{1} << 100)) {
      number.too_long = true;
      continue;
    }
    number.digits = number.digits * 10 + (c - '0');
    if (in_fraction) number.divisor *= 10;
  }
  number.length = any_digit ? i : 0;
  return number;
}

const Unit* find_unit(const Unit* begin, const Unit* end, std::string_view name) {
  for (const Unit* u = begin; u != end; ++u) {
    if (u->name == name) return u;
  }
  return nullptr;
}

enum class Scaled { kOk, kFraction, kTooLarge };

// number * unit, which must be whole and at most `max`.
Scaled apply_unit(const Decimal& number, uint64_t unit, uint64_t max, uint64_t* out) {
  uint128 total = number.digits * unit;
  if (total % number.divisor != 0) return Scaled::kFraction;
  total /= number.divisor;
  if (total > max) return Scaled::kTooLarge;
  *out = static_cast<uint64_t>(total);
  return Scaled::kOk;
}

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

}  // namespace

bool parse_duration(std::string_view text, std::chrono::nanoseconds* out, ValueError* error) {
  const std::string shown = quoted(text);
  if (!text.empty() && text.front() == '-') {
    *error = {shown + " is negative", "durations cannot be negative"};
    return false;
  }
  const Decimal number = read_decimal(text);
  if (number.length == 0) {
    *error = {shown + " is not a duration",
              "write a number and a unit, e.g. 250ms, 2s, 1.5m; " + std::string(kDurationUnitList)};
    return false;
  }
  if (number.too_long) {
    *error = {shown + " has too many digits", ""};
    return false;
  }
  const std::string_view unit_name = text.substr(number.length);
  uint64_t scale = 0;
  if (unit_name.empty()) {
    // Zero is zero in any unit; for anything else, guessing seconds (or milliseconds)
    // would silently be wrong for half the readers.
    if (number.digits == 0) {
      *out = std::chrono::nanoseconds(0);
      return true;
    }
    *error = {shown + " has no unit", "add a unit, e.g. " + std::string(text) + "s"};
    return false;
  }
  const Unit* unit = find_unit(std::begin(kDurationUnits), std::end(kDurationUnits), unit_name);
  if (unit == nullptr) {
    *error = {"unknown unit " + quoted(unit_name) + " in " + shown, kDurationUnitList};
    return false;
  }
  switch (apply_unit(number, unit->scale, std::numeric_limits<int64_t>::max(), &scale)) {
    case Scaled::kOk:
      *out = std::chrono::nanoseconds(static_cast<int64_t>(scale));
      return true;
    case Scaled::kFraction:
      *error = {shown + " is not a whole number of nanoseconds", ""};
      return false;
    case Scaled::kTooLarge:
      *error = {shown + " is too long", "durations go up to about 292 years"};
      return false;
  }
  return false;
}

bool parse_byte_size(std::string_view text, uint64_t* bytes, ValueError* error) {
  const std::string shown = quoted(text);
  if (!text.empty() && text.front() == '-') {
    *error = {shown + " is negative", "sizes cannot be negative"};
    return false;
  }
  const Decimal number = read_decimal(text);
  if (number.length == 0) {
    *error = {shown + " is not a size",
              "write a number of bytes and a unit, e.g. 512B, 64KiB, 16MiB; " +
                  std::string(kSizeUnitList)};
    return false;
  }
  if (number.too_long) {
    *error = {shown + " has too many digits", ""};
    return false;
  }
  const std::string_view unit_name = text.substr(number.length);
  uint64_t scale = 1;
  if (!unit_name.empty()) {
    const Unit* unit = find_unit(std::begin(kSizeUnits), std::end(kSizeUnits), unit_name);
    if (unit == nullptr) {
      *error = {"unknown unit " + quoted(unit_name) + " in " + shown, kSizeUnitList};
      return false;
    }
    scale = unit->scale;
  }
  switch (apply_unit(number, scale, std::numeric_limits<uint64_t>::max(), bytes)) {
    case Scaled::kOk:
      return true;
    case Scaled::kFraction:
      *error = {shown + " is not a whole number of bytes", ""};
      return false;
    case Scaled::kTooLarge:
      *error = {shown + " is too large", "sizes go up to 2^64 - 1 bytes"};
      return false;
  }
  return false;
}

}  // namespace sluice::host
