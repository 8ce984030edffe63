#include "sluice/host/side_input_registry.h"

#include <algorithm>

namespace sluice::host {

SideInputRegistry::SideInputRegistry(std::vector<std::string> names) {
  for (std::string& n : names) slots_.push_back({std::move(n), nullptr, ""});
}

const SideInputRegistry::Slot* SideInputRegistry::find_locked(std::string_view name) const {
  for (const Slot& s : slots_)
    if (s.name == name) return &s;
  return nullptr;
}

SideInputRegistry::Slot* SideInputRegistry::find_locked(std::string_view name) {
  for (Slot& s : slots_)
    if (s.name == name) return &s;
  return nullptr;
}

bool SideInputRegistry::publish(SideInputPtr value) {
  if (!value) return false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Slot* slot = find_locked(value->name);
    if (!slot) return false;
    slot->value = std::move(value);
    // Inside the lock: a reader that sees the new generation and then locks to copy
    // finds the new value (or a newer one), never the old one.
    generation_.fetch_add(1, std::memory_order_release);
  }
  published_.notify_all();
  return true;
}

SideInputPtr SideInputRegistry::current(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const Slot* slot = find_locked(name);
  return slot ? slot->value : nullptr;
}

void SideInputRegistry::set_last_error(std::string_view name, std::string error) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Slot* slot = find_locked(name)) slot->last_error = std::move(error);
}

std::string SideInputRegistry::last_error(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const Slot* slot = find_locked(name);
  return slot ? slot->last_error : std::string();
}

std::vector<std::string> SideInputRegistry::wait_for(const std::vector<std::string>& names,
                                                     std::chrono::steady_clock::time_point deadline,
                                                     const std::function<bool()>& cancelled) const {
  std::unique_lock<std::mutex> lock(mutex_);
  auto still_missing = [&] {
    std::vector<std::string> out;
    for (const std::string& n : names) {
      const Slot* slot = find_locked(n);
      if (!slot || !slot->value) out.push_back(n);
    }
    return out;
  };
  for (;;) {
    std::vector<std::string> out = still_missing();
    if (out.empty()) return out;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return out;
    if (cancelled) {
      lock.unlock();
      const bool stop = cancelled();
      lock.lock();
      if (stop) return still_missing();
    }
    // Wakes on a publish; the 50 ms cap is only for noticing `cancelled`.
    published_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(50)));
  }
}

std::vector<std::string> SideInputRegistry::missing() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> out;
  for (const Slot& s : slots_)
    if (!s.value) out.push_back(s.name);
  return out;
}

SideInputSnapshot::SideInputSnapshot(const SideInputRegistry& registry, std::vector<std::string> names)
    : registry_(registry) {
  for (std::string& n : names) entries_.push_back({std::move(n), nullptr});
}

bool SideInputSnapshot::refresh(std::vector<const SideInputValue*>* changed) {
  const uint64_t generation = registry_.generation();
  if (generation == seen_generation_) return false;
  bool any = false;
  for (Entry& e : entries_) {
    SideInputPtr now = registry_.current(e.name);
    if (now == e.value) continue;
    const bool new_version = !e.value || !now || now->version != e.value->version;
    // The old value is released here, on the reader's thread: freed only once no other
    // snapshot holds it either.
    e.value = std::move(now);
    if (new_version) {
      any = true;
      if (changed && e.value) changed->push_back(e.value.get());
    }
  }
  // Publishes after `generation` was read are caught by the next refresh.
  seen_generation_ = generation;
  return any;
}

}  // namespace sluice::host
