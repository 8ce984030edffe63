// One worker thread of one stage: creates (or borrows) the plugin instance, then loops
// feeding it batches and applying the stage's error policy, and on the way out
// finishes and destroys the instance on the same thread.
//
//   source:     process() with an empty batch and a budget; outputs go downstream;
//               IDLE backs off without spinning; acks are passed to the plugin between
//               calls; after END (or a stop request) it waits for the acks of what it
//               emitted, then finishes.
//   map / sink: pops batches from its input lane, calls process(), commits or rolls
//               back outputs, retries failed calls or messages with backoff, then
//               fails the flow, drops, or routes to the fallback sink.
//
// Thread-safety: run() is the thread's body; interrupt() may be called from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "flow_state.h"
#include "sluice/host/ack_inbox.h"
#include "reduce_runner.h"
#include "sluice/host/watermark.h"
#include "stage_emitter.h"

namespace sluice::host {

class StageWorker {
 public:
  StageWorker(FlowRuntime::State& flow, StageRuntime& stage, uint32_t worker_index);
  ~StageWorker();

  void run();
  // Wakes the worker if it waits for acks (forced stop).
  void interrupt();
  // Source messages emitted and not yet acknowledged (0 for other kinds).
  // Abandoned ones (held by reduce windows let go at a stop) count: they never will be.
  int64_t unacked() const { return inbox_ ? inbox_->outstanding() + inbox_->abandoned() : 0; }
  StageRuntime& stage() { return stage_; }

 private:
  bool create_instance();
  bool wait_for_go();
  // A stage that reads side inputs: waits (at most the flow's sideInputsTimeout) until
  // each has a value, then takes its snapshot. False when the flow stops meanwhile or
  // the wait times out (the flow is then failed, naming the side input).
  bool wait_for_side_inputs();
  // Before a call: takes newer side-input values, and tells the instance of each.
  void refresh_side_inputs() {
    if (side_inputs_ && side_inputs_->refresh(&changed_side_inputs_)) announce_side_inputs();
  }
  void announce_side_inputs();
  void run_source();
  void run_processor();
  // A reduce stage's end of input: closes its windows (a job's end, or --flush-windows)
  // or discards them (a streaming flow's stop).
  void end_reduce();
  // Stages that track watermarks (feed a reduce, or are one): the batch's watermark for
  // its input; returns the stage's (the minimum over its inputs).
  int64_t input_watermark(const MessageBatch& batch);
  void finish_and_close();

  // Processes the inputs `indexes` of `batch` (all when indexes is empty) under the
  // error policy.
  void process_batch(MessageBatch& batch, std::vector<uint32_t> indexes);
  // One call on the inputs `indexes` of `batch` (all when indexes is empty).
  sluice_status call(MessageBatch& batch, const std::vector<uint32_t>& indexes);
  // Gives up on the listed messages according to the policy's final action.
  void give_up(MessageBatch& batch, const std::vector<uint32_t>& indexes,
               const std::string& reason);
  // The backoff before retry number `attempt` (0-based); false when forced to stop, or
  // (with wake_on_stop, for sources) when a graceful stop was requested.
  bool backoff(uint32_t attempt, bool wake_on_stop = false);
  void acknowledge();
  // Source: asks the instance for its backlog (at most once a second) into the metrics.
  void report_pending(Clock::time_point now);
  void drop_log(const std::string& message);

  FlowRuntime::State& flow_;
  StageRuntime& stage_;
  const StagePlan& plan_;
  const uint32_t worker_index_;
  std::unique_ptr<AckInbox> inbox_;          // sources whose type can ack
  std::unique_ptr<PluginInstance> own_;      // non-thread-safe types
  PluginInstance* instance_ = nullptr;       // own_ or the stage's shared instance
  StageEmitter emitter_;
  sluice_ctx ctx_;
  std::unique_ptr<SideInputSnapshot> side_inputs_;         // stages that read side inputs
  std::unique_ptr<ReduceRunner> reducer_;                  // reduce stages
  std::unique_ptr<InputWatermarks> input_watermarks_;      // stages that track watermarks
  std::vector<int> watermark_input_of_;                    // stage index -> input slot
  int64_t pending_watermark_ = SLUICE_TIME_UNSET;          // the batch in hand's
  std::vector<const SideInputValue*> changed_side_inputs_;  // refresh's output, reused

  std::vector<const sluice_message*> subset_;  // the inputs of a partial call
  std::vector<std::string_view> step_ids_;     // the ids of a call, for the request observer
  std::vector<uint32_t> all_indexes_;
  std::vector<Lineage*> acked_;
  // Source: this worker's last pending() report (-1: none yet) and when it was asked.
  int64_t reported_pending_ = -1;
  Clock::time_point pending_asked_{};
  std::vector<std::string> ack_ids_;
  Clock::time_point next_drop_log_{};
  uint64_t drops_since_log_ = 0;
};

}  // namespace sluice::host
