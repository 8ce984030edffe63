// Where a running flow keeps the current value of each side input, and how stage
// workers read them without a lock per message.
//
// The side-input manager (side_input_manager.h) publishes values; each stage worker
// that declared side inputs owns a SideInputSnapshot and reads from it.
//
// Contract:
//   - A published value is immutable, and stays alive for as long as any snapshot still
//     holds it (shared ownership): a reader never sees a value change or get freed
//     under it, however fast new versions arrive.
//   - Readers refresh between calls (SideInputSnapshot::refresh): one atomic load when
//     nothing changed, a short lock only when something did. Within one plugin call a
//     stage sees one consistent set of values; reading one (find) takes no lock and
//     does not allocate.
//   - A new value appears atomically: a refresh sees either the old or the new value of
//     each side input, never a mix of bytes.
//
// Thread-safety: SideInputRegistry may be used from any thread. A SideInputSnapshot is
// used by one thread at a time (its worker).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::host {

struct SideInputValue {
  std::string name;
  uint64_t version = 0;  // from the side-input store: 1, 2, ... per name
  std::string bytes;
  std::chrono::system_clock::time_point updated_at;
};
using SideInputPtr = std::shared_ptr<const SideInputValue>;

class SideInputRegistry {
 public:
  // `names`: every side input the flow declares. Values can be published only for them.
  explicit SideInputRegistry(std::vector<std::string> names);

  // Makes `value` the current value of value->name (a declared name; others are ignored
  // and return false) and wakes waiters. Readers see it at their next refresh.
  bool publish(SideInputPtr value);
  // The current value, or null before the first one.
  SideInputPtr current(std::string_view name) const;
  // The manager's last retrieval error for `name` ("" after a success), for the message
  // of a stage that gives up waiting, and for listings.
  void set_last_error(std::string_view name, std::string error);
  std::string last_error(std::string_view name) const;

  // Bumped by every publish (release); readers compare it with what they last saw.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Blocks until every side input in `names` has a value, `deadline` passes, or
  // `cancelled()` turns true (checked at least every 50 ms). Returns the names still
  // without a value (empty: all there).
  std::vector<std::string> wait_for(const std::vector<std::string>& names,
                                    std::chrono::steady_clock::time_point deadline,
                                    const std::function<bool()>& cancelled) const;
  // The declared side inputs without a value yet (for /readyz).
  std::vector<std::string> missing() const;

 private:
  struct Slot {
    std::string name;
    SideInputPtr value;
    std::string last_error;
  };
  const Slot* find_locked(std::string_view name) const;
  Slot* find_locked(std::string_view name);

  mutable std::mutex mutex_;
  mutable std::condition_variable published_;
  std::vector<Slot> slots_;  // guarded by mutex_; one per declared name, in order
  std::atomic<uint64_t> generation_{0};
};

class SideInputSnapshot {
 public:
  // `names`: the side inputs one stage declared (each declared in `registry`).
  SideInputSnapshot(const SideInputRegistry& registry, std::vector<std::string> names);

  // Takes the registry's current values if anything was published since the last
  // refresh. Appends to *changed (when given) the values whose version differs from
  // what this snapshot held. Returns true when anything changed.
  bool refresh(std::vector<const SideInputValue*>* changed = nullptr);

  // The value this snapshot holds for `name`, or null (not declared by the stage, or no
  // value yet). Valid until the next refresh. No lock, no allocation.
  const SideInputValue* find(std::string_view name) const {
    for (const Entry& e : entries_)
      if (e.name == name) return e.value.get();
    return nullptr;
  }
  bool declares(std::string_view name) const {
    for (const Entry& e : entries_)
      if (e.name == name) return true;
    return false;
  }

 private:
  struct Entry {
    std::string name;
    SideInputPtr value;
  };
  const SideInputRegistry& registry_;
  std::vector<Entry> entries_;
  uint64_t seen_generation_ = UINT64_MAX;  // forces the first refresh
};

}  // namespace sluice::host
