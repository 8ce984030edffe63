#include "sluice/serving/request_id.h"

#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

namespace sluice::serving {

namespace {

// Fills `out` from the kernel's CSPRNG (getrandom(2), blocking only until the pool is
// first initialized at boot).
void random_bytes(void* out, size_t size) {
  auto* p = static_cast<unsigned char*>(out);
  while (size > 0) {
    const ssize_t n = ::getrandom(p, size, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom failed: ") + std::strerror(errno));
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

// Random bits come from a per-thread buffer refilled 4 KiB at a time, so an id costs a
// syscall only once per 512 ids.
uint64_t random_u64() {
  constexpr size_t kWords = 512;
  thread_local uint64_t buffer[kWords];
  thread_local size_t next = kWords;
  if (next == kWords) {
    random_bytes(buffer, sizeof buffer);
    next = 0;
  }
  const uint64_t value = buffer[next];
  buffer[next++] = 0;  // do not keep used randomness around
  return value;
}

// The (millisecond, sequence) of the last id made by this process. The sequence is a
// 26-bit counter (RFC 9562 section 6.2, method 1): its high 12 bits are rand_a, its low
// 14 bits the top of rand_b. A new millisecond starts it at a random value below 2^25,
// leaving at least 2^25 ids of room; within a millisecond (or when the clock steps
// back) it counts up, and if it ever ran out the timestamp would move one millisecond
// ahead. Ids therefore strictly increase in the order they are made.
struct Clock {
  std::mutex mutex;
  uint64_t last_ms = 0;
  uint64_t sequence = 0;
};

constexpr uint64_t kSequenceBits = 26;
constexpr uint64_t kSequenceMax = (uint64_t{1} << kSequenceBits) - 1;
uint64_t fresh_sequence() { return random_u64() & (kSequenceMax >> 1); }

Clock& clock_state() {
  static Clock clock;
  return clock;
}

uint64_t now_ms() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

std::string at_byte(size_t i) { return " at byte " + std::to_string(i + 1); }

}  // namespace

std::optional<std::string> validate_request_id(std::string_view id) {
  if (id.empty()) return "the request id is empty";
  if (id.size() > kMaxRequestIdBytes)
    return "the request id is " + std::to_string(id.size()) + " bytes long; the limit is " +
           std::to_string(kMaxRequestIdBytes);
  for (size_t i = 0; i < id.size();) {
    const unsigned char c = id[i];
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7F) return "the request id has a control character" + at_byte(i);
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code = 0;
    uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      length = 2, code = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3, code = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4, code = c & 0x07, min = 0x10000;
    } else {
      return "the request id is not valid UTF-8" + at_byte(i);
    }
    if (i + length > id.size()) return "the request id is not valid UTF-8" + at_byte(i);
    for (size_t k = 1; k < length; ++k) {
      const unsigned char next = id[i + k];
      if (!is_continuation(next)) return "the request id is not valid UTF-8" + at_byte(i);
      code = (code << 6) | (next & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
      return "the request id is not valid UTF-8" + at_byte(i);
    if (code >= 0x80 && code <= 0x9F) return "the request id has a control character" + at_byte(i);
    i += length;
  }
  return std::nullopt;
}

std::string generate_request_id() {
  uint64_t ms = 0;
  uint64_t sequence = 0;
  {
    Clock& clock = clock_state();
    const uint64_t now = now_ms();
    std::lock_guard lock(clock.mutex);
    if (now > clock.last_ms) {
      clock.last_ms = now;
      clock.sequence = fresh_sequence();
    } else if (++clock.sequence > kSequenceMax) {
      ++clock.last_ms;
      clock.sequence = fresh_sequence();
    }
    ms = clock.last_ms;
    sequence = clock.sequence;
  }
  // unix_ts_ms (48) | ver (4) | rand_a = sequence high 12 bits
  const uint64_t high =
      ((ms & 0xFFFF'FFFF'FFFFull) << 16) | (uint64_t{0x7} << 12) | (sequence >> 14);
  // var (2) | sequence low 14 bits | 48 random bits
  const uint64_t low = (uint64_t{0x2} << 62) | ((sequence & 0x3FFF) << 48) |
                       (random_u64() & 0xFFFF'FFFF'FFFFull);

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t at = 0;
  const auto put = [&](uint64_t word, int nibbles_from, int nibbles_to) {
    for (int n = nibbles_from; n < nibbles_to; ++n) {
      if (at == 8 || at == 13 || at == 18 || at == 23) ++at;
      out[at++] = kHex[(word >> (60 - 4 * n)) & 0xF];
    }
  };
  put(high, 0, 16);
  put(low, 0, 16);
  return out;
}

}  // namespace sluice::serving
