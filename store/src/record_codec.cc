#include "record_codec.h"

#include <chrono>
#include <cstdint>

namespace sluice::store {
namespace {

void put_uint(std::string& out, uint64_t x, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}

bool get_uint(std::string_view& in, int bytes, uint64_t* v) {
  if (in.size() < static_cast<size_t>(bytes)) return false;
  uint64_t x = 0;
  for (int i = 0; i < bytes; ++i) x |= static_cast<uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  in.remove_prefix(static_cast<size_t>(bytes));
  *v = x;
  return true;
}

void put_string(std::string& out, std::string_view s) {
  put_uint(out, s.size(), 4);
  out += s;
}

bool get_string(std::string_view& in, std::string* s) {
  uint64_t n = 0;
  if (!get_uint(in, 4, &n) || in.size() < n) return false;
  s->assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}

void put_time(std::string& out, Time t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  put_uint(out, static_cast<uint64_t>(us), 8);
}

bool get_time(std::string_view& in, Time* t) {
  uint64_t us = 0;
  if (!get_uint(in, 8, &us)) return false;
  *t = Time(std::chrono::duration_cast<Time::duration>(
      std::chrono::microseconds(static_cast<int64_t>(us))));
  return true;
}

// The shared shape: a count, then `min_size`-byte-or-larger elements. A damaged count
// cannot make us reserve gigabytes: it is checked against what the blob can hold.
template <typename T, typename Read>
bool decode_list(std::string_view blob, size_t min_size, std::vector<T>* out, Read read) {
  if (blob.empty()) return true;
  uint64_t count = 0;
  if (!get_uint(blob, 4, &count) || count > blob.size() / min_size) return false;
  out->reserve(out->size() + count);
  for (uint64_t i = 0; i < count; ++i) {
    T item;
    if (!read(blob, &item)) return false;
    out->push_back(std::move(item));
  }
  return blob.empty();
}

}  // namespace

std::string encode_headers(const std::vector<Header>& headers) {
  size_t size = 4;
  for (const auto& [name, value] : headers) size += 8 + name.size() + value.size();
  std::string out;
  out.reserve(size);
  put_uint(out, headers.size(), 4);
  for (const auto& [name, value] : headers) {
    put_string(out, name);
    put_string(out, value);
  }
  return out;
}

std::string encode_results(const std::vector<Result>& results) {
  size_t size = 4;
  for (const Result& r : results) size += 8 + r.stage.size() + r.value.size();
  std::string out;
  out.reserve(size);
  put_uint(out, results.size(), 4);
  for (const Result& r : results) {
    put_string(out, r.stage);
    put_string(out, r.value);
  }
  return out;
}

std::string encode_steps(const std::vector<Step>& path) {
  size_t size = 4;
  for (const Step& s : path) size += 20 + s.stage.size();
  std::string out;
  out.reserve(size);
  put_uint(out, path.size(), 4);
  for (const Step& s : path) {
    put_string(out, s.stage);
    put_time(out, s.start);
    put_time(out, s.end);
  }
  return out;
}

bool decode_headers(std::string_view blob, std::vector<Header>* out) {
  return decode_list(blob, 8, out, [](std::string_view& in, Header* h) {
    return get_string(in, &h->first) && get_string(in, &h->second);
  });
}

bool decode_results(std::string_view blob, std::vector<Result>* out) {
  return decode_list(blob, 8, out, [](std::string_view& in, Result* r) {
    return get_string(in, &r->stage) && get_string(in, &r->value);
  });
}

bool decode_steps(std::string_view blob, std::vector<Step>* out) {
  return decode_list(blob, 20, out, [](std::string_view& in, Step* s) {
    return get_string(in, &s->stage) && get_time(in, &s->start) && get_time(in, &s->end);
  });
}

}  // namespace sluice::store
