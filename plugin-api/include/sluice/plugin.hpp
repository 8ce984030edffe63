// sluice/plugin.hpp -- write a Sluice plugin as a small C++ class.
//
// A header-only layer over the C ABI in <sluice/plugin.h>. It adds no ABI of its own:
// what crosses the boundary is still only the C structs. What it gives you:
//   - views (Message, Batch) over the host's input, with std::string_view accessors;
//   - a Context to emit outputs, respond to requests, set outcomes and log;
//   - a Library builder that turns your classes into sluice_type tables;
//   - exception safety: every exception thrown by your code is caught at the boundary
//     and becomes an error status with its what() message. Nothing ever unwinds into
//     the host.
//
// A complete map plugin:
//
//   #include <sluice/plugin.hpp>
//
//   class Upper {
//    public:
//     explicit Upper(const sluice::CreateArgs&) {}
//     void process(sluice::Context& ctx, const sluice::Batch& batch) {
//       for (size_t i = 0; i < batch.size(); ++i) {
//         std::string v(batch[i].value());
//         for (char& c : v) c = std::toupper(static_cast<unsigned char>(c));
//         ctx.emit(i, v);
//       }
//     }
//   };
//
//   SLUICE_PLUGIN("my-plugins", lib) {
//     lib.add<Upper>({"upper", SLUICE_KIND_MAP, "1.0.0", "upper-cases each value"});
//   }
//
// A stage class T needs:
//   T(const sluice::CreateArgs&)                  -- throw sluice::ConfigError on bad config
//   R process(sluice::Context&, const sluice::Batch&)  -- R is void or sluice_status
// and may have (found by name, used when present):
//   R ack(sluice::Context&, const sluice::Batch&)      -- sources that commit offsets
//   R finish(sluice::Context&)                         -- end of input: flush, close
//   static void check(const sluice::CreateArgs&)       -- `sluice check`'s deep config
//                                                         check; throw ConfigError (1.2)
//   int64_t pending()                                  -- sources: backlog, -1 unknown (1.2);
//                                                         exactly int64_t (a size_t or an
//                                                         optional is not found)
//
// Threads: unless the type is registered with SLUICE_TYPE_THREAD_SAFE, one object is
// only ever called by one thread at a time, so members need no locking.
#ifndef SLUICE_PLUGIN_HPP
#define SLUICE_PLUGIN_HPP

#include <sluice/plugin.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace sluice {

// Thrown from a constructor when the stage's config is invalid: the flow does not start
// and the message is shown to the user (name the key and say what is expected).
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown when the instance cannot go on at all: the flow fails.
class FatalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
// The host's service table, received by the entry symbol. The slot is defined by
// SLUICE_PLUGIN in the plugin's own code, never as a static in an inline function: a
// plugin compiled without hidden visibility would export such a static as a
// process-wide STB_GNU_UNIQUE symbol and share it with every other such plugin.
const sluice_host*& host_slot();
inline const sluice_host* host_table() { return host_slot(); }
inline std::string_view view(sluice_str s) { return {s.data ? s.data : "", s.size}; }
inline sluice_str str(std::string_view s) { return {s.data(), s.size()}; }
}  // namespace detail

// A read-only view of one input message; valid only during the call that received it.
class Message {
 public:
  explicit Message(const sluice_message* m) : m_(m) {}

  std::string_view id() const { return detail::view(m_->id); }
  std::string_view value() const {
    return {reinterpret_cast<const char*>(m_->value.data), m_->value.size};
  }
  size_t key_count() const { return m_->key_count; }
  std::string_view key(size_t i) const { return detail::view(m_->keys[i]); }
  std::vector<std::string_view> keys() const {
    std::vector<std::string_view> out;
    out.reserve(m_->key_count);
    for (size_t i = 0; i < m_->key_count; ++i) out.push_back(key(i));
    return out;
  }
  int64_t event_time() const { return m_->event_time; }  // ms, or SLUICE_TIME_UNSET
  int64_t watermark() const { return m_->watermark; }    // ms, or SLUICE_TIME_UNSET
  size_t header_count() const { return m_->header_count; }
  const sluice_header& header_at(size_t i) const { return m_->headers[i]; }
  // The value of the first header named `name` (exact match), if any.
  std::optional<std::string_view> header(std::string_view name) const {
    for (size_t i = 0; i < m_->header_count; ++i)
      if (detail::view(m_->headers[i].key) == name) return detail::view(m_->headers[i].value);
    return std::nullopt;
  }
  size_t tag_count() const { return m_->tag_count; }
  std::string_view tag(size_t i) const { return detail::view(m_->tags[i]); }
  const sluice_message* raw() const { return m_; }

 private:
  const sluice_message* m_;
};

// A read-only view of the batch passed to process / ack.
class Batch {
 public:
  explicit Batch(const sluice_batch* b) : b_(b) {}
  size_t size() const { return b_->count; }
  bool empty() const { return b_->count == 0; }
  Message operator[](size_t i) const { return Message(b_->messages[i]); }
  int64_t watermark() const { return b_->watermark; }
  size_t max_messages() const { return b_->max_messages; }  // sources
  int64_t budget_us() const { return b_->budget_us; }       // sources
  int64_t window_start() const { return b_->window_start; } // reduce
  int64_t window_end() const { return b_->window_end; }     // reduce
  bool closes_window() const { return (b_->flags & SLUICE_BATCH_WINDOW_CLOSE) != 0; }
  // Reduce, ABI 1.4 (see "The reduce contract" in plugin.h). False / empty / null from
  // an older host.
  bool merges_window() const { return has_reduce() && (b_->flags & SLUICE_BATCH_WINDOW_MERGE) != 0; }
  bool discards_window() const { return has_reduce() && (b_->flags & SLUICE_BATCH_WINDOW_DISCARD) != 0; }
  size_t window_key_count() const { return has_reduce() ? b_->window_key_count : 0; }
  std::string_view window_key(size_t k) const {
    return std::string_view(b_->window_keys[k].data, b_->window_keys[k].size);
  }
  int64_t merged_start() const { return has_reduce() ? b_->merged_start : SLUICE_TIME_UNSET; }
  int64_t merged_end() const { return has_reduce() ? b_->merged_end : SLUICE_TIME_UNSET; }
  // The window's state slot: null when the window opens; the reducer owns what it puts
  // there. window_state<S>() below does the usual new/delete dance.
  void*& state_slot() const { return *b_->window_state; }
  void* merged_state() const { return has_reduce() ? b_->merged_state : nullptr; }
  const sluice_batch* raw() const { return b_; }

 private:
  bool has_reduce() const {
    return b_->struct_size >= offsetof(sluice_batch, window_key_count) + sizeof(b_->window_key_count) &&
           b_->window_state != nullptr;
  }
  const sluice_batch* b_;
};

// A reducer's per-window state of type S, created (value-initialised) on the window's
// first call and kept in the host's slot for it:
//
//   void process(sluice::Context& ctx, const sluice::Batch& b) {
//     if (b.merges_window()) { fold(sluice::window_state<Sum>(b), sluice::take_merged_state<Sum>(b)); return; }
//     if (b.closes_window() || b.discards_window()) {
//       std::unique_ptr<Sum> s = sluice::take_window_state<Sum>(b);   // freed on return
//       if (b.closes_window()) ctx.emit(std::to_string(s ? s->total : 0));
//       return;
//     }
//     for (size_t i = 0; i < b.size(); ++i) sluice::window_state<Sum>(b).total += parse(b[i].value());
//   }
template <class S>
S& window_state(const Batch& b) {
  void*& slot = b.state_slot();
  if (slot == nullptr) slot = new S();
  return *static_cast<S*>(slot);
}
// Takes the state out of the slot (close, discard): the caller now owns it. Null when
// the window never stored one.
template <class S>
std::unique_ptr<S> take_window_state(const Batch& b) {
  void*& slot = b.state_slot();
  std::unique_ptr<S> s(static_cast<S*>(slot));
  slot = nullptr;
  return s;
}
// The state of the window a merge call folds in (the caller now owns it).
template <class S>
std::unique_ptr<S> take_merged_state(const Batch& b) {
  return std::unique_ptr<S>(static_cast<S*>(b.merged_state()));
}

// An output under construction. Strings are copied into the Output, so it may be
// built from temporaries. Reusing one Output (clear()) keeps its string buffers; each
// emit of it still builds small view arrays. On a hot path with only a value to send,
// Context::emit(i, value) and Context::emit_raw allocate nothing.
class Output {
 public:
  Output() = default;
  explicit Output(std::string_view value) : value_(value) {}

  Output& value(std::string_view v) { value_.assign(v.data(), v.size()); return *this; }
  // Set explicit keys (without a call, the input's keys are kept).
  Output& keys(std::initializer_list<std::string_view> ks) {
    keys_set_ = true;
    keys_.assign(ks.begin(), ks.end());
    return *this;
  }
  Output& keys(const std::vector<std::string>& ks) {
    keys_set_ = true;
    keys_.assign(ks.begin(), ks.end());
    return *this;
  }
  // No keys at all (rather than the input's).
  Output& no_keys() { keys_set_ = true; keys_.clear(); return *this; }
  // Only the headers given here, none of the input's.
  Output& no_inherited_headers() { inherit_headers_ = false; return *this; }
  Output& tag(std::string_view t) { tags_.emplace_back(t); return *this; }
  Output& drop() { return tag(SLUICE_TAG_DROP); }
  Output& header(std::string_view k, std::string_view v) {
    headers_.emplace_back(std::string(k), std::string(v));
    return *this;
  }
  Output& event_time(int64_t ms) { event_time_ = ms; return *this; }
  // Source only: the source's own id for this message, handed back by ack().
  Output& id(std::string_view id) { id_.assign(id.data(), id.size()); return *this; }
  void clear() {
    value_.clear(); keys_.clear(); tags_.clear(); headers_.clear(); id_.clear();
    keys_set_ = false; inherit_headers_ = true; event_time_ = SLUICE_TIME_UNSET;
  }

  // Fills `out` with views into this Output (valid while it is unchanged).
  void to_c(sluice_output& out, std::vector<sluice_str>& key_views,
            std::vector<sluice_str>& tag_views,
            std::vector<sluice_header>& header_views) const {
    key_views.clear(); tag_views.clear(); header_views.clear();
    for (const auto& k : keys_) key_views.push_back(detail::str(k));
    for (const auto& t : tags_) tag_views.push_back(detail::str(t));
    for (const auto& h : headers_)
      header_views.push_back({detail::str(h.first), detail::str(h.second)});
    out = sluice_output{};
    out.struct_size = sizeof(sluice_output);
    out.value = {reinterpret_cast<const uint8_t*>(value_.data()), value_.size()};
    // No keys given inherits the input's; explicitly none is a flag.
    out.keys = key_views.empty() ? nullptr : key_views.data();
    out.key_count = key_views.size();
    if (keys_set_ && keys_.empty()) out.flags |= SLUICE_OUTPUT_NO_KEYS;
    if (!inherit_headers_) out.flags |= SLUICE_OUTPUT_NO_INHERITED_HEADERS;
    out.event_time = event_time_;
    out.headers = header_views.empty() ? nullptr : header_views.data();
    out.header_count = header_views.size();
    out.tags = tag_views.empty() ? nullptr : tag_views.data();
    out.tag_count = tag_views.size();
    out.id = detail::str(id_);
  }

 private:
  std::string value_;
  std::vector<std::string> keys_;
  std::vector<std::string> tags_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string id_;
  bool keys_set_ = false;
  bool inherit_headers_ = true;
  int64_t event_time_ = SLUICE_TIME_UNSET;
};

// The host's callbacks for the current call. Valid only during that call, on its thread.
// Methods throw std::runtime_error when the host refuses a call (a bug in the plugin:
// wrong index or a callback the stage kind may not use).
class Context {
 public:
  explicit Context(sluice_ctx* ctx) : ctx_(ctx) {}

  // Emit `value` derived from input `input` (SLUICE_NO_INPUT for sources), inheriting
  // the input's keys, event time and headers. Allocates nothing.
  void emit(size_t input, std::string_view value) {
    sluice_output out{};
    out.struct_size = sizeof(sluice_output);
    out.value = {reinterpret_cast<const uint8_t*>(value.data()), value.size()};
    out.event_time = SLUICE_TIME_UNSET;
    check(detail::host_table()->emit(ctx_, input, &out), "emit");
  }
  void emit(size_t input, const Output& o) {
    sluice_output out;
    o.to_c(out, key_views_, tag_views_, header_views_);
    check(detail::host_table()->emit(ctx_, input, &out), "emit");
  }
  // Emit a C output struct as it is (the fastest path: nothing is copied on this side).
  void emit_raw(size_t input, const sluice_output& out) {
    check(detail::host_table()->emit(ctx_, input, &out), "emit");
  }
  // Emit from a source (no input message).
  void emit(std::string_view value) { emit(SLUICE_NO_INPUT, value); }
  void emit(const Output& o) { emit(SLUICE_NO_INPUT, o); }
  // Sink: answer the request that input `input` belongs to with `value`.
  void respond(size_t input, std::string_view value) {
    check(detail::host_table()->respond(
              ctx_, input, {reinterpret_cast<const uint8_t*>(value.data()), value.size()}),
          "respond");
  }
  // Sink: the outcome of input `input`. Map: outcome FAILED fails that message alone.
  void outcome(size_t input, sluice_outcome outcome, std::string_view reason = {}) {
    check(detail::host_table()->set_outcome(ctx_, input, outcome, reason.data(),
                                            reason.size()),
          "set_outcome");
  }
  void retry(size_t input, std::string_view reason = {}) {
    outcome(input, SLUICE_OUTCOME_RETRY, reason);
  }
  void fail(size_t input, std::string_view reason) {
    outcome(input, SLUICE_OUTCOME_FAILED, reason);
  }
  void log(sluice_log_level level, std::string_view message) const {
    detail::host_table()->log(ctx_, level, message.data(), message.size());
  }
  sluice_ctx* raw() const { return ctx_; }

  // The current value of side input `name` (one the stage lists in sideInputs:), valid
  // until the call returns; its version in *version when given. Throws when the host
  // refuses (the stage does not list it) or is older than ABI 1.3. No lock, no
  // allocation.
  std::string_view side_input(std::string_view name, uint64_t* version = nullptr) const {
    const sluice_host* h = detail::host_table();
    if (h->struct_size < offsetof(sluice_host, side_input) + sizeof(h->side_input) ||
        h->side_input == nullptr)
      throw std::runtime_error("side_input needs a host with plugin ABI 1.3 or newer");
    sluice_bytes v{};
    check(h->side_input(ctx_, name.data(), name.size(), &v, version), "side_input");
    return {reinterpret_cast<const char*>(v.data), v.size};
  }

 private:
  static void check(sluice_status s, const char* what) {
    if (s < 0) throw std::runtime_error(std::string("host refused ") + what);
  }
  sluice_ctx* ctx_;
  std::vector<sluice_str> key_views_, tag_views_;
  std::vector<sluice_header> header_views_;
};

// The arguments of create, as views (valid during the constructor only: copy what you
// keep).
struct CreateArgs {
  explicit CreateArgs(const sluice_create_args& a)
      : kind(a.kind), type_name(or_empty(a.type_name)), stage_name(or_empty(a.stage_name)),
        config_json(a.config_json ? a.config_json : "{}"), flow_dir(or_empty(a.flow_dir)),
        worker_index(a.worker_index), worker_count(a.worker_count),
        flow_mode(a.struct_size >= offsetof(sluice_create_args, flow_mode) + sizeof(uint32_t)
                      ? a.flow_mode
                      : SLUICE_FLOW_JOB) {}
  static const char* or_empty(const char* s) { return s ? s : ""; }
  sluice_kind kind;
  std::string_view type_name;
  std::string_view stage_name;
  std::string_view config_json;
  std::string_view flow_dir;
  uint32_t worker_index;
  uint32_t worker_count;
  uint32_t flow_mode;  // SLUICE_FLOW_JOB or SLUICE_FLOW_STREAMING (ABI 1.1; JOB before)
  bool streaming() const { return flow_mode == SLUICE_FLOW_STREAMING; }
};

// How a type presents itself. The strings must outlive the library (use literals).
struct TypeInfo {
  const char* name;
  uint32_t kinds;
  const char* version = nullptr;
  const char* description = nullptr;
  const char* config_schema = nullptr;  // JSON Schema text, or nullptr
  uint32_t flags = 0;                   // SLUICE_TYPE_THREAD_SAFE
};

// Logs through the host from anywhere (no ctx): the entry function, your own threads.
inline void log(sluice_log_level level, std::string_view message) {
  if (const sluice_host* h = detail::host_table())
    h->log(nullptr, level, message.data(), message.size());
}

namespace detail {

// Runs f() and turns every exception into a status plus an error message for the host.
// ConfigError means SLUICE_ERROR_CONFIG only while creating; later it is a plain error.
template <class F>
sluice_status guarded(sluice_ctx* ctx, F&& f, bool creating = false) noexcept {
  auto fail = [ctx](sluice_status s, const char* what) {
    try {
      if (ctx) host_table()->set_error(ctx, what, std::char_traits<char>::length(what));
    } catch (...) {
    }
    return s;
  };
  try {
    return f();
  } catch (const ConfigError& e) {
    return fail(creating ? SLUICE_ERROR_CONFIG : SLUICE_ERROR, e.what());
  } catch (const FatalError& e) {
    return fail(SLUICE_ERROR_FATAL, e.what());
  } catch (const std::exception& e) {
    return fail(SLUICE_ERROR, e.what());
  } catch (...) {
    return fail(SLUICE_ERROR, "unknown exception (not derived from std::exception)");
  }
}

template <class R>
sluice_status to_status(R&& r) {
  // A bool or an int would convert silently (true would read as SLUICE_IDLE).
  static_assert(std::is_same_v<std::decay_t<R>, sluice_status>,
                "process/ack/finish must return void or sluice_status");
  return r;
}

template <class T, class = void>
struct has_ack : std::false_type {};
template <class T>
struct has_ack<T, std::void_t<decltype(std::declval<T&>().ack(std::declval<Context&>(),
                                                              std::declval<const Batch&>()))>>
    : std::true_type {};
template <class T, class = void>
struct has_finish : std::false_type {};
template <class T>
struct has_finish<T, std::void_t<decltype(std::declval<T&>().finish(std::declval<Context&>()))>>
    : std::true_type {};

// static void check(const CreateArgs&): a deep config check without an instance (1.2).
template <class T, class = void>
struct has_check : std::false_type {};
template <class T>
struct has_check<T, std::void_t<decltype(T::check(std::declval<const CreateArgs&>()))>>
    : std::true_type {};
// int64_t pending(): a source's backlog (1.2).
template <class T, class = void>
struct has_pending : std::false_type {};
template <class T>
struct has_pending<T, std::void_t<decltype(int64_t{std::declval<T&>().pending()})>>
    : std::true_type {};

// side_input_changed(Context&, std::string_view name, uint64_t version) (1.3).
template <class T, class = void>
struct has_side_input_changed : std::false_type {};
template <class T>
struct has_side_input_changed<
    T, std::void_t<decltype(std::declval<T&>().side_input_changed(
           std::declval<Context&>(), std::string_view(), uint64_t{}))>> : std::true_type {};

// Calls f() (returning void or a status) and returns its status.
template <class F>
sluice_status call_status(F&& f) {
  if constexpr (std::is_void_v<decltype(f())>) {
    f();
    return SLUICE_OK;
  } else {
    return to_status(f());
  }
}

// The C functions for one stage class T.
template <class T>
struct Adapter {
  static sluice_status create(sluice_ctx* ctx, const sluice_create_args* a, void** out) {
    return guarded(
        ctx,
        [&] {
          *out = new T(CreateArgs(*a));
          return SLUICE_OK;
        },
        /*creating=*/true);
  }
  static void destroy(void* instance) {
    // A throwing destructor would std::terminate the host: refuse to compile it.
    static_assert(std::is_nothrow_destructible_v<T>, "stage destructors must not throw");
    delete static_cast<T*>(instance);
  }
  static sluice_status process(void* instance, sluice_ctx* c, const sluice_batch* b) {
    return guarded(c, [&] {
      Context ctx(c);
      return call_status([&] { return static_cast<T*>(instance)->process(ctx, Batch(b)); });
    });
  }
  static sluice_status ack(void* instance, sluice_ctx* c, const sluice_batch* b) {
    return guarded(c, [&] {
      Context ctx(c);
      return call_status([&] { return static_cast<T*>(instance)->ack(ctx, Batch(b)); });
    });
  }
  static sluice_status finish(void* instance, sluice_ctx* c) {
    return guarded(c, [&] {
      Context ctx(c);
      return call_status([&] { return static_cast<T*>(instance)->finish(ctx); });
    });
  }
  static sluice_status check(sluice_ctx* ctx, const sluice_create_args* a) {
    return guarded(
        ctx,
        [&] {
          T::check(CreateArgs(*a));
          return SLUICE_OK;
        },
        /*creating=*/true);
  }
  static sluice_status side_input_changed(void* instance, sluice_ctx* c, const char* name,
                                          size_t name_size, uint64_t version) {
    return guarded(c, [&] {
      Context ctx(c);
      return call_status([&] {
        return static_cast<T*>(instance)->side_input_changed(ctx, std::string_view(name, name_size),
                                                             version);
      });
    });
  }
  static int64_t pending(void* instance) noexcept {
    try {
      return static_cast<T*>(instance)->pending();
    } catch (...) {
      return -1;  // not known this time
    }
  }
};

}  // namespace detail

// Collects the types of one plugin library and owns their descriptors.
class Library {
 public:
  explicit Library(const char* name) {
    desc_.struct_size = sizeof(sluice_library);
    desc_.abi_major = SLUICE_ABI_VERSION_MAJOR;
    desc_.abi_minor = SLUICE_ABI_VERSION_MINOR;
    desc_.name = name;
  }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;

  template <class T>
  Library& add(const TypeInfo& info) {
    sluice_type& t = types_.emplace_back();  // deque: addresses stay stable
    t = sluice_type{};
    t.struct_size = sizeof(sluice_type);
    t.kinds = info.kinds;
    t.flags = info.flags;
    t.name = info.name;
    t.version = info.version;
    t.description = info.description;
    t.config_schema = info.config_schema;
    t.create = &detail::Adapter<T>::create;
    t.destroy = &detail::Adapter<T>::destroy;
    t.process = &detail::Adapter<T>::process;
    if constexpr (detail::has_ack<T>::value) t.ack = &detail::Adapter<T>::ack;
    if constexpr (detail::has_finish<T>::value) t.finish = &detail::Adapter<T>::finish;
    if constexpr (detail::has_check<T>::value) t.check = &detail::Adapter<T>::check;
    if constexpr (detail::has_pending<T>::value) t.pending = &detail::Adapter<T>::pending;
    if constexpr (detail::has_side_input_changed<T>::value)
      t.side_input_changed = &detail::Adapter<T>::side_input_changed;
    pointers_.push_back(&t);
    desc_.types = pointers_.data();
    desc_.type_count = pointers_.size();
    return *this;
  }

  // A function to run once before the library is unloaded (sluice_library.unload):
  // stop here what the describe block started. Must not throw.
  Library& on_unload(void (*fn)(void)) {
    desc_.unload = fn;
    return *this;
  }

  const sluice_library* descriptor() const { return &desc_; }

 private:
  sluice_library desc_{};
  std::deque<sluice_type> types_;
  std::vector<const sluice_type*> pointers_;
};

namespace detail {
// The body of the entry symbol: describes the library's types on the first call.
// `library` and `described` live in the plugin's own entry function (see SLUICE_PLUGIN).
inline const sluice_library* entry(const sluice_host* host, Library& library, bool& described,
                                   void (*describe)(Library&)) noexcept {
  // Every callback this header uses is in ABI 1.0's table, which ends with `log`.
  if (host == nullptr ||
      host->struct_size < offsetof(sluice_host, log) + sizeof(host->log))
    return nullptr;
  host_slot() = host;
  const char* name = library.descriptor()->name ? library.descriptor()->name : "plugin";
  try {
    if (!described) {
      describe(library);
      described = true;
    }
    return library.descriptor();
  } catch (const std::exception& e) {
    log(SLUICE_LOG_ERROR, std::string(name) + ": describing the plugin's types failed: " +
                              e.what());
  } catch (...) {
    log(SLUICE_LOG_ERROR, std::string(name) + ": describing the plugin's types failed");
  }
  return nullptr;
}
}  // namespace detail

}  // namespace sluice

// Defines the plugin's entry symbol (and its per-library state). Use exactly once per
// library, followed by a block that adds its types to `lib_var` (a sluice::Library&):
//
//   SLUICE_PLUGIN("my-plugins", lib) { lib.add<MyMap>({"my-map", SLUICE_KIND_MAP}); }
#define SLUICE_PLUGIN(library_name, lib_var)                                        \
  const sluice_host*& ::sluice::detail::host_slot() {                                \
    static const sluice_host* host = nullptr;                                        \
    return host;                                                                     \
  }                                                                                  \
  static void sluice_describe_types_(::sluice::Library& lib_var);                    \
  extern "C" SLUICE_EXPORT const sluice_library* SLUICE_PLUGIN_ENTRY(                \
      const sluice_host* host) {                                                     \
    static ::sluice::Library library(library_name);                                  \
    static bool described = false;                                                   \
    return ::sluice::detail::entry(host, library, described, &sluice_describe_types_); \
  }                                                                                  \
  static void sluice_describe_types_(::sluice::Library& lib_var)

#endif  // SLUICE_PLUGIN_HPP
