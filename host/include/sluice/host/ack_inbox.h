// The source side of lineage tracking: hands out Lineage records for a source's new
// messages and collects the completed ones, so that the source's worker thread can pass
// them to the plugin's ack() between process() calls.
//
// Thread-safety: make(), take_completed(), recycle() and wait() belong to the source's
// worker thread; on_complete() is called from any worker. outstanding() is any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "sluice/host/lineage.h"

namespace sluice::host {

class AckInbox : public LineageOwner {
 public:
  AckInbox() = default;
  ~AckInbox() override;

  // A record for a new message with the source's id, counting 1 live message.
  Lineage* make(std::string_view source_id);

  // Moves the completed records into *out (cleared first), abandoned ones included (the
  // caller skips those in the plugin's ack). Call recycle() on them once the plugin's ack
  // returned.
  void take_completed(std::vector<Lineage*>* out);
  // Takes back a record made for a message that never left (its call failed): it
  // neither completes nor is acknowledged.
  void cancel(Lineage* lineage);
  void recycle(const std::vector<Lineage*>& done);

  // Blocks until some record completes, `until` passes, or interrupt() is called.
  void wait(std::chrono::steady_clock::time_point until);
  void interrupt();

  // Messages handed out and not yet completed.
  int64_t outstanding() const;
  // Messages completed as abandoned (Lineage::abandon): never acknowledged.
  int64_t abandoned() const { return abandoned_.load(std::memory_order_relaxed); }

  void on_complete(Lineage* lineage) noexcept override;

 private:
  mutable std::mutex mutex_;
  std::condition_variable completed_cv_;
  std::vector<Lineage*> completed_;
  bool interrupted_ = false;
  std::atomic<int64_t> outstanding_{0};
  std::atomic<int64_t> abandoned_{0};
  // Records owned by this inbox: idle ones ready for reuse (source thread only) and
  // every record ever made, for deletion at the end.
  std::vector<Lineage*> idle_;
  std::vector<std::unique_ptr<Lineage>> all_;
};

}  // namespace sluice::host
