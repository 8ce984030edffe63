#include "stage_emitter.h"

#include <charconv>
#include <cstring>

namespace sluice::host {
namespace {

constexpr uint32_t kNoOrigin = UINT32_MAX;  // outputs of finish(): no input, no lineage

bool equals(sluice_str s, std::string_view v) {
  return s.size == v.size() && (s.size == 0 || std::memcmp(s.data, v.data(), s.size) == 0);
}

bool has_tag(const sluice_output& out, std::string_view tag) {
  for (size_t t = 0; t < out.tag_count; ++t)
    if (equals(out.tags[t], tag)) return true;
  return false;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

StageEmitter::StageEmitter(FlowRuntime::State& flow, StageRuntime& stage, uint32_t worker_index,
                           AckInbox* inbox)
    : flow_(flow), stage_(stage), inbox_(inbox),
      is_source_(stage.plan->kind == SLUICE_KIND_SOURCE) {
  auto make_lanes = [&](const Route& r) {
    std::vector<Lane> lanes(r.target->lanes.size());
    for (size_t l = 0; l < lanes.size(); ++l) {
      lanes[l].queue = r.target->lanes[l].get();
      lanes[l].edge = r.metrics;
      lanes[l].batch = flow_.pool.get();
      lanes[l].wants_watermarks = r.target->plan->feeds_reduce || r.target->plan->kind == SLUICE_KIND_REDUCE;
    }
    return lanes;
  };
  for (const Route& r : stage.routes) route_lanes_.push_back(make_lanes(r));
  if (stage.fallback) fallback_lanes_ = make_lanes(*stage.fallback);
  if (stage.plan->threads > 1) id_prefix_ = std::to_string(worker_index) + "-";
  if (id_prefix_.size() < sizeof id_buf_) std::memcpy(id_buf_, id_prefix_.data(), id_prefix_.size());
}

StageEmitter::~StageEmitter() {
  for_each_lane([&](Lane& lane) { flow_.pool.put(std::move(lane.batch)); });
}

void StageEmitter::for_each_lane(const std::function<void(Lane&)>& fn) {
  for (auto& lanes : route_lanes_)
    for (Lane& lane : lanes) fn(lane);
  for (Lane& lane : fallback_lanes_) fn(lane);
}

void StageEmitter::register_producer() {
  for_each_lane([](Lane& lane) { lane.queue->add_producer(); });
}

void StageEmitter::producers_done() {
  for_each_lane([](Lane& lane) { lane.queue->producer_done(); });
}

void StageEmitter::begin_call(MessageBatch* input, const uint32_t* index_map, size_t count,
                              bool finishing) {
  reset_call(input, index_map, count, finishing);
  call_time_ms_ = wall_ms();
}

void StageEmitter::reset_call(MessageBatch* input, const uint32_t* index_map, size_t count,
                              bool finishing) {
  input_ = input;
  window_parent_ = nullptr;
  window_lineage_ = nullptr;
  call_max_event_time_ = SLUICE_TIME_UNSET;
  finishing_ = finishing;
  index_map_ = index_map;
  input_view_ = input != nullptr ? input->view() : nullptr;
  input_count_ = count;
  call_lineages_.clear();
  response_count_ = 0;
  outcomes_.assign(count, SLUICE_OUTCOME_OK);
  if (reasons_.size() < count) reasons_.resize(count);
  for (size_t i : touched_reasons_) reasons_[i].clear();
  touched_reasons_.clear();
  for (auto& lanes : route_lanes_)
    for (Lane& lane : lanes) {
      lane.mark = lane.batch->size();
      lane.origin.clear();
    }
}

void StageEmitter::begin_window_call(const sluice_message* parent, Lineage* lineage) {
  // No wall-clock read: every output of a window call has the parent's event time
  // (window_end - 1) unless it sets its own, so call_time_ms_ is never used, and this
  // runs about once per message in a reduce with many keys.
  reset_call(nullptr, nullptr, 1, false);
  window_parent_ = parent;
  window_lineage_ = lineage;
}

uint64_t StageEmitter::key_hash(const sluice_output& out, const sluice_message* parent) const {
  // FNV-1a over the keys, with a separator so ["ab"] and ["a", "b"] differ.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](sluice_str s) {
    for (size_t i = 0; i < s.size; ++i) h = (h ^ static_cast<unsigned char>(s.data[i])) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  if (out.key_count > 0) {
    for (size_t k = 0; k < out.key_count; ++k) mix(out.keys[k]);
  } else if (parent != nullptr && (out.flags & SLUICE_OUTPUT_NO_KEYS) == 0) {
    for (size_t k = 0; k < parent->key_count; ++k) mix(parent->keys[k]);
  }
  return h;
}

bool StageEmitter::matches(const EdgePlan& edge, const sluice_output& out) const {
  if (!edge.conditional) return true;
  size_t found = 0;
  for (const std::string& tag : edge.tags) found += has_tag(out, tag) ? 1 : 0;
  switch (edge.match) {
    case TagMatchMode::kAny: return found > 0;
    case TagMatchMode::kAll: return found == edge.tags.size();
    case TagMatchMode::kNone: return found == 0;
  }
  return false;
}

void StageEmitter::append(Lane& lane, const sluice_output& out, const sluice_message* parent,
                          std::string_view id, Lineage* lineage, uint32_t origin) {
  lane.batch->append(out, parent, id, call_time_ms_, lineage);
  lane.origin.push_back(origin);
}

void StageEmitter::on_emit(size_t input_index, const sluice_output& out) {
  const sluice_message* parent = nullptr;
  Lineage* lineage = nullptr;
  std::string_view id;
  uint32_t origin = kNoOrigin;
  if (is_source_) {
    if (out.id.size > 0) {
      id = std::string_view(out.id.data, out.id.size);
    } else {
      char* end = std::to_chars(id_buf_ + id_prefix_.size(), id_buf_ + sizeof id_buf_, next_id_++).ptr;
      id = std::string_view(id_buf_, static_cast<size_t>(end - id_buf_));
    }
    origin = static_cast<uint32_t>(call_lineages_.size());
    call_lineages_.push_back(inbox_ != nullptr && !finishing_ ? inbox_->make(id) : nullptr);
    lineage = call_lineages_.back();
    const int64_t event_time = out.event_time != SLUICE_TIME_UNSET ? out.event_time : call_time_ms_;
    if (call_max_event_time_ == SLUICE_TIME_UNSET || event_time > call_max_event_time_)
      call_max_event_time_ = event_time;
  } else if (window_parent_ != nullptr) {
    parent = window_parent_;
    lineage = window_lineage_;
    id = std::string_view(parent->id.data, parent->id.size);
    origin = 0;
  } else if (input_index != SLUICE_NO_INPUT && input_ != nullptr) {
    parent = input_view_[index_map_ ? index_map_[input_index] : input_index];
    lineage = input_->lineage(index_map_ ? index_map_[input_index] : input_index);
    id = std::string_view(parent->id.data, parent->id.size);
    origin = static_cast<uint32_t>(input_index);
  } else {
    char* end = std::to_chars(id_buf_ + id_prefix_.size(), id_buf_ + sizeof id_buf_, next_id_++).ptr;
    id = std::string_view(id_buf_, static_cast<size_t>(end - id_buf_));
  }
  if (has_tag(out, SLUICE_TAG_DROP)) return;  // counted at commit (no copies)
  for (size_t r = 0; r < stage_.routes.size(); ++r) {
    if (!matches(*stage_.routes[r].edge, out)) continue;
    std::vector<Lane>& lanes = route_lanes_[r];
    Lane& lane = lanes.size() == 1 ? lanes[0] : lanes[key_hash(out, parent) % lanes.size()];
    append(lane, out, parent, id, lineage, origin);
  }
}

void StageEmitter::on_respond(size_t input_index, sluice_bytes value) {
  if (response_count_ == responses_.size()) responses_.emplace_back();
  Response& r = responses_[response_count_++];
  r.input = input_index;
  if (flow_.observer != nullptr)
    r.value.assign(value.data != nullptr ? reinterpret_cast<const char*>(value.data) : "", value.size);
}

void StageEmitter::on_outcome(size_t input_index, sluice_outcome outcome, std::string_view reason) {
  outcomes_[input_index] = outcome;
  if (outcome != SLUICE_OUTCOME_OK && !reason.empty()) {
    reasons_[input_index].assign(reason.data(), reason.size());
    touched_reasons_.push_back(input_index);
  }
}

void StageEmitter::rollback() {
  for (auto& lanes : route_lanes_)
    for (Lane& lane : lanes) {
      lane.batch->truncate(lane.mark);
      lane.origin.clear();
    }
  for (Lineage* l : call_lineages_)
    if (l != nullptr) inbox_->cancel(l);
  call_lineages_.clear();
  response_count_ = 0;
}

size_t StageEmitter::commit(const std::vector<uint8_t>* failed_inputs) {
  if (window_parent_ != nullptr && failed_inputs == nullptr && response_count_ == 0)
    return commit_window();
  const size_t origins = is_source_ ? call_lineages_.size() : input_count_;
  copies_.assign(origins, 0);
  size_t kept = 0;
  for (auto& lanes : route_lanes_)
    for (Lane& lane : lanes) {
      if (failed_inputs != nullptr && !lane.origin.empty()) {
        // Drop the outputs of inputs that failed on their own (rare): move the call's
        // outputs aside and copy back the ones to keep.
        std::unique_ptr<MessageBatch> tmp = flow_.pool.get();
        for (size_t m = lane.mark; m < lane.batch->size(); ++m) tmp->append_copy(*lane.batch, m);
        lane.batch->truncate(lane.mark);
        std::vector<uint32_t> origin;
        for (size_t m = 0; m < tmp->size(); ++m) {
          const uint32_t o = lane.origin[m];
          if (o != kNoOrigin && o < failed_inputs->size() && (*failed_inputs)[o]) continue;
          lane.batch->append_copy(*tmp, m);
          origin.push_back(o);
        }
        lane.origin.swap(origin);
        flow_.pool.put(std::move(tmp));
      }
      for (uint32_t o : lane.origin)
        if (o != kNoOrigin && o < origins) ++copies_[o];
      kept += lane.batch->size() - lane.mark;
      lane.origin.clear();
      lane.mark = lane.batch->size();
    }

  // Responses of inputs that did not fail reach the request observer now, before the
  // worker finishes those inputs (their lineage can then complete the request).
  if (response_count_ > 0) {
    uint64_t delivered = 0;
    for (size_t r = 0; r < response_count_; ++r) {
      const Response& resp = responses_[r];
      if (failed_inputs != nullptr && (*failed_inputs)[resp.input]) continue;
      ++delivered;
      if (flow_.observer != nullptr)
        flow_.observer->on_result(input_id(resp.input), stage_.plan->name, resp.value);
    }
    bump(stage_.metrics->responses, delivered);
    response_count_ = 0;
  }

  // Lineage: each input (map) or new message (source) now has `copies` descendants in
  // place of itself. Done before any of them can be pushed to another thread.
  uint64_t dropped = 0;
  produced_in_call_ = is_source_ ? origins : 0;
  if (is_source_) {
    bump(stage_.metrics->produced, origins);
    for (size_t o = 0; o < origins; ++o) {
      if (copies_[o] == 0) ++dropped;
      if (call_lineages_[o] != nullptr) call_lineages_[o]->adjust(static_cast<int64_t>(copies_[o]) - 1);
    }
    call_lineages_.clear();
  } else if (window_parent_ != nullptr) {
    // A reduce's window call: the window stands for its inputs (held by the reduce
    // until the window's results are done), so nothing counts as dropped.
    if (window_lineage_ != nullptr) window_lineage_->adjust(static_cast<int64_t>(copies_[0]) - 1);
  } else if (input_ != nullptr && stage_.plan->kind != SLUICE_KIND_SINK) {
    // (A sink's inputs end in the worker, by outcome.)
    for (size_t i = 0; i < origins; ++i) {
      if (failed_inputs != nullptr && (*failed_inputs)[i]) continue;
      if (copies_[i] == 0) ++dropped;
      Lineage* l = input_->lineage(index_map_ ? index_map_[i] : i);
      if (l != nullptr) l->adjust(static_cast<int64_t>(copies_[i]) - 1);
    }
  }
  if (dropped) bump(stage_.metrics->dropped, dropped);
  if (kept) {
    bump(stage_.metrics->out, kept);
    stage_.metrics->in_progress.fetch_add(static_cast<int64_t>(kept), std::memory_order_relaxed);
    if (pending_messages_ == 0) oldest_pending_ = Clock::now();
    pending_messages_ += kept;
  }
  return kept;
}

size_t StageEmitter::commit_window() {
  // commit() for a reduce's window call, without its per-input bookkeeping: a window
  // call has one origin (every output has origin 0), so its copies are all the outputs
  // kept. Runs about once per message in a reduce with many keys, mostly with no output.
  size_t kept = 0;
  for (auto& lanes : route_lanes_)
    for (Lane& lane : lanes) {
      kept += lane.batch->size() - lane.mark;
      lane.origin.clear();
      lane.mark = lane.batch->size();
    }
  produced_in_call_ = 0;
  if (window_lineage_ != nullptr) window_lineage_->adjust(static_cast<int64_t>(kept) - 1);
  if (kept) {
    bump(stage_.metrics->out, kept);
    stage_.metrics->in_progress.fetch_add(static_cast<int64_t>(kept), std::memory_order_relaxed);
    if (pending_messages_ == 0) oldest_pending_ = Clock::now();
    pending_messages_ += kept;
  }
  return kept;
}

void StageEmitter::route_to_fallback(MessageBatch& batch, size_t batch_index) {
  std::vector<Lane>& lanes = fallback_lanes_;
  uint64_t hash = 0;
  if (lanes.size() > 1) {
    // Same hashing as on_emit, from the stored keys.
    uint64_t h = 1469598103934665603ull;
    for (size_t k = 0; k < batch.key_count(batch_index); ++k) {
      for (char c : batch.key(batch_index, k)) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
      h = (h ^ 0xff) * 1099511628211ull;
    }
    hash = h;
  }
  Lane& lane = lanes[lanes.size() == 1 ? 0 : hash % lanes.size()];
  lane.batch->append_copy(batch, batch_index);
  bump(stage_.metrics->fallback);
  stage_.metrics->in_progress.fetch_add(1, std::memory_order_relaxed);
  if (pending_messages_ == 0) oldest_pending_ = Clock::now();
  ++pending_messages_;
}

void StageEmitter::push_watermark() {
  if (watermark_ == SLUICE_TIME_UNSET) return;
  for_each_lane([&](Lane& lane) {
    if (!lane.wants_watermarks || !lane.batch->empty()) return;
    if (lane.sent_watermark != SLUICE_TIME_UNSET && lane.sent_watermark >= watermark_) return;
    lane.batch->set_watermark(watermark_);
    lane.batch->set_origin(stage_.index);
    lane.sent_watermark = watermark_;
    if (!lane.queue->push(lane.batch)) {
      lane.batch->clear();
      return;
    }
    lane.batch = flow_.pool.get();
    lane.mark = 0;
  });
}

void StageEmitter::push(Lane& lane) {
  if (lane.batch->empty()) return;
  lane.batch->set_watermark(watermark_);
  lane.batch->set_origin(stage_.index);
  lane.sent_watermark = watermark_;
  const size_t n = lane.batch->size();
  if (lane.edge != nullptr) bump(lane.edge->messages, n);
  if (!lane.queue->push(lane.batch)) {
    // The target was abandoned (forced stop): these messages are reported as left
    // over by the flow's summary; the batch is recycled here.
    flow_.pool.put(std::move(lane.batch));
  }
  lane.batch = flow_.pool.get();
  lane.mark = 0;
  pending_messages_ -= n;
  stage_.metrics->in_progress.fetch_sub(static_cast<int64_t>(n), std::memory_order_relaxed);
}

void StageEmitter::flush_full() {
  if (pending_messages_ == 0) return;
  const size_t batch = stage_.plan->batch;
  for_each_lane([&](Lane& lane) {
    if (lane.batch->size() >= batch) push(lane);
  });
}

void StageEmitter::flush_due(Clock::time_point now) {
  if (pending_messages_ == 0) return;
  if (now - oldest_pending_ >= stage_.plan->linger) {
    flush_all();
    return;
  }
  flush_full();
}

void StageEmitter::flush_all() {
  if (pending_messages_ == 0) return;
  for_each_lane([&](Lane& lane) { push(lane); });
  pending_messages_ = 0;
}

}  // namespace sluice::host
