// `sum`, `min` and `max` (reduce): one number per window, read from each message as
// `field` says (reducer_input.h). Their state is a small struct per window in the
// window's state slot: created by the first message, folded into the survivor when a
// session window merges, freed when the window closes (after emitting) or is discarded.
//
// Results (window_result.h):
//   sum:      {"keys":[...],"start":...,"end":...,"sum":12}
//   min, max: {"keys":[...],"start":...,"end":...,"min":-3}   (null when no message had a number)
// with onInvalid: skip, also "skipped": <messages without a number>.
//
// Integers stay integers: the sum is an int64 while every value is an integer and the
// running sum does not overflow; a double input or an overflow makes it a double from
// then on (written with a ".0" or an exponent, so it reads back as one). min and max
// keep the winning value as it came (an integer or a double) and compare exactly.
#include <cstdint>
#include <memory>
#include <optional>

#include "config.h"
#include "reducer_input.h"
#include "types.h"
#include "window_result.h"

namespace sluice::builtin {
namespace {

struct SumState {
  bool is_int = true;
  int64_t i = 0;
  double d = 0;
  uint64_t skipped = 0;

  void add(const Number& n) {
    if (is_int && n.is_int) {
      int64_t r;
      if (!__builtin_add_overflow(i, n.i, &r)) {
        i = r;
        return;
      }
    }
    if (is_int) {
      is_int = false;
      d = static_cast<double>(i);
    }
    d += n.as_double();
  }
  void fold(const SumState& o) {
    add(o.is_int ? Number{true, o.i, 0} : Number{false, 0, o.d});
    skipped += o.skipped;
  }
  Number result() const { return is_int ? Number{true, i, 0} : Number{false, 0, d}; }
};

class Sum {
 public:
  explicit Sum(const CreateArgs& args) : Sum(Config(args.config_json)) {}

  void process(Context& ctx, const Batch& b) {
    if (b.merges_window()) {
      std::unique_ptr<SumState> merged = take_merged_state<SumState>(b);
      if (merged) window_state<SumState>(b).fold(*merged);
      return;
    }
    if (b.closes_window() || b.discards_window()) {
      std::unique_ptr<SumState> s = take_window_state<SumState>(b);
      if (!b.closes_window()) return;
      const SumState empty;
      const SumState& st = s ? *s : empty;
      begin_window_result(out_, b);
      out_ += "\"sum\":";
      append_number(out_, st.result());
      if (input_.skips()) {
        out_ += ",\"skipped\":";
        append_integer(out_, static_cast<int64_t>(st.skipped));
      }
      out_ += '}';
      ctx.emit(SLUICE_NO_INPUT, out_);
      return;
    }
    SumState& st = window_state<SumState>(b);
    for (size_t k = 0; k < b.size(); ++k) {
      if (std::optional<Number> n = input_.read(ctx, b, b[k])) st.add(*n);
      else ++st.skipped;
    }
  }

 private:
  explicit Sum(Config c) : input_(c, "sum") { c.reject_unknown_keys(); }

  NumberInput input_;
  std::string out_;  // reused
};

struct ExtremeState {
  std::optional<Number> best;
  uint64_t skipped = 0;
};

// min (Sign -1) and max (Sign 1).
template <int Sign>
class Extreme {
 public:
  explicit Extreme(const CreateArgs& args) : Extreme(Config(args.config_json)) {}

  void process(Context& ctx, const Batch& b) {
    if (b.merges_window()) {
      std::unique_ptr<ExtremeState> merged = take_merged_state<ExtremeState>(b);
      if (!merged) return;
      ExtremeState& st = window_state<ExtremeState>(b);
      if (merged->best) offer(st, *merged->best);
      st.skipped += merged->skipped;
      return;
    }
    if (b.closes_window() || b.discards_window()) {
      std::unique_ptr<ExtremeState> s = take_window_state<ExtremeState>(b);
      if (!b.closes_window()) return;
      begin_window_result(out_, b);
      out_ += Sign < 0 ? "\"min\":" : "\"max\":";
      if (s && s->best) append_number(out_, *s->best);
      else out_ += "null";
      if (input_.skips()) {
        out_ += ",\"skipped\":";
        append_integer(out_, static_cast<int64_t>(s ? s->skipped : 0));
      }
      out_ += '}';
      ctx.emit(SLUICE_NO_INPUT, out_);
      return;
    }
    ExtremeState& st = window_state<ExtremeState>(b);
    for (size_t k = 0; k < b.size(); ++k) {
      if (std::optional<Number> n = input_.read(ctx, b, b[k])) offer(st, *n);
      else ++st.skipped;
    }
  }

 private:
  explicit Extreme(Config c) : input_(c, Sign < 0 ? "min" : "max") { c.reject_unknown_keys(); }

  // Ties keep the value seen first.
  static void offer(ExtremeState& st, const Number& n) {
    if (!st.best || compare(n, *st.best) * Sign > 0) st.best = n;
  }

  NumberInput input_;
  std::string out_;  // reused
};

constexpr const char* kSchema = "{\"type\": \"object\", \"additionalProperties\": false, \"properties\": {"
    SLUICE_NUMBER_INPUT_SCHEMA_PROPERTIES "}}";

}  // namespace

void add_sum(Library& lib) {
  lib.add<Sum>({"sum", SLUICE_KIND_REDUCE, "0.1.0",
                "reduce: the sum of each window's numbers (the value or a JSON field)", kSchema});
}

void add_min_max(Library& lib) {
  lib.add<Extreme<-1>>({"min", SLUICE_KIND_REDUCE, "0.1.0",
                        "reduce: the smallest of each window's numbers (the value or a JSON field)", kSchema});
  lib.add<Extreme<1>>({"max", SLUICE_KIND_REDUCE, "0.1.0",
                       "reduce: the largest of each window's numbers (the value or a JSON field)", kSchema});
}

}  // namespace sluice::builtin
