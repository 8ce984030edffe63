// Configuration errors, collected rather than thrown: the flow loader and the graph
// validator report every mistake they find in one pass, each with where it is
// ("flow.yaml:12:7", or "--set stages.in.config.count") and, when there is an obvious
// fix, a hint.
#pragma once

#include <string>
#include <vector>

namespace sluice::host {

struct Diagnostic {
  std::string where;    // "file:line:column", "--set ...", or the file alone
  std::string message;  // what is wrong, one line
  std::string hint;     // how to fix it; may be empty
};

class Diagnostics {
 public:
  void add(std::string where, std::string message, std::string hint = {}) {
    items_.push_back({std::move(where), std::move(message), std::move(hint)});
  }
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  const std::vector<Diagnostic>& items() const { return items_; }

  // One line per diagnostic: "<where>: error: <message> (hint: <hint>)".
  std::string format() const {
    std::string out;
    for (const Diagnostic& d : items_) {
      out += d.where + ": error: " + d.message;
      if (!d.hint.empty()) out += " (hint: " + d.hint + ")";
      out += '\n';
    }
    return out;
  }

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace sluice::host
