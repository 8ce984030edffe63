// Values written with a unit in flow files: durations ("250ms", "1.5m") and byte sizes
// ("64KiB", "2MB"). The flow loader maps them onto google.protobuf.Duration and
// sluice.flow.ByteSize; they live apart from it so command-line flags can accept the
// same spellings.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::host {

// Why a value was rejected: one line, plus how to fix it (may be empty).
struct ValueError {
  std::string message;
  std::string hint;
};

// A non-negative decimal number followed by a unit: ns, us, ms, s, m or h ("250ms",
// "1.5m", "100us"). A bare zero needs no unit; any other bare number is rejected because
// its unit would be a guess. The result must be a whole number of nanoseconds and fit in
// std::chrono::nanoseconds (about 292 years).
// Returns false and fills *error when `text` is not such a duration.
bool parse_duration(std::string_view text, std::chrono::nanoseconds* out, ValueError* error);

// A non-negative decimal number of bytes, optionally followed by a unit: B, kB, MB, GB,
// TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024). "1.5KiB" is allowed as
// long as the result is a whole number of bytes.
// Returns false and fills *error when `text` is not such a size.
bool parse_byte_size(std::string_view text, uint64_t* bytes, ValueError* error);

}  // namespace sluice::host
