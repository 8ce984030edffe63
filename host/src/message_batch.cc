#include "sluice/host/message_batch.h"

#include <cstring>

namespace sluice::host {

void MessageBatch::clear() {
  arena_.clear();
  records_.clear();
  strs_.clear();
  watermark_ = SLUICE_TIME_UNSET;
  origin_ = -1;
  view_stale_ = true;
}

MessageBatch::Span MessageBatch::put(const void* data, size_t size) {
  Span s{arena_.size(), size};
  if (size != 0) arena_.append(static_cast<const char*>(data), size);
  return s;
}

namespace {
bool same(sluice_str a, sluice_str b) {
  return a.size == b.size && (a.size == 0 || std::memcmp(a.data, b.data, a.size) == 0);
}
}  // namespace

void MessageBatch::append(const sluice_output& out, const sluice_message* parent,
                          std::string_view id, int64_t default_event_time, Lineage* lineage) {
  view_stale_ = true;
  Record r;
  r.lineage = lineage;
  r.id = put(id.data(), id.size());
  r.value = put(out.value.data, out.value.size);

  r.keys_begin = static_cast<uint32_t>(strs_.size());
  if (out.key_count > 0) {
    for (size_t k = 0; k < out.key_count; ++k) add_str(put(out.keys[k]));
    r.key_count = static_cast<uint32_t>(out.key_count);
  } else if (parent != nullptr && (out.flags & SLUICE_OUTPUT_NO_KEYS) == 0) {
    for (size_t k = 0; k < parent->key_count; ++k) add_str(put(parent->keys[k]));
    r.key_count = static_cast<uint32_t>(parent->key_count);
  }

  r.tags_begin = static_cast<uint32_t>(strs_.size());
  for (size_t t = 0; t < out.tag_count; ++t) add_str(put(out.tags[t]));
  r.tag_count = static_cast<uint32_t>(out.tag_count);

  r.headers_begin = static_cast<uint32_t>(strs_.size());
  if (parent != nullptr && (out.flags & SLUICE_OUTPUT_NO_INHERITED_HEADERS) == 0) {
    for (size_t h = 0; h < parent->header_count; ++h) {
      bool replaced = false;
      for (size_t o = 0; o < out.header_count && !replaced; ++o)
        replaced = same(parent->headers[h].key, out.headers[o].key);
      if (replaced) continue;
      add_str(put(parent->headers[h].key));
      add_str(put(parent->headers[h].value));
      ++r.header_count;
    }
  }
  for (size_t o = 0; o < out.header_count; ++o) {
    add_str(put(out.headers[o].key));
    add_str(put(out.headers[o].value));
    ++r.header_count;
  }

  if (out.event_time != SLUICE_TIME_UNSET && out.event_time != 0)
    r.event_time = out.event_time;
  else if (parent != nullptr && parent->event_time != SLUICE_TIME_UNSET)
    r.event_time = parent->event_time;
  else
    r.event_time = default_event_time;
  records_.push_back(r);
}

void MessageBatch::append_copy(const MessageBatch& other, size_t index) {
  view_stale_ = true;
  const Record& src = other.records_[index];
  Record r = src;
  auto copy = [&](Span s) { return put(other.arena_.data() + s.offset, s.size); };
  r.id = copy(src.id);
  r.value = copy(src.value);
  r.keys_begin = static_cast<uint32_t>(strs_.size());
  for (uint32_t k = 0; k < src.key_count; ++k) add_str(copy(other.strs_[src.keys_begin + k]));
  r.tags_begin = static_cast<uint32_t>(strs_.size());
  for (uint32_t t = 0; t < src.tag_count; ++t) add_str(copy(other.strs_[src.tags_begin + t]));
  r.headers_begin = static_cast<uint32_t>(strs_.size());
  for (uint32_t h = 0; h < 2 * src.header_count; ++h)
    add_str(copy(other.strs_[src.headers_begin + h]));
  records_.push_back(r);
}

void MessageBatch::truncate(size_t count) {
  if (count >= records_.size()) return;
  view_stale_ = true;
  const Record& first = records_[count];
  // Everything of records [count, end) was appended after everything of [0, count):
  // cut the arena and the string table where the first removed record began.
  arena_.resize(first.id.offset);
  strs_.resize(first.keys_begin);
  records_.resize(count);
}

bool MessageBatch::has_tag(size_t i, std::string_view tag) const {
  const Record& r = records_[i];
  for (uint32_t t = 0; t < r.tag_count; ++t) {
    const Span& s = strs_[r.tags_begin + t];
    if (std::string_view(arena_.data() + s.offset, s.size) == tag) return true;
  }
  return false;
}

const sluice_message* const* MessageBatch::view() {
  if (!view_stale_) return abi_pointers_.data();
  const size_t n = records_.size();
  abi_messages_.resize(n);
  abi_pointers_.resize(n);
  abi_strs_.resize(strs_.size());
  for (size_t i = 0; i < strs_.size(); ++i) abi_strs_[i] = str(strs_[i]);
  abi_headers_.clear();
  for (size_t i = 0; i < n; ++i) {
    const Record& r = records_[i];
    sluice_message& m = abi_messages_[i];
    m.struct_size = sizeof(sluice_message);
    m.id = str(r.id);
    m.keys = r.key_count ? &abi_strs_[r.keys_begin] : nullptr;
    m.key_count = r.key_count;
    m.value = {reinterpret_cast<const uint8_t*>(arena_.data() + r.value.offset), r.value.size};
    m.event_time = r.event_time;
    m.watermark = watermark_;
    m.tags = r.tag_count ? &abi_strs_[r.tags_begin] : nullptr;
    m.tag_count = r.tag_count;
    m.header_count = r.header_count;
    m.headers = nullptr;
    abi_pointers_[i] = &m;
  }
  // Headers are pairs in strs_; the ABI wants sluice_header structs. Built after the
  // loop above so that abi_headers_ does not move under pointers already handed out.
  size_t total_headers = 0;
  for (const Record& r : records_) total_headers += r.header_count;
  if (total_headers > 0) {
    abi_headers_.resize(total_headers);
    size_t next = 0;
    for (size_t i = 0; i < n; ++i) {
      const Record& r = records_[i];
      if (r.header_count == 0) continue;
      abi_messages_[i].headers = &abi_headers_[next];
      for (uint32_t h = 0; h < r.header_count; ++h)
        abi_headers_[next++] = {abi_strs_[r.headers_begin + 2 * h],
                                abi_strs_[r.headers_begin + 2 * h + 1]};
    }
  }
  view_stale_ = false;
  return abi_pointers_.data();
}

std::unique_ptr<MessageBatch> BatchPool::get() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<MessageBatch> b = std::move(idle_.back());
      idle_.pop_back();
      return b;
    }
  }
  return std::make_unique<MessageBatch>();
}

void BatchPool::put(std::unique_ptr<MessageBatch> batch) {
  if (!batch || batch->arena_capacity() > kMaxPooledArena) return;
  batch->clear();
  std::lock_guard<std::mutex> lock(mutex_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(batch));
}

}  // namespace sluice::host
