// `collect` (reduce): each window's values as a JSON array, up to a cap.
//
// config: format (auto | string), maxItems, maxBytes. Result (window_result.h):
//   {"keys":[...],"start":...,"end":...,"values":[...],"count":N,"truncated":false}
// `count` is the number of messages in the window, collected or not. The values are in
// arrival order; when a cap is reached the reducer stops adding (the values stay a
// prefix of the window's messages) and sets "truncated": true.
//
// Session merges: the values of the session that started earlier come first; when that
// session was already truncated, the other's values are not added (still a prefix).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config.h"
#include "json_text.h"
#include "types.h"
#include "window_result.h"

namespace sluice::builtin {
namespace {

struct CollectState {
  int64_t start = 0;               // the earliest start the window had (orders merges)
  std::vector<std::string> items;  // each value's JSON text
  size_t bytes = 0;                // the items' JSON text, summed
  uint64_t count = 0;              // messages, collected or not
  bool truncated = false;
};

class Collect {
 public:
  explicit Collect(const CreateArgs& args) {
    Config c(args.config_json);
    as_string_ = c.choice("format", "auto", {"auto", "string"}) == "string";
    max_items_ = static_cast<size_t>(c.integer("maxItems", 1000, 1, 10'000'000));
    max_bytes_ = static_cast<size_t>(c.integer("maxBytes", 1 << 20, 1, int64_t{1} << 30));
    c.reject_unknown_keys();
  }

  void process(Context& ctx, const Batch& b) {
    if (b.merges_window()) {
      std::unique_ptr<CollectState> merged = take_merged_state<CollectState>(b);
      if (!merged) return;
      if (b.state_slot() == nullptr) b.state_slot() = merged.release();  // nothing to fold into
      else merge(window_state<CollectState>(b), std::move(*merged), b);
      return;
    }
    if (b.closes_window() || b.discards_window()) {
      std::unique_ptr<CollectState> s = take_window_state<CollectState>(b);
      if (b.closes_window()) emit(ctx, b, s ? *s : CollectState{});
      return;
    }
    CollectState& st = state(b);
    for (size_t k = 0; k < b.size(); ++k) {
      ++st.count;
      if (st.truncated) continue;
      std::string item = json_of(b[k].value());
      add(st, std::move(item));
    }
  }

 private:
  CollectState& state(const Batch& b) {
    const bool fresh = b.state_slot() == nullptr;
    CollectState& st = window_state<CollectState>(b);
    if (fresh || b.window_start() < st.start) st.start = b.window_start();
    return st;
  }

  // Adds one item unless a cap stops it (then truncated, for good).
  void add(CollectState& st, std::string item) {
    if (st.truncated) return;
    if (st.items.size() >= max_items_ || st.bytes + item.size() > max_bytes_) {
      st.truncated = true;
      return;
    }
    st.bytes += item.size();
    st.items.push_back(std::move(item));
  }

  void merge(CollectState& st, CollectState other, const Batch& b) {
    const int64_t other_start = std::min(other.start, b.merged_start());
    CollectState first, second;
    if (other_start < st.start) {
      first = std::move(other);
      second = std::move(st);
    } else {
      first = std::move(st);
      second = std::move(other);
    }
    CollectState out;
    out.start = std::min({first.start, second.start, other_start});
    out.count = first.count + second.count;
    out.items = std::move(first.items);
    out.bytes = first.bytes;
    out.truncated = first.truncated;
    for (std::string& item : second.items) add(out, std::move(item));
    if (second.truncated) out.truncated = true;
    st = std::move(out);
  }

  // The value as JSON: in format auto, the value itself when it is one JSON value
  // (compacted when it spans lines, so a result stays one line); otherwise a string.
  std::string json_of(std::string_view v) const {
    std::string out;
    if (!as_string_ && nlohmann::json::accept(v)) {
      const size_t a = v.find_first_not_of(" \t\r\n");
      const size_t z = v.find_last_not_of(" \t\r\n");
      const std::string_view t = v.substr(a, z - a + 1);
      if (t.find_first_of("\r\n") == std::string_view::npos) out.assign(t);
      else out = nlohmann::json::parse(t).dump();
      return out;
    }
    append_json_string(out, v);
    return out;
  }

  void emit(Context& ctx, const Batch& b, const CollectState& st) {
    begin_window_result(out_, b);
    out_.reserve(out_.size() + st.bytes + st.items.size() + 64);
    out_ += "\"values\":[";
    for (size_t k = 0; k < st.items.size(); ++k) {
      if (k) out_ += ',';
      out_ += st.items[k];
    }
    out_ += "],\"count\":";
    append_integer(out_, static_cast<int64_t>(st.count));
    out_ += st.truncated ? ",\"truncated\":true}" : ",\"truncated\":false}";
    ctx.emit(SLUICE_NO_INPUT, out_);
    if (out_.capacity() > (size_t{1} << 20)) std::string().swap(out_);  // keep no huge buffer
  }

  bool as_string_ = false;
  size_t max_items_ = 1000;
  size_t max_bytes_ = 1 << 20;
  std::string out_;  // reused
};

constexpr const char* kSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "format":   {"enum": ["auto", "string"], "default": "auto"},
    "maxItems": {"type": "integer", "minimum": 1, "maximum": 10000000, "default": 1000},
    "maxBytes": {"type": "integer", "minimum": 1, "maximum": 1073741824, "default": 1048576}
  }
})";

}  // namespace

void add_collect(Library& lib) {
  lib.add<Collect>({"collect", SLUICE_KIND_REDUCE, "0.1.0",
                    "reduce: each window's values as a JSON array, up to maxItems / maxBytes", kSchema});
}

}  // namespace sluice::builtin
