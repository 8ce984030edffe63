// The bookkeeping of one reduce stage's open windows: which (key, window) every message
// goes into, when windows close, and which messages are late. It never holds messages;
// the engine keeps its own per-window state (buffered message refs, or a reducer fed
// incrementally) indexed by the WindowId this book hands out.
//
// Contract:
//   - Times are ms since epoch within [kMinEventTime, kMaxEventTime] (window_assigner.h);
//     windows are half-open [start, end).
//   - Watermark W means "no message with event time < W is expected any more". The book's
//     watermark starts at kNoWatermark (nothing is late) and only moves forward:
//     advance_watermark() with a value <= the current one does nothing.
//   - Closing rule, with allowed lateness L >= 0: a window closes as soon as
//     W >= end + L (end <= W - L). advance_watermark() returns exactly the windows that
//     this makes close. Until then the window accepts messages, including those arriving
//     after W passed its end (that is what the lateness allows).
//   - Late: a message is late when every window it would go into is closed (end <= W - L
//     at the time of add()). It goes into no window and is counted (late_messages());
//     the engine drops or routes it. Closed windows are forgotten, so "closed" is decided
//     by this rule, never by lookup: a window is never reopened.
//   - Fixed and sliding windows (WindowAssigner): a message goes into every window of
//     its event time that is still open. With sliding windows some of them may be closed
//     while later ones are not; the message then goes into the open ones only and
//     AddResult::closed_skipped says how many it missed.
//   - Session windows (gap > 0): a message at t stands for [t, t + gap). Within one key,
//     sessions are disjoint; the message joins every open session that overlaps
//     [t, t + gap) (strictly: s < t + gap and t < e; touching intervals do not overlap,
//     so messages exactly `gap` apart are in different sessions, as a message at a fixed
//     window's end is in the next window). Joining one session may extend it either way;
//     joining two or more merges them into the one that starts first (its id survives;
//     the others are reported in AddResult::merged and their ids released). A session
//     Every session is at least `gap` long, so one message bridges at most two; longer
//     chains merge one message at a time. A session
//     that would be born already closed (t + gap <= W - L, overlapping no open session)
//     makes the message late. A message that overlaps only a session closed earlier opens
//     a new session (the closed one is not reopened).
//   - Order: advance_watermark() and close_all() report windows ordered by end, then key
//     (bytewise), then start; the same inputs give the same outputs, call for call.
//   - Memory is proportional to open windows (and their keys): a closed window and a key
//     with no open window are forgotten. The common fixed-window add() allocates nothing
//     once the key's window is open and the caller reuses its AddResult.
//
// How the engine uses it (either style works with the same calls):
//   - Streaming: on an append to an `opened` window, set up reducer state for its id;
//     feed the message to state[id]. On a merge, fold state[absorbed.id] into
//     state[appended[0].id] and drop it. On close, finish state[id] with the window
//     bounds and key given, then drop it (the id may be handed out again).
//   - Buffering: buffers[id].push_back(msg_ref) on every append; on a merge, move the
//     absorbed buffers into the survivor's; on close, hand buffers[id] to the reducer
//     with SLUICE_BATCH_WINDOW_CLOSE.
//   Ids are dense and small (below id_limit()), so state can be a flat vector.
//
// Thread-safety: none; one book per stage worker (or guard it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sluice/host/window_assigner.h"

namespace sluice::host {

// An open window's handle: unique among open windows, reused after it closes or is merged
// away. Always below WindowBook::id_limit().
using WindowId = uint32_t;

struct WindowRef {
  WindowId id = 0;
  Window window;
};

struct WindowAppend {
  WindowId id = 0;
  Window window;        // bounds after this message (sessions grow)
  bool opened = false;  // this message opened the window
};

// What add() did with one message. Reuse one across calls: its vectors keep their
// capacity, which is what keeps add() allocation-free.
struct AddResult {
  bool late = false;             // went into no window (see the contract)
  uint32_t closed_skipped = 0;   // sliding: windows of its time already closed
  std::vector<WindowAppend> appended;  // the windows it went into, by start
  // Sessions: windows merged into appended[0] by this message, with their bounds before
  // the merge, by start. Their ids are released.
  std::vector<WindowRef> merged;
  bool extended = false;         // sessions: appended[0] already existed and grew

  void clear() {
    late = false;
    closed_skipped = 0;
    appended.clear();
    merged.clear();
    extended = false;
  }
};

struct ClosedWindow {
  std::string key;
  Window window;
  WindowId id = 0;        // released: valid for the engine's lookup until its next add()
  uint64_t messages = 0;  // messages appended (for merged sessions: all of them)
};

class WindowBook {
 public:
  // Fixed or sliding windows. allowed_lateness_ms must be in [0, kMaxEventTime].
  static std::unique_ptr<WindowBook> aligned(const WindowAssigner& assigner,
                                             int64_t allowed_lateness_ms, std::string* error);
  // Session windows: gap_ms in (0, kMaxEventTime], allowed_lateness_ms as above.
  static std::unique_ptr<WindowBook> session(int64_t gap_ms, int64_t allowed_lateness_ms,
                                             std::string* error);

  WindowBook(const WindowBook&) = delete;
  WindowBook& operator=(const WindowBook&) = delete;
  ~WindowBook();

  // Puts a message of `key` at `event_time` into its windows; *out says which (cleared
  // first). Ids in *out are valid until the next advance_watermark() or close_all().
  void add(std::string_view key, int64_t event_time, AddResult* out);

  // Moves the watermark to `watermark` (ignored unless it is later than the current one)
  // and replaces *closed with the windows that close now, in the contract's order.
  void advance_watermark(int64_t watermark, std::vector<ClosedWindow>* closed);

  // Closes every open window (the job's end), in the contract's order. The book is empty
  // afterwards; the watermark is unchanged.
  void close_all(std::vector<ClosedWindow>* closed);

  size_t open_windows() const { return open_; }
  size_t open_keys() const { return keys_.size(); }
  uint64_t late_messages() const { return late_; }
  int64_t watermark() const { return watermark_; }
  // Every id handed out so far is below this (size the engine's per-window table by it).
  size_t id_limit() const { return slots_.size(); }
  bool is_session() const { return gap_ > 0; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };
  // A key's open windows, sorted by start (disjoint for sessions).
  using KeyMap = std::unordered_map<std::string, std::vector<WindowId>, Hash, Eq>;
  struct Slot {
    Window window;
    uint64_t messages = 0;
    uint32_t generation = 0;          // bumped on release: tells stale heap entries apart
    KeyMap::value_type* key = nullptr;  // null while free; map nodes never move
  };
  // Closing candidates, a min-heap by end. An entry's end may be below its window's
  // (sessions grow without re-pushing; the entry is re-pushed when it surfaces), and an
  // entry whose generation no longer matches its slot is stale (merged away).
  struct HeapEntry {
    int64_t end;
    WindowId id;
    uint32_t generation;
  };

  WindowBook(std::optional<WindowAssigner> assigner, int64_t gap, int64_t allowed_lateness);

  void add_aligned(std::string_view key, int64_t t, AddResult* out);
  void add_session(std::string_view key, int64_t t, AddResult* out);
  // The key's entry, made if absent.
  KeyMap::value_type* key_entry(std::string_view key);
  // The key's entry, or null. `hash` is Hash{}(key).
  KeyMap::value_type* find_key(std::string_view key, size_t hash) const;
  void index_insert(size_t hash, KeyMap::value_type* entry);
  void index_erase(size_t hash, const KeyMap::value_type* entry);
  WindowId open_window(KeyMap::value_type* key, Window w, size_t position);
  void release(WindowId id);
  void push_heap_entry(WindowId id);
  // Removes `id` from its key's list (erasing the key when it has no window left) and
  // releases it. Fills *closed first.
  void close_window(WindowId id, ClosedWindow* closed);
  static void sort_closed(std::vector<ClosedWindow>* closed);

  const std::optional<WindowAssigner> assigner_;  // aligned windows
  const int64_t gap_;                             // session windows (> 0)
  const int64_t allowed_lateness_;
  int64_t watermark_ = kNoWatermark;
  int64_t close_bound_ = kNoWatermark;  // watermark - lateness (saturated): end <= it is closed
  size_t open_ = 0;
  uint64_t late_ = 0;
  KeyMap keys_;  // owns the keys' entries; looked up through index_, not find()
  // An open-addressing index over keys_ (linear probing, backward-shift erase, at most
  // 3/4 full). Every message looks its key up, and with thousands of keys each lookup
  // misses the cache: std::unordered_map reads the bucket, the node before the match
  // (its singly linked list) and the node, three dependent misses; this reads one entry
  // (hash compared first) and the node. Its size follows the most keys open at once.
  struct IndexEntry {
    size_t hash = 0;
    KeyMap::value_type* entry = nullptr;  // null: free
  };
  std::vector<IndexEntry> index_;  // a power of two in size (or empty)
  std::vector<Slot> slots_;
  std::vector<WindowId> free_ids_;
  std::vector<HeapEntry> heap_;
  std::vector<Window> scratch_;  // a message's sliding windows
};

}  // namespace sluice::host
