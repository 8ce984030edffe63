#include "reduce_runner.h"

#include <charconv>
#include <chrono>
#include <cstring>

#include "sluice/host/lineage.h"
#include "sluice/host/log.h"

namespace sluice::host {

// One window's results as a lineage record: live = outputs not yet finished downstream
// + 1 while the window is open (+1 during each call). At zero, the window's messages are
// released (each one's lineage counted this window as a descendant).
struct ReduceRunner::WindowResults final : LineageOwner {
  WindowResults() { lineage.reset(this, ""); }
  void on_complete(Lineage*) noexcept override {
    for (Lineage* l : held) l->adjust(-1);
    delete this;
  }
  Lineage lineage;
  std::vector<Lineage*> held;
};

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<WindowBook> make_book(const ReducePlan& p) {
  std::string error;
  std::unique_ptr<WindowBook> book;
  switch (p.window) {
    case ReducePlan::Window::kFixed:
      book = WindowBook::aligned(*WindowAssigner::fixed(p.length_ms, &error), p.allowed_lateness_ms, &error);
      break;
    case ReducePlan::Window::kSliding:
      book = WindowBook::aligned(*WindowAssigner::sliding(p.length_ms, p.slide_ms, &error),
                                 p.allowed_lateness_ms, &error);
      break;
    case ReducePlan::Window::kSession:
      book = WindowBook::session(p.gap_ms, p.allowed_lateness_ms, &error);
      break;
  }
  if (!book) throw std::logic_error("reduce plan passed the planner but not the window book: " + error);
  return book;
}

}  // namespace

ReduceRunner::ReduceRunner(FlowRuntime::State& flow, StageRuntime& stage, PluginInstance& instance,
                           sluice_ctx& ctx, StageEmitter& emitter)
    : flow_(flow), stage_(stage), plan_(*stage.plan->reduce), instance_(instance), ctx_(ctx),
      emitter_(emitter), book_(make_book(plan_)) {}

ReduceRunner::~ReduceRunner() = default;

ReduceRunner::Slot& ReduceRunner::slot(WindowId id) {
  if (id >= slots_.size()) slots_.resize(book_->id_limit() > id ? book_->id_limit() : id + 1);
  return slots_[id];
}

// Each key with its NUL bytes escaped ("\0" -> "\0\1"), then "\0\0". Comparing two
// encodings bytewise compares their key lists element by element, bytewise, shorter
// first: the order the window book reports closed windows in (docs/reduce.md).
void ReduceRunner::encode_keys(MessageBatch& batch, size_t i) {
  key_.clear();
  if (!plan_.keyed) return;
  for (size_t k = 0; k < batch.key_count(i); ++k) {
    const std::string_view key = batch.key(i, k);
    if (key.find('\0') == std::string_view::npos) {
      key_.append(key);
    } else {
      for (char c : key) {
        key_ += c;
        if (c == '\0') key_ += '\1';
      }
    }
    key_.append(2, '\0');
  }
}

void ReduceRunner::decode_keys(const std::string& key) {
  keys_.clear();
  decoded_.clear();
  decoded_.reserve(key.size());  // views into it stay valid: it never grows past this
  for (size_t pos = 0; pos + 1 < key.size();) {
    const size_t end = key.find(std::string_view("\0\0", 2), pos);
    if (end == std::string::npos) break;
    const std::string_view part(key.data() + pos, end - pos);
    if (part.find('\0') == std::string_view::npos) {
      keys_.push_back({part.data(), part.size()});  // the common case: a view, no copy
    } else {
      const size_t from = decoded_.size();
      for (size_t j = 0; j < part.size(); ++j) {
        decoded_ += part[j];
        if (part[j] == '\0') ++j;  // skip the escape's "\1"
      }
      keys_.push_back({decoded_.data() + from, decoded_.size() - from});
    }
    pos = end + 2;
  }
}

void ReduceRunner::hold(Slot& s, Lineage* lineage) {
  if (!s.results) s.results = new WindowResults();
  s.results->held.push_back(lineage);
}

bool ReduceRunner::call(Slot& s, uint32_t flags, MessageBatch* batch, const std::vector<uint32_t>* indexes,
                        Slot* merged, const Window* merged_window) {
  decode_keys(s.key);
  // The window as a message: what outputs inherit unless they set their own. Its id
  // "w<start>-<end>" is formatted only when the bounds differ from the last call's: this
  // runs once per (window, key) per input batch, which with many keys is about once per
  // message, and with fixed windows all keys share the same bounds.
  if (id_size_ == 0 || s.window.start != id_window_.start || s.window.end != id_window_.end) {
    char* p = id_;
    *p++ = 'w';
    p = std::to_chars(p, id_ + sizeof id_, s.window.start).ptr;
    *p++ = '-';
    p = std::to_chars(p, id_ + sizeof id_, s.window.end).ptr;
    id_size_ = static_cast<size_t>(p - id_);
    id_window_ = s.window;
  }
  sluice_message parent{};
  parent.struct_size = sizeof(parent);
  parent.id = {id_, id_size_};
  parent.keys = keys_.data();
  parent.key_count = keys_.size();
  parent.event_time = s.window.end - 1;
  parent.watermark = watermark_;

  sluice_batch b{};
  b.struct_size = sizeof(b);
  b.flags = flags;
  b.watermark = watermark_;
  b.window_start = s.window.start;
  b.window_end = s.window.end;
  b.window_state = &s.state;
  b.window_keys = keys_.data();
  b.window_key_count = keys_.size();
  if (merged != nullptr) {
    b.merged_state = merged->state;
    b.merged_start = merged_window->start;
    b.merged_end = merged_window->end;
  }
  if (batch != nullptr && indexes != nullptr && !indexes->empty()) {
    const sluice_message* const* view = batch->view();
    subset_.resize(indexes->size());
    for (size_t i = 0; i < indexes->size(); ++i) subset_[i] = view[(*indexes)[i]];
    b.messages = subset_.data();
    b.count = subset_.size();
  }
  Lineage* lineage = s.results ? &s.results->lineage : nullptr;
  if (lineage) lineage->adjust(1);  // the call's stand-in parent; commit nets the outputs
  emitter_.begin_window_call(&parent, lineage);
  // Not timed here: the callers time their whole run of calls (see deliver_pending).
  const sluice_status status = instance_.process(&ctx_, b);
  if (status != SLUICE_OK) {
    emitter_.rollback();
    if (lineage) lineage->adjust(-1);
    bump(stage_.metrics->errors);
    const char* what = (flags & SLUICE_BATCH_WINDOW_CLOSE)   ? "closing"
                       : (flags & SLUICE_BATCH_WINDOW_MERGE) ? "merging into"
                       : (flags & SLUICE_BATCH_WINDOW_DISCARD) ? "discarding"
                                                              : "adding to";
    flow_.fail(stage_.plan->name, std::string(what) + " window [" + std::to_string(s.window.start) + ", " +
                                      std::to_string(s.window.end) + ") failed (a reduce does not retry: " +
                                      "its window state cannot be replayed): " + ctx_.error);
    return false;
  }
  emitter_.commit(nullptr);
  return true;
}

void ReduceRunner::late(MessageBatch& batch, size_t i) {
  bump(stage_.metrics->late);
  Lineage* lineage = batch.lineage(i);
  if (plan_.route_late) {
    // Passed on unchanged but for the tag, to the edges whose `when` wants it.
    const sluice_message& m = batch.message(i);
    const sluice_str tag = {kLateTag, std::strlen(kLateTag)};
    sluice_output out{};
    out.struct_size = sizeof(out);
    out.keys = m.keys;
    out.key_count = m.key_count;
    if (m.key_count == 0) out.flags |= SLUICE_OUTPUT_NO_KEYS;
    out.value = m.value;
    out.event_time = m.event_time;
    out.headers = m.headers;
    out.header_count = m.header_count;
    out.flags |= SLUICE_OUTPUT_NO_INHERITED_HEADERS;
    out.tags = &tag;
    out.tag_count = 1;
    const uint32_t index = static_cast<uint32_t>(i);
    emitter_.begin_call(&batch, &index, 1);
    emitter_.on_emit(0, out);
    emitter_.commit(nullptr);
    return;
  }
  bump(stage_.metrics->dropped);
  if (lineage) lineage->adjust(-1);
  const Clock::time_point now = Clock::now();
  if (now >= next_late_log_) {
    next_late_log_ = now + std::chrono::seconds(10);
    log(LogLevel::kWarn, stage_.plan->name,
        "late message dropped (event time " + std::to_string(batch.message(i).event_time) +
            " ms, watermark " + std::to_string(watermark_) + " ms; counted in "
            "sluice_reduce_late_messages_total; raise maxDelay or allowedLateness, or route them "
            "with late: route); at most one such line per 10 s");
  }
}

bool ReduceRunner::on_batch(MessageBatch& batch, int64_t watermark) {
  const int64_t now = wall_ms();
  for (size_t i = 0; i < batch.size(); ++i) {
    int64_t t = batch.message(i).event_time;
    if (t == SLUICE_TIME_UNSET) t = now;
    t = std::clamp(t, kMinEventTime, kMaxEventTime);
    encode_keys(batch, i);
    book_->add(key_, t, &added_);
    if (added_.late) {
      late(batch, i);
      continue;
    }
    WindowId first = added_.appended[0].id;
    // Sessions: fold the windows this message bridged into the first, at once (their
    // ids are released and may be handed out again by the next add).
    for (const WindowRef& m : added_.merged) {
      slot(std::max(first, m.id));  // both exist before either is referenced
      Slot& into = slots_[first];
      Slot& from = slots_[m.id];
      into.window = added_.appended[0].window;
      const Clock::time_point t0 = Clock::now();
      if (!call(into, SLUICE_BATCH_WINDOW_MERGE, nullptr, nullptr, &from, &m.window)) return false;
      stage_.metrics->process_seconds.record(Clock::now() - t0);
      from.state = nullptr;  // the reducer folded and freed it
      into.pending.insert(into.pending.end(), from.pending.begin(), from.pending.end());
      from.pending.clear();
      if (!into.touched && !into.pending.empty()) {
        into.touched = true;
        touched_.push_back(first);
      }
      if (from.results) {
        // The merged window's messages are now held by the survivor; its own record
        // lives on only for the outputs it already sent.
        if (!into.results) into.results = new WindowResults();
        into.results->held.insert(into.results->held.end(), from.results->held.begin(),
                                  from.results->held.end());
        from.results->held.clear();
        WindowResults* r = from.results;
        from.results = nullptr;
        r->lineage.adjust(-1);
      }
      from.touched = false;  // stale entries in touched_ are skipped (pending empty)
    }
    Lineage* lineage = batch.lineage(i);
    if (lineage && added_.appended.size() > 1) lineage->adjust(static_cast<int64_t>(added_.appended.size()) - 1);
    for (const WindowAppend& a : added_.appended) {
      Slot& s = slot(a.id);
      if (a.opened) {
        s.key.assign(key_);
        stage_.metrics->open_windows.fetch_add(1, std::memory_order_relaxed);
      }
      s.window = a.window;
      s.pending.push_back(static_cast<uint32_t>(i));
      if (!s.touched) {
        s.touched = true;
        touched_.push_back(a.id);
      }
      if (lineage) hold(s, lineage);
    }
  }
  if (!deliver_pending(batch)) return false;
  if (watermark != SLUICE_TIME_UNSET && (watermark_ == SLUICE_TIME_UNSET || watermark > watermark_)) {
    watermark_ = watermark;
    stage_.metrics->watermark.store(watermark_, std::memory_order_relaxed);
    book_->advance_watermark(watermark_, &closed_);
    if (!closed_.empty() && !close(closed_, /*discard=*/false)) return false;
  }
  return true;
}

bool ReduceRunner::deliver_pending(MessageBatch& batch) {
  // One append call per (window, key) touched by the batch: with many keys that is about
  // one call per message, so the calls are timed together, one process_seconds sample
  // per input batch (two clock reads per call cost more than a count reducer's call).
  const Clock::time_point t0 = Clock::now();
  bool called = false;
  for (WindowId id : touched_) {
    Slot& s = slots_[id];
    if (!s.touched) continue;
    s.touched = false;
    if (s.pending.empty()) continue;
    called = true;
    if (!call(s, 0, &batch, &s.pending)) return false;
    s.pending.clear();
  }
  touched_.clear();
  if (called) stage_.metrics->process_seconds.record(Clock::now() - t0);
  return true;
}

bool ReduceRunner::close(const std::vector<ClosedWindow>& closed, bool discard) {
  // Timed as a whole, like the appends: one sample per watermark step that closes windows.
  const Clock::time_point t0 = Clock::now();
  for (const ClosedWindow& c : closed) {
    Slot& s = slot(c.id);
    s.window = c.window;
    s.key = c.key;
    if (!call(s, discard ? SLUICE_BATCH_WINDOW_DISCARD : SLUICE_BATCH_WINDOW_CLOSE, nullptr, nullptr))
      return false;
    // Send full batches on as they fill: one watermark step can close a window for every
    // key (10,000 results), and one batch grown to hold them all would stay that large in
    // the batch pool; over a long run every pooled batch did (RSS grew with the messages).
    emitter_.flush_full();
    s.state = nullptr;
    stage_.metrics->open_windows.fetch_sub(1, std::memory_order_relaxed);
    if (!discard) bump(stage_.metrics->windows_closed);
    if (WindowResults* r = s.results) {
      s.results = nullptr;
      if (discard)  // let go: their sources are not acknowledged, and a replaying one re-reads them
        for (Lineage* l : r->held) l->abandon();
      r->lineage.adjust(-1);         // the window itself
    }
  }
  if (!closed.empty()) stage_.metrics->process_seconds.record(Clock::now() - t0);
  return true;
}

bool ReduceRunner::close_all() {
  book_->close_all(&closed_);
  return close(closed_, /*discard=*/false);
}

void ReduceRunner::release_after_failure() {
  // The flow failed: no result will be emitted and nothing acknowledged. The reducer
  // still frees what it keeps per window (a discard call each; their errors are moot),
  // and the window records go, their messages abandoned.
  book_->close_all(&closed_);
  for (const ClosedWindow& c : closed_) {
    Slot& s = slot(c.id);
    s.window = c.window;
    s.key = c.key;
    if (s.state != nullptr) call(s, SLUICE_BATCH_WINDOW_DISCARD, nullptr, nullptr);
    s.state = nullptr;
    stage_.metrics->open_windows.fetch_sub(1, std::memory_order_relaxed);
    if (WindowResults* r = s.results) {
      s.results = nullptr;
      for (Lineage* l : r->held) l->abandon();
      r->lineage.adjust(-1);
    }
  }
}

size_t ReduceRunner::discard_all() {
  book_->close_all(&closed_);
  const size_t n = closed_.size();
  if (n > 0)
    log(LogLevel::kWarn, stage_.plan->name,
        std::to_string(n) + " open window(s) not closed at the stop; their results were not emitted and "
        "their source messages are not acknowledged (a replaying source reads them again; "
        "sluice run --flush-windows closes them at a stop instead)");
  close(closed_, /*discard=*/true);
  return n;
}

}  // namespace sluice::host
