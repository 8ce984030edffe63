// A bounded queue of message batches between stages: the only way data moves from one
// stage's workers to the next.
//
// Contract:
//   - Bounded in messages, not batches: push() blocks while the queue holds messages and
//     adding the batch would exceed the capacity (a batch bigger than the capacity still
//     goes in when the queue is empty, so nothing deadlocks). Blocking is on a condition
//     variable: no spinning (the machines have 2 cores).
//   - End of input: every producer registers (add_producer) before the flow starts and
//     calls producer_done() when it will push nothing more. pop() returns null once
//     all producers are done and the queue is empty.
//   - abort() (forced stop): push() then fails at once and pop() returns null at once;
//     what is still queued stays countable (depth()) and is freed with the queue.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>

#include "sluice/host/message_batch.h"

namespace sluice::host {

class BatchQueue {
 public:
  explicit BatchQueue(size_t capacity_messages);
  BatchQueue(const BatchQueue&) = delete;
  BatchQueue& operator=(const BatchQueue&) = delete;

  void add_producer();
  void producer_done();

  // Takes the batch (empty batches are ignored, unless they carry a watermark). Returns false, leaving `batch` with the
  // caller, when the queue was aborted.
  bool push(std::unique_ptr<MessageBatch>& batch);

  // The next batch; null at end of input or after abort().
  std::unique_ptr<MessageBatch> pop();
  // The next batch if one is queued now; null otherwise (never blocks).
  std::unique_ptr<MessageBatch> try_pop();
  // As pop(), but gives up at `until` (returning null with *timed_out set).
  std::unique_ptr<MessageBatch> pop_until(std::chrono::steady_clock::time_point until,
                                          bool* timed_out);

  void abort();
  bool aborted() const { return aborted_.load(std::memory_order_relaxed); }

  // Messages queued now (a gauge; exact under the lock, approximate to readers).
  size_t depth() const { return depth_.load(std::memory_order_relaxed); }
  size_t capacity() const { return capacity_; }
  // True once every producer is done and the queue is empty.
  bool finished() const;

 private:
  std::unique_ptr<MessageBatch> take_locked();

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<std::unique_ptr<MessageBatch>> batches_;
  size_t messages_ = 0;   // guarded by mutex_
  int producers_ = 0;     // guarded by mutex_
  std::atomic<bool> aborted_{false};
  std::atomic<size_t> depth_{0};
};

}  // namespace sluice::host
