// Shared scaffolding for the end-to-end tests of the `python` stage type
// (python_flow_test.cc, python_map_kinds_test.cc, python_sink_source_test.cc):
// file and line helpers, the `sluice run` summary table, a temporary folder, and
// the fixture PythonFlowTest, which writes a flow file and handler modules into a
// fresh folder and runs the real `sluice` binary on them (built-in folder only).
// PythonMapFlowTest adds the in.txt -> python map `up` -> out.txt flow.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "run_process.h"
#include "temp_dir.h"

namespace sluice::test {

using Lines = std::vector<std::string>;

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline Lines split_lines(const std::string& text) {
  Lines out;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

inline Lines read_lines(const std::filesystem::path& path) { return split_lines(read_file(path)); }

inline Lines sorted(Lines v) {
  std::sort(v.begin(), v.end());
  return v;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// "<prefix>0" .. "<prefix><n-1>".
inline Lines numbered(const std::string& prefix, size_t n) {
  Lines out;
  for (size_t i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

// One row of the summary table `sluice run` prints on stderr; -1 stands for "-".
struct SummaryRow {
  int64_t in = -1, out = -1, dropped = -1, failed = -1, retried = -1;
};

inline std::map<std::string, SummaryRow> summary(const std::string& err) {
  auto number = [](const std::string& cell) -> int64_t { return cell == "-" ? -1 : std::stoll(cell); };
  std::map<std::string, SummaryRow> rows;
  bool in_table = false;
  for (const std::string& line : split_lines(err)) {
    if (line.rfind("STAGE ", 0) == 0) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.rfind("flow \"", 0) == 0) break;
    std::istringstream cells(line);
    std::string stage, kind, in, out, dropped, failed, retried;
    if (!(cells >> stage >> kind >> in >> out >> dropped >> failed >> retried)) break;
    rows[stage] = {number(in), number(out), number(dropped), number(failed), number(retried)};
  }
  return rows;
}

// A fresh directory, removed with everything in it at the end of the test.

// A temporary folder for the flow file, the handler modules and what the flow writes.
class PythonFlowTest : public ::testing::Test {
 protected:
  std::filesystem::path at(const std::string& name) const { return tmp_.path() / name; }
  std::string dir() const { return tmp_.path().string(); }

  std::filesystem::path write(const std::string& name, const std::string& text) const {
    std::filesystem::create_directories(at(name).parent_path());
    std::ofstream(at(name), std::ios::binary) << text;
    return at(name);
  }
  std::string flow(const std::string& yaml) const { return write("flow.yaml", yaml).string(); }

  // Only the built-in folder (SLUICE_PLUGIN_PATH unset); a deadline below the test's.
  static RunOptions options() {
    RunOptions opts;
    opts.env.try_emplace("SLUICE_PLUGIN_PATH", std::nullopt);
    opts.timeout = std::chrono::milliseconds(30000);
    return opts;
  }
  RunResult run(const std::string& flow_file, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"run", flow_file};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_process(SLUICE_BIN, args, options());
  }

 private:
  TempDir tmp_{"sluice-python"};
};

class PythonMapFlowTest : public PythonFlowTest {
 protected:
  // in.txt -> the python map `up` with `config` (and `stage_keys`) -> out.txt.
  std::string map_flow(const std::string& config, const std::string& stage_keys = "") const {
    return flow(R"(
name: py
mode: job
stages:
  - {name: in, source: file, config: {path: in.txt}}
  - name: up
    map: python
    config: )" + config + "\n" + stage_keys + R"(
  - {name: out, sink: file, config: {path: out.txt}}
)");
  }
};

// The error the map `up` reported when it could not start (exit 2), after the type's
// name. Config errors are found when the stage is created, so `sluice run` reports
// them; `sluice check` does not create stages.
inline std::string start_error(const RunResult& r) {
  const std::string prefix = "sluice: error: a stage could not start: up: python (";
  const size_t at = r.err.find(prefix);
  if (at == std::string::npos) return "<no start error in: " + r.err + ">";
  const size_t colon = r.err.find("): ", at);
  return r.err.substr(colon + 3, r.err.find('\n', colon) - colon - 3);
}

}  // namespace sluice::test
