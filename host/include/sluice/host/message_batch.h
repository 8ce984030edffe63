// A batch of messages as the flow engine stores and moves them: one byte arena holding
// every string and value of the batch, one small record per message, and (built once
// the batch is complete) the ABI view a plugin's process() reads.
//
// Why an arena: a flow moves millions of small messages a second; one growing buffer
// per batch means no allocation per message once the batch's buffers are warm, and
// batches are recycled through a BatchPool so their buffers stay warm.
//
// Lifecycle: a producer appends messages (append / append_copy), then the batch moves
// through a queue to a consumer, which calls view() and hands the ABI batch to a
// plugin. Appending after view() invalidates the view (the arena may move).
//
// Thread-safety: none; a batch belongs to one thread at a time (queues hand it over).
#pragma once

#include <sluice/plugin.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::host {

class Lineage;

class MessageBatch {
 public:
  MessageBatch() = default;
  MessageBatch(const MessageBatch&) = delete;
  MessageBatch& operator=(const MessageBatch&) = delete;

  // Empties the batch, keeping its buffers' capacity.
  void clear();

  size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }

  // Appends one message built from a plugin's output, inheriting from `parent` (the
  // input it was emitted for, or null) as the ABI describes: keys unless given or
  // NO_KEYS, event time unless given, headers merged unless NO_INHERITED_HEADERS. The
  // output's tags are kept with the message (they chose its edge; the next stage sees
  // them). `id` is the message id (for derived messages, the parent's); `event_time`
  // is used when neither the output nor a parent sets one.
  void append(const sluice_output& out, const sluice_message* parent, std::string_view id,
              int64_t default_event_time, Lineage* lineage);

  // Appends a copy of message `index` of `other` (fan-out to a second edge, routing a
  // failed message to a fallback sink, splitting a batch by key).
  void append_copy(const MessageBatch& other, size_t index);

  // Drops the messages from `count` on (undoes appends made during a failed call).
  void truncate(size_t count);

  // The watermark carried by this batch (the producer's; SLUICE_TIME_UNSET if none):
  // after this batch, the producer sends no message with an event time before it. A
  // batch may carry only a watermark (no messages) when the producer has nothing to
  // send but its watermark moved (docs/reduce.md).
  int64_t watermark() const { return watermark_; }
  void set_watermark(int64_t w) { watermark_ = w; }
  // The index of the stage that produced the batch (-1: not set), so a stage with
  // several inputs can keep one watermark per input.
  int origin() const { return origin_; }
  void set_origin(int stage) { origin_ = stage; }

  // Lineage of message i (null when the flow does not track it).
  Lineage* lineage(size_t i) const { return records_[i].lineage; }

  // The ABI view of the whole batch, rebuilt if anything was appended since the last
  // call. Pointers stay valid until the next append, truncate or clear.
  const sluice_message* const* view();
  // The ABI message i (calls view() if needed).
  const sluice_message& message(size_t i) {
    view();
    return abi_messages_[i];
  }

  // The keys of message i, for hashing to a worker of an ordered stage.
  size_t key_count(size_t i) const { return records_[i].key_count; }
  std::string_view key(size_t i, size_t k) const {
    const Span& s = strs_[records_[i].keys_begin + k];
    return {arena_.data() + s.offset, s.size};
  }
  std::string_view id(size_t i) const {
    return {arena_.data() + records_[i].id.offset, records_[i].id.size};
  }
  std::string_view value(size_t i) const {
    return {arena_.data() + records_[i].value.offset, records_[i].value.size};
  }
  bool has_tag(size_t i, std::string_view tag) const;

  // Bytes held by the arena (for memory accounting in tests).
  size_t arena_bytes() const { return arena_.size(); }
  size_t arena_capacity() const { return arena_.capacity(); }

 private:
  struct Span {
    size_t offset = 0;
    size_t size = 0;
  };
  struct Record {
    Span id;
    Span value;
    uint32_t keys_begin = 0, key_count = 0;  // into strs_
    uint32_t tags_begin = 0, tag_count = 0;  // into strs_
    uint32_t headers_begin = 0, header_count = 0;  // pairs into strs_ (key, value)
    int64_t event_time = SLUICE_TIME_UNSET;
    Lineage* lineage = nullptr;
  };

  Span put(const void* data, size_t size);
  Span put(sluice_str s) { return put(s.data, s.size); }
  void add_str(Span s) { strs_.push_back(s); }
  sluice_str str(Span s) const { return {arena_.data() + s.offset, s.size}; }

  std::string arena_;
  std::vector<Record> records_;
  std::vector<Span> strs_;
  int64_t watermark_ = SLUICE_TIME_UNSET;
  int origin_ = -1;

  // The ABI view, valid while view_size_ == records_.size() and !view_stale_.
  std::vector<sluice_message> abi_messages_;
  std::vector<const sluice_message*> abi_pointers_;
  std::vector<sluice_str> abi_strs_;
  std::vector<sluice_header> abi_headers_;
  bool view_stale_ = true;
};

// Recycles batches so their buffers stay allocated (the hot path then allocates
// nothing). Thread-safe. Holds at most `max_idle` idle batches; more are freed, and so
// is a batch whose arena grew past kMaxPooledArena (one burst of huge values must not
// pin that memory for the rest of the run).
class BatchPool {
 public:
  static constexpr size_t kMaxPooledArena = 4u << 20;
  explicit BatchPool(size_t max_idle = 1024) : max_idle_(max_idle) {}
  std::unique_ptr<MessageBatch> get();
  void put(std::unique_ptr<MessageBatch> batch);

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<MessageBatch>> idle_;
  size_t max_idle_;
};

}  // namespace sluice::host
