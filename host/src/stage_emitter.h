// A worker's outputs: the CallSink that receives what its plugin emits, routes each
// output to the edges whose conditions hold (and to the right lane of an ordered
// target), and holds the outgoing batches until they are full or the worker goes idle.
//
// One plugin call is a transaction: outputs are appended to the outgoing batches as
// they arrive, remembering which input each came from; after the call the worker
// either rolls them back (the call failed: nothing of it may leave), or commits them,
// minus the outputs of inputs that failed on their own. Commit is where lineage counts
// change, before any of the outputs can reach another thread.
//
// Also the sink side of a call: outcomes and responses per input.
//
// Thread-safety: none; one per worker thread.
#pragma once

#include <string>
#include <vector>

#include "flow_state.h"
#include "sluice/host/ack_inbox.h"
#include "sluice/host/call_context.h"

namespace sluice::host {

class StageEmitter : public CallSink {
 public:
  StageEmitter(FlowRuntime::State& flow, StageRuntime& stage, uint32_t worker_index,
               AckInbox* inbox);
  ~StageEmitter() override;

  // Prepares for a call on `input` (null for sources and finish calls). `index_map`
  // maps the call's input positions to batch positions (null: identity); `count` is
  // the number of inputs in the call.
  // `finishing`: a finish() call, whose outputs start no lineage (nobody would ack it).
  void begin_call(MessageBatch* input, const uint32_t* index_map, size_t count,
                  bool finishing = false);
  // Prepares for a reduce call on one window: every output derives from `parent` (the
  // window as a message: its keys, event time window_end - 1, an id) and joins
  // `lineage` (the window's results; null when nothing is tracked), whatever input
  // index the plugin names. commit() then adjusts `lineage` by (outputs - 1).
  void begin_window_call(const sluice_message* parent, Lineage* lineage);

  // After a failed call: forget every output of the call (and for a source, the
  // lineage records made for them).
  void rollback();
  // After a successful call: keep the outputs, except those of inputs marked in
  // `failed_inputs` (may be null); adjust lineage; count. Returns outputs kept.
  size_t commit(const std::vector<uint8_t>* failed_inputs);
  // Source: messages the last committed call produced, before routing.
  size_t produced_in_call() const { return produced_in_call_; }
  // Source: the largest event time among the call's outputs (their own, or the read
  // time); kNoEventTime when it emitted nothing.
  int64_t call_max_event_time() const { return call_max_event_time_; }

  // Watermarks (stages that feed a reduce; docs/reduce.md). Every batch pushed from now
  // on carries `watermark` (it never goes back). Call it once the outputs it covers are
  // appended: after a committed call, never in the middle of one.
  void set_watermark(int64_t watermark) {
    if (watermark != SLUICE_TIME_UNSET && (watermark_ == SLUICE_TIME_UNSET || watermark > watermark_))
      watermark_ = watermark;
  }
  int64_t watermark() const { return watermark_; }
  // Sends the watermark on to the stages that track it when it moved since they last got
  // one and nothing is waiting to carry it (an empty batch that carries only it).
  void push_watermark();

  // Per-input results of the last call (sinks, and maps that fail one message).
  sluice_outcome outcome(size_t input) const { return outcomes_[input]; }
  const std::string& reason(size_t input) const { return reasons_[input]; }

  // The input's message id (sinks and maps; the call's input position).
  std::string_view input_id(size_t input) const {
    return input_->id(index_map_ ? index_map_[input] : input);
  }

  // Sends the batch's message `batch_index` to the stage's fallback route.
  void route_to_fallback(MessageBatch& batch, size_t batch_index);

  // Pushes outgoing batches downstream: those at the batch size (flush_full), those
  // older than the linger too (flush_due), or all (flush_all). Pushing blocks while a
  // target queue is full (backpressure).
  void flush_full();
  void flush_due(Clock::time_point now);
  void flush_all();
  bool has_pending() const { return pending_messages_ > 0; }

  // Registers this worker as a producer on every queue it can push to / says it is done.
  void register_producer();
  void producers_done();

  // CallSink
  void on_emit(size_t input_index, const sluice_output& out) override;
  void on_respond(size_t input_index, sluice_bytes value) override;
  void on_outcome(size_t input_index, sluice_outcome outcome, std::string_view reason) override;

 private:
  struct Lane {
    BatchQueue* queue = nullptr;
    EdgeMetrics* edge = nullptr;               // null on the fallback route
    std::unique_ptr<MessageBatch> batch;
    size_t mark = 0;                           // batch size when the call began
    std::vector<uint32_t> origin;              // per message since mark: the call input
    bool wants_watermarks = false;             // the target feeds a reduce (or is one)
    int64_t sent_watermark = SLUICE_TIME_UNSET;
  };

  size_t commit_window();  // commit() of a window call (begin_window_call)
  // begin_call without reading the clock (call_time_ms_ is left as it was).
  void reset_call(MessageBatch* input, const uint32_t* index_map, size_t count, bool finishing);
  void append(Lane& lane, const sluice_output& out, const sluice_message* parent,
              std::string_view id, Lineage* lineage, uint32_t origin);
  void push(Lane& lane);
  bool matches(const EdgePlan& edge, const sluice_output& out) const;
  uint64_t key_hash(const sluice_output& out, const sluice_message* parent) const;
  void for_each_lane(const std::function<void(Lane&)>& fn);

  FlowRuntime::State& flow_;
  StageRuntime& stage_;
  AckInbox* inbox_;                          // sources that ack: lineage records
  const bool is_source_;
  std::vector<std::vector<Lane>> route_lanes_;  // per route, per target lane
  std::vector<Lane> fallback_lanes_;

  // The current call.
  MessageBatch* input_ = nullptr;
  const uint32_t* index_map_ = nullptr;
  const sluice_message* const* input_view_ = nullptr;
  size_t input_count_ = 0;
  bool finishing_ = false;
  size_t produced_in_call_ = 0;
  int64_t call_max_event_time_ = SLUICE_TIME_UNSET;
  int64_t watermark_ = SLUICE_TIME_UNSET;
  const sluice_message* window_parent_ = nullptr;  // a reduce's window call
  Lineage* window_lineage_ = nullptr;
  int64_t call_time_ms_ = 0;
  uint64_t dropped_in_call_ = 0;
  std::vector<Lineage*> call_lineages_;      // source: one per output of the call
  std::vector<uint32_t> copies_;             // per input (map) or output (source)
  std::vector<sluice_outcome> outcomes_;
  std::vector<std::string> reasons_;
  std::vector<size_t> touched_reasons_;
  // Sink: what the call responded, per input, in order; handed to the flow's request
  // observer at commit (only for inputs that did not fail), forgotten at rollback.
  struct Response {
    size_t input = 0;
    std::string value;  // empty when the flow has no observer (only counted then)
  };
  std::vector<Response> responses_;
  size_t response_count_ = 0;  // entries of responses_ in use (their strings are reused)

  uint64_t next_id_ = 0;                     // generated source ids
  std::string id_prefix_;
  char id_buf_[48];
  size_t pending_messages_ = 0;
  Clock::time_point oldest_pending_{};
};

}  // namespace sluice::host
