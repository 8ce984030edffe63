// Lineage: completion tracking for everything derived from one source message.
//
// Every message a source emits gets a Lineage record (when anything needs to know when
// it is done: a source that acknowledges, or later a serving request). Every message
// derived from it (map outputs, fan-out copies, fallback routes) points at the same
// record, which counts the live descendants. When the count reaches zero (every
// descendant was sunk, dropped, filtered or failed) the record's owner is told, once.
//
// Counting rules, followed by the flow engine:
//   - a source's new message starts at 1 (the message itself);
//   - a stage that consumes one message and produces T messages from it (T copies over
//     all edges, 0 when it filters or drops) adjusts by T - 1, in one step, *before*
//     the produced messages become visible to other threads (so the count never
//     touches zero while a descendant still exists);
//   - a sink adjusts by -1 for each message it finishes, whatever the outcome.
//
// Thread-safety: adjust() and mark_failed() may be called from any thread. The owner's
// on_complete runs on the thread whose adjustment reached zero; after it, nobody else
// touches the record (the owner recycles it).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::host {

class Lineage;

// Told when a lineage completes. Must not throw; should be quick (it runs on a worker).
class LineageOwner {
 public:
  virtual ~LineageOwner() = default;
  virtual void on_complete(Lineage* lineage) noexcept = 0;
};

class Lineage {
 public:
  Lineage() = default;
  Lineage(const Lineage&) = delete;
  Lineage& operator=(const Lineage&) = delete;

  // (Re)starts the record for a new source message: count 1, not failed.
  void reset(LineageOwner* owner, std::string_view source_id) {
    owner_ = owner;
    source_id_.assign(source_id.data(), source_id.size());
    failed_.store(false, std::memory_order_relaxed);
    abandoned_.store(false, std::memory_order_relaxed);
    live_.store(1, std::memory_order_relaxed);
  }

  // A descendant was let go without finishing (a reduce window discarded at a stop):
  // the source message must not be acknowledged, even once the count reaches zero, so
  // that a replaying source reads it again. Call before the adjustment that lets go.
  void abandon() { abandoned_.store(true, std::memory_order_relaxed); }
  bool abandoned() const { return abandoned_.load(std::memory_order_relaxed); }

  // Changes the live count by `delta` (see the counting rules). When it reaches zero
  // the owner is told. Adjusting a completed record is a bug in the engine.
  void adjust(int64_t delta) {
    if (delta == 0) return;
    // acq_rel: everything a thread did with its descendants happens-before the owner's
    // completion handling on whichever thread reaches zero.
    if (live_.fetch_add(delta, std::memory_order_acq_rel) + delta == 0) owner_->on_complete(this);
  }

  // A descendant ended in an error (dropped by policy, failed, sent to a fallback).
  void mark_failed() { failed_.store(true, std::memory_order_relaxed); }
  bool failed() const { return failed_.load(std::memory_order_relaxed); }

  int64_t live() const { return live_.load(std::memory_order_acquire); }
  // The id the source gave the message (handed back in ack).
  std::string_view source_id() const { return source_id_; }

 private:
  std::atomic<int64_t> live_{0};
  std::atomic<bool> failed_{false};
  std::atomic<bool> abandoned_{false};
  LineageOwner* owner_ = nullptr;
  std::string source_id_;
};

}  // namespace sluice::host
