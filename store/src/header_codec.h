// Request headers as one stored blob: a count, then each name and value with its length,
// every integer 4 bytes little-endian. One blob (not a table) because headers are written
// once with the request and always read whole with it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sluice/store/request_store.h"

namespace sluice::store {

std::string encode_headers(const std::vector<Header>& headers);
// False when `blob` is not a valid encoding (a damaged file).
bool decode_headers(std::string_view blob, std::vector<Header>* out);

}  // namespace sluice::store
