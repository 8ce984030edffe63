#include "sluice/host/window_book.h"

#include <algorithm>
#include <cassert>

namespace sluice::host {

namespace {

// Min-heap by end; ties by id so equal inputs always pop in the same order.
bool heap_after(const auto& a, const auto& b) {
  return a.end != b.end ? a.end > b.end : a.id > b.id;
}

bool valid_lateness(int64_t lateness, std::string* error) {
  if (lateness < 0 || lateness > kMaxEventTime) {
    if (error) {
      *error = "allowed lateness must be >= 0 ms and at most " + std::to_string(kMaxEventTime) +
               " (got " + std::to_string(lateness) + ")";
    }
    return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<WindowBook> WindowBook::aligned(const WindowAssigner& assigner,
                                                int64_t allowed_lateness_ms,
                                                std::string* error) {
  if (!valid_lateness(allowed_lateness_ms, error)) return nullptr;
  return std::unique_ptr<WindowBook>(new WindowBook(assigner, 0, allowed_lateness_ms));
}

std::unique_ptr<WindowBook> WindowBook::session(int64_t gap_ms, int64_t allowed_lateness_ms,
                                                std::string* error) {
  if (gap_ms <= 0 || gap_ms > kMaxEventTime) {
    if (error) {
      *error = "session window: gap must be > 0 ms and at most " +
               std::to_string(kMaxEventTime) + " (got " + std::to_string(gap_ms) + ")";
    }
    return nullptr;
  }
  if (!valid_lateness(allowed_lateness_ms, error)) return nullptr;
  return std::unique_ptr<WindowBook>(new WindowBook(std::nullopt, gap_ms, allowed_lateness_ms));
}

WindowBook::WindowBook(std::optional<WindowAssigner> assigner, int64_t gap,
                       int64_t allowed_lateness)
    : assigner_(assigner), gap_(gap), allowed_lateness_(allowed_lateness) {
  if (assigner_) scratch_.resize(assigner_->windows_per_time());
}

WindowBook::~WindowBook() = default;

void WindowBook::add(std::string_view key, int64_t event_time, AddResult* out) {
  assert(event_time >= kMinEventTime && event_time <= kMaxEventTime);
  out->clear();
  if (assigner_) {
    add_aligned(key, event_time, out);
  } else {
    add_session(key, event_time, out);
  }
  if (out->late) ++late_;
}

WindowBook::KeyMap::value_type* WindowBook::key_entry(std::string_view key) {
  const size_t hash = Hash{}(key);
  if (KeyMap::value_type* found = find_key(key, hash)) return found;
  KeyMap::value_type* entry = &*keys_.emplace(std::string(key), std::vector<WindowId>{}).first;
  index_insert(hash, entry);
  return entry;
}

WindowBook::KeyMap::value_type* WindowBook::find_key(std::string_view key, size_t hash) const {
  if (index_.empty()) return nullptr;
  const size_t mask = index_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const IndexEntry& e = index_[i];
    if (e.entry == nullptr) return nullptr;
    if (e.hash == hash && e.entry->first == key) return e.entry;
  }
}

void WindowBook::index_insert(size_t hash, KeyMap::value_type* entry) {
  // keys_ already holds the new entry: at most 3/4 full with it (a smaller table is
  // fewer cache misses; linear probing stays short at this load).
  if (keys_.size() * 4 > index_.size() * 3) {
    std::vector<IndexEntry> old(std::max<size_t>(16, index_.size() * 2));
    old.swap(index_);
    for (const IndexEntry& e : old)
      if (e.entry != nullptr) index_insert(e.hash, e.entry);
  }
  const size_t mask = index_.size() - 1;
  size_t i = hash & mask;
  while (index_[i].entry != nullptr) i = (i + 1) & mask;
  index_[i] = {hash, entry};
}

void WindowBook::index_erase(size_t hash, const KeyMap::value_type* entry) {
  const size_t mask = index_.size() - 1;
  size_t i = hash & mask;
  while (index_[i].entry != entry) i = (i + 1) & mask;
  // Backward shift: move later entries of the probe run into the hole when their home
  // slot is not cyclically within (hole, their position], so no lookup is cut short.
  for (size_t j = (i + 1) & mask; index_[j].entry != nullptr; j = (j + 1) & mask) {
    const size_t home = index_[j].hash & mask;
    const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    index_[i] = index_[j];
    i = j;
  }
  index_[i] = {};
}

WindowId WindowBook::open_window(KeyMap::value_type* key, Window w, size_t position) {
  WindowId id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    id = static_cast<WindowId>(slots_.size());
    slots_.emplace_back();
  }
  Slot& slot = slots_[id];
  slot.window = w;
  slot.messages = 0;
  slot.key = key;
  key->second.insert(key->second.begin() + static_cast<ptrdiff_t>(position), id);
  ++open_;
  push_heap_entry(id);
  return id;
}

void WindowBook::push_heap_entry(WindowId id) {
  heap_.push_back({slots_[id].window.end, id, slots_[id].generation});
  std::push_heap(heap_.begin(), heap_.end(),
                 [](const HeapEntry& a, const HeapEntry& b) { return heap_after(a, b); });
}

void WindowBook::release(WindowId id) {
  Slot& slot = slots_[id];
  slot.key = nullptr;
  ++slot.generation;
  free_ids_.push_back(id);
  --open_;
}

void WindowBook::add_aligned(std::string_view key, int64_t t, AddResult* out) {
  // The window that ends last decides lateness: if it is closed, all are.
  const Window last = assigner_->last_window(t);
  if (last.end <= close_bound_) {
    out->late = true;
    return;
  }
  KeyMap::value_type* entry = key_entry(key);
  std::vector<WindowId>& ids = entry->second;

  if (assigner_->windows_per_time() == 1) {
    // Fixed windows, in-order data: the window is usually the key's last one.
    size_t pos = ids.size();
    while (pos > 0 && slots_[ids[pos - 1]].window.start >= last.start) --pos;
    WindowId id;
    bool opened = false;
    if (pos < ids.size() && slots_[ids[pos]].window.start == last.start) {
      id = ids[pos];
    } else {
      id = open_window(entry, last, pos);
      opened = true;
    }
    ++slots_[id].messages;
    out->appended.push_back({id, last, opened});
    return;
  }

  const size_t n = assigner_->assign(t, scratch_.data());
  // ids and the message's windows are both sorted by start: walk them together.
  size_t pos = 0;
  for (size_t i = 0; i < n; ++i) {
    const Window w = scratch_[i];
    if (w.end <= close_bound_) {
      ++out->closed_skipped;
      continue;
    }
    while (pos < ids.size() && slots_[ids[pos]].window.start < w.start) ++pos;
    WindowId id;
    bool opened = false;
    if (pos < ids.size() && slots_[ids[pos]].window.start == w.start) {
      id = ids[pos];
    } else {
      id = open_window(entry, w, pos);
      opened = true;
    }
    ++pos;
    ++slots_[id].messages;
    out->appended.push_back({id, w, opened});
  }
}

void WindowBook::add_session(std::string_view key, int64_t t, AddResult* out) {
  const Window mine{t, t + gap_};
  KeyMap::value_type* found = find_key(key, Hash{}(key));
  // The key's sessions overlapping [t, t + gap) form the run ids[first, last).
  size_t first = 0, last = 0;
  if (found != nullptr) {
    const std::vector<WindowId>& ids = found->second;
    while (first < ids.size() && slots_[ids[first]].window.end <= mine.start) ++first;
    last = first;
    while (last < ids.size() && slots_[ids[last]].window.start < mine.end) ++last;
  }
  if (first == last) {
    // Overlaps no open session: a new one, unless it would be closed already.
    if (mine.end <= close_bound_) {
      out->late = true;
      return;
    }
    KeyMap::value_type* entry = found != nullptr ? found : key_entry(key);
    const WindowId id = open_window(entry, mine, first);
    slots_[id].messages = 1;
    out->appended.push_back({id, mine, true});
    return;
  }

  std::vector<WindowId>& ids = found->second;
  const WindowId survivor = ids[first];
  Slot& s = slots_[survivor];
  const Window before = s.window;
  Window merged{std::min(before.start, mine.start),
                std::max(slots_[ids[last - 1]].window.end, mine.end)};
  uint64_t messages = s.messages + 1;
  for (size_t i = first + 1; i < last; ++i) {
    const WindowId absorbed = ids[i];
    out->merged.push_back({absorbed, slots_[absorbed].window});
    messages += slots_[absorbed].messages;
    release(absorbed);
  }
  ids.erase(ids.begin() + static_cast<ptrdiff_t>(first + 1),
            ids.begin() + static_cast<ptrdiff_t>(last));
  // The survivor's heap entry keeps its old (smaller) end; advance_watermark() re-pushes
  // it when it surfaces. The absorbed windows' entries are stale by generation.
  s.window = merged;
  s.messages = messages;
  out->extended = !(merged == before);
  out->appended.push_back({survivor, merged, false});
}

void WindowBook::close_window(WindowId id, ClosedWindow* closed) {
  Slot& slot = slots_[id];
  KeyMap::value_type* entry = slot.key;
  closed->key = entry->first;
  closed->window = slot.window;
  closed->id = id;
  closed->messages = slot.messages;
  std::vector<WindowId>& ids = entry->second;
  ids.erase(std::find(ids.begin(), ids.end(), id));
  if (ids.empty()) {
    index_erase(Hash{}(entry->first), entry);
    keys_.erase(entry->first);  // `entry` dangles from here
  }
  release(id);
}

void WindowBook::sort_closed(std::vector<ClosedWindow>* closed) {
  std::sort(closed->begin(), closed->end(), [](const ClosedWindow& a, const ClosedWindow& b) {
    if (a.window.end != b.window.end) return a.window.end < b.window.end;
    if (a.key != b.key) return a.key < b.key;
    return a.window.start < b.window.start;
  });
}

void WindowBook::advance_watermark(int64_t watermark, std::vector<ClosedWindow>* closed) {
  closed->clear();
  if (watermark <= watermark_) return;
  watermark_ = watermark;
  // watermark - lateness, saturated at kNoWatermark (lateness >= 0, so only underflow).
  close_bound_ = watermark < kNoWatermark + allowed_lateness_ ? kNoWatermark
                                                               : watermark - allowed_lateness_;
  const auto after = [](const HeapEntry& a, const HeapEntry& b) { return heap_after(a, b); };
  while (!heap_.empty() && heap_.front().end <= close_bound_) {
    std::pop_heap(heap_.begin(), heap_.end(), after);
    const HeapEntry top = heap_.back();
    heap_.pop_back();
    const Slot& slot = slots_[top.id];
    if (slot.key == nullptr || slot.generation != top.generation) continue;  // stale
    if (slot.window.end > close_bound_) {
      push_heap_entry(top.id);  // a session that grew since it was pushed
      continue;
    }
    closed->emplace_back();
    close_window(top.id, &closed->back());
  }
  sort_closed(closed);
}

void WindowBook::close_all(std::vector<ClosedWindow>* closed) {
  closed->clear();
  closed->reserve(open_);
  for (WindowId id = 0; id < slots_.size(); ++id) {
    const Slot& slot = slots_[id];
    if (slot.key == nullptr) continue;
    closed->push_back({slot.key->first, slot.window, id, slot.messages});
  }
  sort_closed(closed);
  keys_.clear();
  index_.clear();
  slots_.clear();
  free_ids_.clear();
  heap_.clear();
  open_ = 0;
}

}  // namespace sluice::host
