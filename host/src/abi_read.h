// Reading plugin-owned ABI structs safely across minor versions.
#pragma once

#include <cstddef>
#include <cstring>

namespace sluice::host {

// Copies a plugin's struct of its own compiled size (`in->struct_size`) into a zeroed
// host-sized one, so fields the plugin does not know read as zero and nothing past its
// struct_size is ever read. False when `in` is null or smaller than `required` bytes.
template <class T>
bool read_sized(const T* in, T* out, size_t required) {
  if (in == nullptr || in->struct_size < required) return false;
  // A struct_size that ends inside a field must not give half a pointer: round down to
  // a pointer boundary (every growable field after the first 8 bytes is pointer-aligned).
  size_t size = in->struct_size < sizeof(T) ? in->struct_size : sizeof(T);
  if (size > 8) size &= ~(alignof(void*) - 1);
  std::memset(static_cast<void*>(out), 0, sizeof(T));
  std::memcpy(static_cast<void*>(out), in, size);
  return true;
}

// The size of a struct up to and including `member`, for `required` above.
#define SLUICE_SIZE_THROUGH(T, member) (offsetof(T, member) + sizeof(((T*)nullptr)->member))

}  // namespace sluice::host
