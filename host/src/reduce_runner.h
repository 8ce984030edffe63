// A reduce stage's worker loop body: puts each message into its windows (WindowBook),
// calls the reducer per window as the reduce contract in plugin.h says (appends, merges,
// close, discard), and holds the messages' lineage until the window's results are done.
//
//   ReduceRunner r(flow, stage, instance, ctx, emitter);
//   while (batch = pop()) r.on_batch(*batch, input_watermark);   // appends, closes
//   r.close_all();   // job end (or a stop with --flush-windows)   -- or r.discard_all()
//
// Delivery: a message in k windows is held k times (its lineage counts k descendants);
// each window's results form one lineage record (WindowResults) that counts the outputs
// in flight plus the window itself. When a window has closed and its outputs are all
// finished downstream, it releases the messages it held, and a source message is
// acknowledged once every window it fell into has done so. Discarded windows (a stop)
// release nothing: their source messages stay unacknowledged, and a replaying source
// reads them again.
//
// Thread-safety: none; it runs on the stage's one worker thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "flow_state.h"
#include "sluice/host/call_context.h"
#include "sluice/host/window_book.h"
#include "stage_emitter.h"

namespace sluice::host {

class ReduceRunner {
 public:
  ReduceRunner(FlowRuntime::State& flow, StageRuntime& stage, PluginInstance& instance, sluice_ctx& ctx,
               StageEmitter& emitter);
  ~ReduceRunner();

  // Puts the batch's messages into their windows (late ones dropped or routed), delivers
  // the appends, then moves the watermark to `watermark` (SLUICE_TIME_UNSET: unchanged)
  // and closes what that closes. False after a failed call: the flow is failed.
  bool on_batch(MessageBatch& batch, int64_t watermark);
  // Closes every open window, emitting its results (the end of a job's input).
  bool close_all();
  // Lets every open window go without results (a stop); logs how many and returns it.
  size_t discard_all();
  // After a failed call (the flow is failing): discards every open window, ignoring
  // errors, so that no reducer state or window record is left behind.
  void release_after_failure();

 private:
  struct WindowResults;
  struct Slot {
    void* state = nullptr;             // the reducer's
    Window window;
    std::string key;                   // encoded keys (encode_keys)
    std::vector<uint32_t> pending;     // this batch's messages for it (batch indexes)
    bool touched = false;              // in touched_
    WindowResults* results = nullptr;  // tracked flows: the window's lineage record
  };

  Slot& slot(WindowId id);
  // key_ := the message's keys, encoded so that bytewise order is key order (unkeyed:
  // empty).
  void encode_keys(MessageBatch& batch, size_t i);
  // keys_ := the keys encoded in `key` (views into it).
  void decode_keys(const std::string& key);
  // One call for the window in `s`: flags, messages (indexes into batch; may be empty).
  bool call(Slot& s, uint32_t flags, MessageBatch* batch, const std::vector<uint32_t>* indexes,
            Slot* merged = nullptr, const Window* merged_window = nullptr);
  bool deliver_pending(MessageBatch& batch);
  bool close(const std::vector<ClosedWindow>& closed, bool discard);
  void hold(Slot& s, Lineage* lineage);
  void late(MessageBatch& batch, size_t i);

  FlowRuntime::State& flow_;
  StageRuntime& stage_;
  const ReducePlan& plan_;
  PluginInstance& instance_;
  sluice_ctx& ctx_;
  StageEmitter& emitter_;
  std::unique_ptr<WindowBook> book_;
  std::vector<Slot> slots_;
  std::vector<WindowId> touched_;
  AddResult added_;
  std::vector<ClosedWindow> closed_;
  std::string key_;
  std::vector<sluice_str> keys_;
  std::string decoded_;  // keys with NUL bytes, unescaped (keys_ views into it)
  std::vector<const sluice_message*> subset_;
  char id_[48];  // the window call's id, "w<start>-<end>", for the bounds id_window_
  size_t id_size_ = 0;
  Window id_window_;
  int64_t watermark_ = SLUICE_TIME_UNSET;
  Clock::time_point next_late_log_{};
};

}  // namespace sluice::host
