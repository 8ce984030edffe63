// Request ids: what a client may send in the id header (or `?id=`), and the ids the
// server makes up when it sends none (docs/serving.md, "Request ids").
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::serving {

// The longest id accepted, in bytes (UTF-8). Ids are stored and indexed, and echoed in
// headers and events; 256 leaves room for any UUID, ULID or composite key.
inline constexpr size_t kMaxRequestIdBytes = 256;

// nullopt when `id` is acceptable; otherwise why not, in one sentence fit for a 400
// response body. Refused: empty, longer than kMaxRequestIdBytes, not valid UTF-8
// (overlong forms, surrogates and code points above U+10FFFF included), or holding a
// control character (U+0000-U+001F, U+007F, U+0080-U+009F). Everything else, spaces and
// '.' included, is accepted as sent.
std::optional<std::string> validate_request_id(std::string_view id);

// A new UUIDv7 (RFC 9562), lower-case 8-4-4-4-12 hex: a 48-bit Unix time in
// milliseconds, version 7, a 26-bit counter in rand_a and the top of rand_b (random at
// each new millisecond, counted up within one, so ids from this process strictly
// increase in the order they are made, across threads), the RFC variant, and 48 random
// bits from getrandom(2). Thread-safe.
std::string generate_request_id();

}  // namespace sluice::serving
