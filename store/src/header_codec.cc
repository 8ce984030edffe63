#include "header_codec.h"

#include <cstdint>

namespace sluice::store {
namespace {

void put_u32(std::string& out, size_t v) {
  auto x = static_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}

bool get_u32(std::string_view& in, uint32_t* v) {
  if (in.size() < 4) return false;
  uint32_t x = 0;
  for (int i = 0; i < 4; ++i) x |= static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  in.remove_prefix(4);
  *v = x;
  return true;
}

bool get_string(std::string_view& in, std::string* s) {
  uint32_t n = 0;
  if (!get_u32(in, &n) || in.size() < n) return false;
  s->assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}

}  // namespace

std::string encode_headers(const std::vector<Header>& headers) {
  size_t size = 4;
  for (const auto& [name, value] : headers) size += 8 + name.size() + value.size();
  std::string out;
  out.reserve(size);
  put_u32(out, headers.size());
  for (const auto& [name, value] : headers) {
    put_u32(out, name.size());
    out += name;
    put_u32(out, value.size());
    out += value;
  }
  return out;
}

bool decode_headers(std::string_view blob, std::vector<Header>* out) {
  out->clear();
  if (blob.empty()) return true;
  uint32_t count = 0;
  if (!get_u32(blob, &count)) return false;
  // Each header takes at least 8 bytes: a damaged count cannot make us reserve gigabytes.
  if (count > blob.size() / 8) return false;
  out->reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    Header h;
    if (!get_string(blob, &h.first) || !get_string(blob, &h.second)) return false;
    out->push_back(std::move(h));
  }
  return blob.empty();
}

}  // namespace sluice::store
