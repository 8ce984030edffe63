// The parts of a request record that are stored as one blob each, because they are
// written once and always read whole with their request: the headers (with the request),
// and the results and path (with the outcome, see RequestStore::finish). Every integer
// is little-endian: a count, then each element's fields, a string as its 4-byte length
// and bytes, a time as 8 bytes of microseconds since the Unix epoch.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sluice/store/request_store.h"

namespace sluice::store {

std::string encode_headers(const std::vector<Header>& headers);
std::string encode_results(const std::vector<Result>& results);
std::string encode_steps(const std::vector<Step>& path);

// Each appends to *out; false when `blob` is not a valid encoding (a damaged file).
// An empty blob is an empty list.
bool decode_headers(std::string_view blob, std::vector<Header>* out);
bool decode_results(std::string_view blob, std::vector<Result>* out);
bool decode_steps(std::string_view blob, std::vector<Step>* out);

}  // namespace sluice::store
