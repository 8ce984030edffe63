#include "sluice/host/ack_inbox.h"

namespace sluice::host {

AckInbox::~AckInbox() = default;

Lineage* AckInbox::make(std::string_view source_id) {
  Lineage* l;
  if (!idle_.empty()) {
    l = idle_.back();
    idle_.pop_back();
  } else {
    all_.push_back(std::make_unique<Lineage>());
    l = all_.back().get();
  }
  l->reset(this, source_id);
  outstanding_.fetch_add(1, std::memory_order_relaxed);
  return l;
}

void AckInbox::on_complete(Lineage* lineage) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  completed_.push_back(lineage);  // bad_alloc here ends the process (noexcept): no ack lost silently
  outstanding_.fetch_sub(1, std::memory_order_relaxed);
  if (lineage->abandoned()) abandoned_.fetch_add(1, std::memory_order_relaxed);
  completed_cv_.notify_one();
}

void AckInbox::take_completed(std::vector<Lineage*>* out) {
  out->clear();
  std::lock_guard<std::mutex> lock(mutex_);
  out->swap(completed_);
}

void AckInbox::cancel(Lineage* lineage) {
  idle_.push_back(lineage);
  outstanding_.fetch_sub(1, std::memory_order_relaxed);
}

void AckInbox::recycle(const std::vector<Lineage*>& done) {
  idle_.insert(idle_.end(), done.begin(), done.end());
}

void AckInbox::wait(std::chrono::steady_clock::time_point until) {
  std::unique_lock<std::mutex> lock(mutex_);
  completed_cv_.wait_until(lock, until, [&] { return !completed_.empty() || interrupted_; });
}

void AckInbox::interrupt() {
  std::lock_guard<std::mutex> lock(mutex_);
  interrupted_ = true;
  completed_cv_.notify_all();
}

int64_t AckInbox::outstanding() const { return outstanding_.load(std::memory_order_relaxed); }

}  // namespace sluice::host
