#include "sluice/host/batch_queue.h"

namespace sluice::host {

BatchQueue::BatchQueue(size_t capacity_messages)
    : capacity_(capacity_messages == 0 ? 1 : capacity_messages) {}

void BatchQueue::add_producer() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++producers_;
}

void BatchQueue::producer_done() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (--producers_ <= 0) not_empty_.notify_all();
}

bool BatchQueue::push(std::unique_ptr<MessageBatch>& batch) {
  // An empty batch is worth queueing only for the watermark it carries.
  if (!batch || (batch->empty() && batch->watermark() == SLUICE_TIME_UNSET)) return true;
  const size_t n = batch->size();
  std::unique_lock<std::mutex> lock(mutex_);
  not_full_.wait(lock, [&] {
    return aborted_.load(std::memory_order_relaxed) || messages_ == 0 ||
           messages_ + n <= capacity_;
  });
  if (aborted_.load(std::memory_order_relaxed)) return false;
  messages_ += n;
  depth_.store(messages_, std::memory_order_relaxed);
  batches_.push_back(std::move(batch));
  lock.unlock();
  not_empty_.notify_one();
  return true;
}

std::unique_ptr<MessageBatch> BatchQueue::take_locked() {
  std::unique_ptr<MessageBatch> b = std::move(batches_.front());
  batches_.pop_front();
  messages_ -= b->size();
  depth_.store(messages_, std::memory_order_relaxed);
  // Several producers may be waiting for room of different sizes: wake them all; they
  // recheck. Queues hold few batches, so this is cheap.
  not_full_.notify_all();
  return b;
}

std::unique_ptr<MessageBatch> BatchQueue::pop() {
  std::unique_lock<std::mutex> lock(mutex_);
  not_empty_.wait(lock, [&] {
    return aborted_.load(std::memory_order_relaxed) || !batches_.empty() || producers_ <= 0;
  });
  if (aborted_.load(std::memory_order_relaxed) || batches_.empty()) return nullptr;
  return take_locked();
}

std::unique_ptr<MessageBatch> BatchQueue::try_pop() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (aborted_.load(std::memory_order_relaxed) || batches_.empty()) return nullptr;
  return take_locked();
}

std::unique_ptr<MessageBatch> BatchQueue::pop_until(std::chrono::steady_clock::time_point until,
                                                    bool* timed_out) {
  std::unique_lock<std::mutex> lock(mutex_);
  bool ready = not_empty_.wait_until(lock, until, [&] {
    return aborted_.load(std::memory_order_relaxed) || !batches_.empty() || producers_ <= 0;
  });
  *timed_out = !ready;
  if (!ready || aborted_.load(std::memory_order_relaxed) || batches_.empty()) return nullptr;
  return take_locked();
}

void BatchQueue::abort() {
  std::lock_guard<std::mutex> lock(mutex_);
  aborted_.store(true, std::memory_order_relaxed);
  not_empty_.notify_all();
  not_full_.notify_all();
}

bool BatchQueue::finished() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return producers_ <= 0 && batches_.empty();
}

}  // namespace sluice::host
