// Helpers for host tests: a CallSink that records everything, and input batches.
#pragma once

#include <sluice/plugin.h>

#include <deque>
#include <string>
#include <vector>

#include "sluice/host/call_context.h"

namespace sluice::test {

struct Emitted {
  size_t input;
  std::string value;
  bool keys_inherited;
  std::vector<std::string> keys;
  std::vector<std::string> tags;
};

class RecordingSink : public host::CallSink {
 public:
  void on_emit(size_t input, const sluice_output& out) override {
    Emitted e{input, std::string(reinterpret_cast<const char*>(out.value.data), out.value.size),
              out.key_count == 0 && (out.flags & SLUICE_OUTPUT_NO_KEYS) == 0, {}, {}};
    for (size_t i = 0; i < out.key_count; ++i) e.keys.emplace_back(out.keys[i].data, out.keys[i].size);
    for (size_t i = 0; i < out.tag_count; ++i) e.tags.emplace_back(out.tags[i].data, out.tags[i].size);
    emitted.push_back(std::move(e));
    event_times.push_back(out.event_time);
  }
  void on_respond(size_t input, sluice_bytes value) override {
    responses.emplace_back(input, std::string(reinterpret_cast<const char*>(value.data), value.size));
  }
  void on_outcome(size_t input, sluice_outcome outcome, std::string_view reason) override {
    outcomes.push_back({input, outcome, std::string(reason)});
  }
  std::vector<std::string> values() const {
    std::vector<std::string> v;
    for (const auto& e : emitted) v.push_back(e.value);
    return v;
  }

  struct Outcome {
    size_t input;
    sluice_outcome outcome;
    std::string reason;
  };
  std::vector<Emitted> emitted;
  std::vector<int64_t> event_times;  // as the host passed them (inherit: TIME_UNSET)
  std::vector<std::pair<size_t, std::string>> responses;
  std::vector<Outcome> outcomes;
};

// A batch of messages with the given values; ids are "0", "1", ...
class TestBatch {
 public:
  explicit TestBatch(std::vector<std::string> values) : values_(std::move(values)) {
    for (size_t i = 0; i < values_.size(); ++i) ids_.push_back(std::to_string(i));
    for (size_t i = 0; i < values_.size(); ++i) {
      sluice_message m{};
      m.struct_size = sizeof(m);
      m.id = {ids_[i].data(), ids_[i].size()};
      m.value = {reinterpret_cast<const uint8_t*>(values_[i].data()), values_[i].size()};
      m.event_time = 1000 + static_cast<int64_t>(i);
      m.watermark = SLUICE_TIME_UNSET;
      messages_.push_back(m);
    }
    for (auto& m : messages_) pointers_.push_back(&m);
    batch_.struct_size = sizeof(batch_);
    batch_.messages = pointers_.data();
    batch_.count = pointers_.size();
    batch_.watermark = batch_.window_start = batch_.window_end = SLUICE_TIME_UNSET;
    batch_.max_messages = 16;
    batch_.budget_us = 1000;
  }
  const sluice_batch& get() const { return batch_; }

 private:
  std::vector<std::string> values_;
  std::deque<std::string> ids_;
  std::deque<sluice_message> messages_;
  std::vector<const sluice_message*> pointers_;
  sluice_batch batch_{};
};

}  // namespace sluice::test
