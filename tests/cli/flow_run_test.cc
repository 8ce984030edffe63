// End-to-end tests of `sluice run`, `sluice check` and `sluice graph`: each test writes a
// flow file into a fresh temporary folder, runs the real binary on it (with the built-in
// plugins and, where needed, the fixture plugins of tests/plugins), and checks the exit
// code, what the sinks wrote, what the source acknowledged and what was said on stderr.
// The spec these follow is docs/flow-reference.md.
//
// The fixture types used here (tests/plugins/flow_fixtures.cc and cpp_types.cc) record
// what they saw in files: test-ack-source appends each acknowledged id to its ack_log;
// test-flaky-sink and test-slow-sink append what they accepted to `out`.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "run_process.h"
#include "temp_dir.h"

namespace sluice::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

const std::string kFixtureDir = SLUICE_FIXTURE_DIR;

// --- helpers -------------------------------------------------------------------------

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> read_lines(const fs::path& path) { return split_lines(read_file(path)); }

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// "<prefix>0" .. "<prefix><n-1>".
std::vector<std::string> numbered(const std::string& prefix, size_t n, size_t from = 0) {
  std::vector<std::string> out;
  for (size_t i = from; i < from + n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Polls `done` every few milliseconds until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5000ms) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// One row of the summary table `sluice run` prints on stderr; -1 stands for "-".
struct SummaryRow {
  std::string kind;
  int64_t in = -1, out = -1, dropped = -1, failed = -1, retried = -1, acked = -1;
};

int64_t cell_number(const std::string& cell) { return cell == "-" ? -1 : std::stoll(cell); }

// The summary's rows by stage name (empty when there is no table).
std::map<std::string, SummaryRow> summary(const std::string& err) {
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
    std::string stage, kind, in, out, dropped, failed, retried, acked;
    if (!(cells >> stage >> kind >> in >> out >> dropped >> failed >> retried >> acked)) break;
    rows[stage] = {kind,
                   cell_number(in),
                   cell_number(out),
                   cell_number(dropped),
                   cell_number(failed),
                   cell_number(retried),
                   cell_number(acked)};
  }
  return rows;
}

// A fresh directory per test, removed at its end (tests/support/temp_dir.h).
struct TempDir : test::TempDir {
  TempDir() : test::TempDir("sluice-flow") {}
};

// A free TCP port on the loopback interface: bound to port 0, read back, closed. (Some
// other process could take it before sluice does; on a test machine that is unlikely.)
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// GET http://127.0.0.1:<port><path> over a plain socket; the whole response (status
// line, headers and body), or "" when nothing listens there.
std::string http_get(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[65536];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return response;
}

// For a failed assertion about a child still running: stops it and returns what it said.
RunResult killed(ChildProcess& child) {
  child.signal(SIGKILL);
  return child.wait();
}

// The fixture for every Flow* suite: a temporary folder to hold the flow file and what
// the flow reads and writes, and ways to run sluice on it.
class FlowTest : public ::testing::Test {
 protected:
  const fs::path& dir() const { return tmp_.path(); }
  fs::path at(const std::string& name) const { return dir() / name; }

  // Writes `text` to <dir>/<name>; returns the path.
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(at(name), std::ios::binary) << text;
    return at(name);
  }
  // The flow file <dir>/flow.yaml.
  std::string flow(const std::string& yaml) const { return write("flow.yaml", yaml).string(); }

  // The options of every run: SLUICE_PLUGIN_PATH unset (the environment ctest runs in
  // must not add plugin folders) and a deadline well below the test timeout.
  static RunOptions options(std::map<std::string, std::optional<std::string>> env = {}) {
    RunOptions opts;
    opts.env = std::move(env);
    opts.env.try_emplace("SLUICE_PLUGIN_PATH", std::nullopt);
    opts.timeout = 20000ms;
    return opts;
  }
  static RunResult sluice(const std::vector<std::string>& args,
                          const RunOptions& opts = options()) {
    return run_process(SLUICE_BIN, args, opts);
  }
  // `sluice <command> flow.yaml --plugin-dir <fixtures> <extra...>`.
  RunResult command(const std::string& cmd, const std::string& flow_file,
                    std::vector<std::string> extra = {}, const RunOptions& opts = options()) const {
    std::vector<std::string> args{cmd, flow_file, "--plugin-dir", kFixtureDir};
    args.insert(args.end(), extra.begin(), extra.end());
    return sluice(args, opts);
  }
  RunResult run(const std::string& flow_file, std::vector<std::string> extra = {},
                const RunOptions& opts = options()) const {
    return command("run", flow_file, std::move(extra), opts);
  }
  RunResult check(const std::string& flow_file, std::vector<std::string> extra = {},
                  const RunOptions& opts = options()) const {
    return command("check", flow_file, std::move(extra), opts);
  }
  // Starts `sluice run` and returns at once; the test signals it and waits for it.
  std::unique_ptr<ChildProcess> start(const std::string& flow_file,
                                      std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"run", flow_file, "--plugin-dir", kFixtureDir};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(SLUICE_BIN, args, options());
  }

  // Whether the file exists and has at least `n` complete lines.
  bool has_lines(const std::string& name, size_t n = 1) const {
    const std::string text = read_file(at(name));
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) >= n;
  }

 private:
  TempDir tmp_;
};

// The suites, by subject.
using FlowRun = FlowTest;
using FlowRouting = FlowTest;
using FlowErrors = FlowTest;
using FlowAcks = FlowTest;
using FlowSignals = FlowTest;
using FlowCheck = FlowTest;
using FlowGraph = FlowTest;
using FlowMetrics = FlowTest;

// --- running a job --------------------------------------------------------------------

TEST_F(FlowRun, JobCopiesAFileExactlyAndPrintsTheSummary) {
  std::string input;
  for (int i = 0; i < 100000; ++i)
    input += "line " + std::to_string(i) + (i % 1000 ? "" : " \t{\"x\": ,} ünïcode") + "\n";
  input += "\n\nthe last line\n";  // empty lines are messages too
  write("in.txt", input);
  const std::string f = flow(R"(
name: copy
mode: job
stages:
  - name: in
    source: file
    config: {path: in.txt}
  - name: pass
    map: cat
    threads: 1
  - name: out
    sink: file
    config: {path: out.txt}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "") << "stdout carries only what stdout sinks write";
  const std::string output = read_file(at("out.txt"));
  EXPECT_EQ(output.size(), input.size());
  EXPECT_TRUE(output == input) << "the copy differs from the input";

  const auto rows = summary(r.err);
  ASSERT_EQ(rows.size(), 3u) << r;
  const int64_t n = 100003;
  EXPECT_EQ(rows.at("in").kind, "source");
  EXPECT_EQ(rows.at("in").in, -1);
  EXPECT_EQ(rows.at("in").out, n);
  EXPECT_EQ(rows.at("pass").kind, "map");
  EXPECT_EQ(rows.at("pass").in, n);
  EXPECT_EQ(rows.at("pass").out, n);
  EXPECT_EQ(rows.at("out").kind, "sink");
  EXPECT_EQ(rows.at("out").in, n);
  EXPECT_EQ(rows.at("out").out, -1);
  for (const auto& [stage, row] : rows) {
    EXPECT_EQ(row.dropped, 0) << stage;
    EXPECT_EQ(row.failed, 0) << stage;
    EXPECT_EQ(row.retried, 0) << stage;
  }
  EXPECT_TRUE(contains(r.err, "\nflow \"copy\": ")) << r;
  EXPECT_TRUE(contains(r.err, " s, 100003 messages from sources (")) << r;
}

TEST_F(FlowRun, NoSummaryOmitsTheTable) {
  const std::string f = flow(R"(
mode: job
stages:
  - {name: gen, source: generator, config: {count: 3, template: "{seq}"}}
  - {name: out, sink: stdout}
)");
  RunResult r = run(f, {"--no-summary"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "0\n1\n2\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(FlowRun, ProgressLineIsShownOnlyWhenAskedForOffATerminal) {
  const std::string f = flow(R"(
name: p
mode: streaming
stages:
  - {name: gen, source: generator, config: {rate: 1000, size: 10}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  // stderr is a pipe here, so "auto" shows nothing; "always" redraws a line about every
  // 500 ms: "\r\033[K<stage> <count> | ... | <rate> msg/s | <seconds>s".
  auto child = start(f, {"--progress", "always", "--no-summary"});
  ASSERT_TRUE(eventually([&] { return contains(child->err_so_far(), " msg/s | "); }, 3000ms))
      << killed(*child);
  ASSERT_TRUE(child->signal(SIGTERM));
  RunResult r = child->wait();
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.err, "\r\033[Kgen ")) << r;
  EXPECT_TRUE(contains(r.err, " | out ")) << r;

  fs::remove(at("out.txt"));
  auto quiet = start(f, {"--no-summary"});
  ASSERT_TRUE(eventually([&] { return has_lines("out.txt"); })) << killed(*quiet);
  std::this_thread::sleep_for(600ms);  // past the first redraw, had there been one
  ASSERT_TRUE(quiet->signal(SIGTERM));
  RunResult q = quiet->wait();
  EXPECT_EQ(q.exit_code, 0) << q;
  EXPECT_FALSE(contains(q.err, "msg/s")) << q;

  EXPECT_EQ(run(f, {"--progress", "sometimes"}).exit_code, 2);
}

TEST_F(FlowRun, FlowNameDefaultsToTheFileName) {
  write("my-flow.yaml", R"(
mode: job
stages:
  - {name: gen, source: generator, config: {count: 2}}
  - {name: out, sink: blackhole}
)");
  RunResult r = run(at("my-flow.yaml").string());
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.err, "\nflow \"my-flow\": ")) << r;
}

TEST_F(FlowRun, PluginFoldersNamedInTheFlowAreSearchedRelativeToIt) {
  fs::create_directories(at("plugins"));
  fs::copy_file(kFixtureDir + "/libflow-fixtures.so", at("plugins/libflow-fixtures.so"));
  const std::string f = flow(R"(
mode: job
plugins: [./plugins]
stages:
  - {name: src, source: test-ack-source, config: {count: 3, ack_log: acks.log}}
  - {name: out, sink: stdout}
)");
  // No --plugin-dir, and run from another working directory.
  RunResult r = sluice({"run", f, "--no-summary"}, options());
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "m0\nm1\nm2\n");
  EXPECT_EQ(read_lines(at("acks.log")), numbered("id-", 3));
}

TEST_F(FlowRun, StreamingFlowWhoseSourcesEndDrainsAndExits0) {
  const std::string f = flow(R"(
mode: streaming
stages:
  - {name: gen, source: generator, config: {count: 5, template: "{seq}"}}
  - {name: out, sink: stdout}
)");
  RunResult r = run(f, {"--no-summary"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "0\n1\n2\n3\n4\n");
}

TEST_F(FlowRun, OrderedStageKeepsThePerKeyOrderAcrossFourWorkers) {
  const std::string f = flow(R"(
mode: job
defaults: {batch: 16}
stages:
  - name: gen
    source: generator
    config: {count: 20000, keys: 7, template: "{seq}"}
  - name: spread
    map: test-flaky-map
    threads: 4
    ordered: true
  - name: out
    sink: file
    config: {path: out.jsonl, format: json}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  std::map<std::string, std::vector<int64_t>> by_key;
  for (const std::string& line : read_lines(at("out.jsonl"))) {
    json j = json::parse(line);
    ASSERT_EQ(j.at("keys").size(), 1u) << line;
    by_key[j.at("keys")[0].get<std::string>()].push_back(
        std::stoll(j.at("value").get<std::string>()));
  }
  ASSERT_EQ(by_key.size(), 7u);
  size_t total = 0;
  for (const auto& [key, seqs] : by_key) {
    total += seqs.size();
    // key-k holds k, k+7, k+14, ... in exactly that order.
    const int64_t k = std::stoll(key.substr(4));
    for (size_t i = 0; i < seqs.size(); ++i)
      ASSERT_EQ(seqs[i], k + 7 * static_cast<int64_t>(i)) << key << " at position " << i;
  }
  EXPECT_EQ(total, 20000u);
}

TEST_F(FlowRun, StageBatchLimitsTheMessagesPerCall) {
  // The generator sends batches of up to 1024; the sink takes at most 10 per call, the
  // map at most 7 (and so sends on batches of about 7).
  const std::string f = flow(R"(
mode: job
stages:
  - {name: gen, source: generator, config: {count: 100, template: "{seq}"}}
  - {name: pass, map: cat, batch: 7}
  - {name: out, sink: test-slow-sink, config: {out: out.txt, sizes: sizes.txt}, batch: 10}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), numbered("", 100));
  const std::vector<std::string> sizes = read_lines(at("sizes.txt"));
  int64_t total = 0;
  for (const std::string& size : sizes) {
    EXPECT_LE(std::stoll(size), 10) << "a call of more than `batch` messages";
    total += std::stoll(size);
  }
  EXPECT_EQ(total, 100);
  EXPECT_GE(sizes.size(), 10u);
}

// --- routing --------------------------------------------------------------------------

TEST_F(FlowRouting, FanOutGivesEverySinkEveryMessage) {
  const std::string f = flow(R"(
mode: job
stages:
  - {name: gen, source: generator, config: {count: 1000, template: "{seq}"}}
  - {name: a, sink: file, config: {path: a.txt}}
  - {name: b, sink: file, config: {path: b.txt}}
edges:
  - {from: gen, to: a}
  - {from: gen, to: b}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("a.txt")), numbered("", 1000));
  EXPECT_EQ(read_lines(at("b.txt")), numbered("", 1000));
  const auto rows = summary(r.err);
  EXPECT_EQ(rows.at("gen").out, 2000) << "a copy per edge" << r;
  EXPECT_EQ(rows.at("a").in, 1000);
  EXPECT_EQ(rows.at("b").in, 1000);
  EXPECT_TRUE(contains(r.err, " s, 1000 messages from sources (")) << r;
}

TEST_F(FlowRouting, FanInMergesTwoSourcesIntoOneSink) {
  const std::string f = flow(R"(
mode: job
stages:
  - {name: x, source: generator, config: {count: 300, template: "x{seq}"}}
  - {name: y, source: generator, config: {count: 200, template: "y{seq}"}}
  - {name: out, sink: file, config: {path: out.txt}}
edges:
  - {from: x, to: out}
  - {from: y, to: out}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  std::vector<std::string> got = read_lines(at("out.txt")), xs, ys;
  for (const std::string& line : got) (line[0] == 'x' ? xs : ys).push_back(line);
  // Everything arrived once, and each source's messages in the order it sent them.
  EXPECT_EQ(got.size(), 500u);
  EXPECT_EQ(xs, numbered("x", 300));
  EXPECT_EQ(ys, numbered("y", 200));
  const auto rows = summary(r.err);
  EXPECT_EQ(rows.at("out").in, 500) << r;
  EXPECT_TRUE(contains(r.err, " s, 500 messages from sources (")) << r;
}

TEST_F(FlowRouting, FilterTagsRouteMessagesAndAnUnmatchedMessageIsDroppedAndCounted) {
  const std::string f = flow(R"(
mode: job
stages:
  - name: gen
    source: generator
    config: {count: 10, template: '{"n": {seq}}'}
  - name: route
    map: filter
    config: {where: {field: n, ge: 6}, action: tag, tag: big, otherwise: small}
  - {name: big, sink: file, config: {path: big.txt}}
  - {name: not-big, sink: file, config: {path: not-big.txt}}
edges:
  - {from: gen, to: route}
  - {from: route, to: big, when: {tags: [big]}}
  - {from: route, to: not-big, when: {tags: [big], match: none}}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("big.txt")),
            (std::vector<std::string>{R"({"n": 6})", R"({"n": 7})", R"({"n": 8})", R"({"n": 9})"}));
  EXPECT_EQ(read_lines(at("not-big.txt")).size(), 6u);
  EXPECT_EQ(read_lines(at("not-big.txt"))[5], R"({"n": 5})");

  // The same flow without the edge for the small ones: they match no edge, so they are
  // dropped, and counted as the filter's drops.
  const std::string g = flow(R"(
mode: job
stages:
  - name: gen
    source: generator
    config: {count: 10, template: '{"n": {seq}}'}
  - name: route
    map: filter
    config: {where: {field: n, ge: 6}, action: tag, tag: big, otherwise: small}
  - {name: big, sink: file, config: {path: big2.txt}}
edges:
  - {from: gen, to: route}
  - {from: route, to: big, when: {tags: [big]}}
)");
  RunResult r2 = run(g);
  ASSERT_EQ(r2.exit_code, 0) << r2;
  EXPECT_EQ(read_lines(at("big2.txt")).size(), 4u);
  const auto rows = summary(r2.err);
  EXPECT_EQ(rows.at("route").in, 10) << r2;
  EXPECT_EQ(rows.at("route").out, 4) << r2;
  EXPECT_EQ(rows.at("route").dropped, 6) << r2;
  EXPECT_EQ(rows.at("big").in, 4) << r2;
}

TEST_F(FlowRouting, TagConditionsMatchAnyAllAndNone) {
  // test-tag-map tags "v|a,b" with a and b.
  const std::string f = flow(R"(
mode: job
stages:
  - name: src
    source: test-ack-source
    config:
      values: ["v0|a", "v1|b", "v2|a,b", "v3|", "v4|c", "v5|b,c,a"]
      ack_log: acks.log
  - {name: tagger, map: test-tag-map}
  - {name: any, sink: file, config: {path: any.txt}}
  - {name: all, sink: file, config: {path: all.txt}}
  - {name: none, sink: file, config: {path: none.txt}}
  - {name: every, sink: file, config: {path: every.txt}}
edges:
  - {from: src, to: tagger}
  - {from: tagger, to: any, when: {tags: [a, b]}}
  - {from: tagger, to: all, when: {tags: [a, b], match: all}}
  - {from: tagger, to: none, when: {tags: [a, b], match: none}}
  - {from: tagger, to: every}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  using V = std::vector<std::string>;
  EXPECT_EQ(read_lines(at("any.txt")), (V{"v0|a", "v1|b", "v2|a,b", "v5|b,c,a"}));
  EXPECT_EQ(read_lines(at("all.txt")), (V{"v2|a,b", "v5|b,c,a"}));
  EXPECT_EQ(read_lines(at("none.txt")), (V{"v3|", "v4|c"}));
  EXPECT_EQ(read_lines(at("every.txt")), (V{"v0|a", "v1|b", "v2|a,b", "v3|", "v4|c", "v5|b,c,a"}));
  EXPECT_EQ(summary(r.err).at("tagger").out, 4 + 2 + 2 + 6) << r;
}

TEST_F(FlowRouting, FilterDropAndTheDropTagAreCounted) {
  const std::string f = flow(R"(
mode: job
stages:
  - name: src
    source: test-ack-source
    config: {count: 20, drop_every: 4, ack_log: acks.log}   # drops m3, m7, m11, ...
  - name: no-evens
    map: filter
    config: {where: {regex: '[02468]$'}, action: drop}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (std::vector<std::string>{"m1", "m5", "m9", "m13", "m17"}));
  const auto rows = summary(r.err);
  EXPECT_EQ(rows.at("src").out, 15) << r;
  EXPECT_EQ(rows.at("src").dropped, 5) << r;
  EXPECT_EQ(rows.at("src").acked, 20) << r;
  EXPECT_EQ(rows.at("no-evens").in, 15) << r;
  EXPECT_EQ(rows.at("no-evens").dropped, 10) << r;
  EXPECT_EQ(rows.at("out").in, 5) << r;
  EXPECT_TRUE(contains(r.err, " s, 20 messages from sources (")) << r;
}

// --- errors ---------------------------------------------------------------------------

// in.txt holds `lines`; the flow is in (file) -> explode (cpp-throw) -> out (file).
std::string throw_flow(const std::string& extra_stage_keys = "") {
  return R"(
name: throws
mode: job
stages:
  - {name: in, source: file, config: {path: in.txt}}
  - name: explode
    map: cpp-throw
)" + extra_stage_keys +
         R"(
  - {name: out, sink: file, config: {path: out.txt}}
)";
}

TEST_F(FlowErrors, ThrowingPluginFailsTheRunNamingTheStageAndTheError) {
  write("in.txt", "a\nb\nboom\nc\n");
  RunResult r = run(flow(throw_flow()));
  EXPECT_EQ(r.exit_code, 1) << r;
  // The whole batch failed (the call threw), so the error names its first message (id:
  // the byte offset of "a") and the exception's text, which names "boom" at offset 4.
  EXPECT_TRUE(contains(r.err,
                       "sluice: error: stage \"explode\" failed: message 0 (and 3 more): "
                       "boom at message 4\n"))
      << r;
  EXPECT_EQ(read_file(at("out.txt")), "") << "nothing of the failed call reaches the sink";
  EXPECT_EQ(summary(r.err).at("explode").failed, 4) << r;
}

TEST_F(FlowErrors, FatalErrorFailsTheRunAtOnceWhateverThePolicy) {
  write("in.txt", "a\nfatal\nc\n");
  RunResult r = run(flow(throw_flow("    onError: {retry: {attempts: 5}, then: drop}")));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(contains(r.err, "sluice: error: stage \"explode\" failed: cannot go on\n")) << r;
  EXPECT_EQ(summary(r.err).at("explode").retried, 0) << "FATAL is never retried" << r;
}

TEST_F(FlowErrors, ConfigErrorAtCreateExits2NamingTheStage) {
  write("in.txt", "a\n");
  RunResult r = run(flow(throw_flow("    config: {reject: true}")));
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "sluice: error: a stage could not start: explode: cpp-throw (")) << r;
  EXPECT_TRUE(contains(r.err, "config.reject: this stage was told to reject its config\n")) << r;
  EXPECT_FALSE(fs::exists(at("out.txt")) && read_file(at("out.txt")) != "") << r;

  // A built-in's create-time check: the file source's file does not exist.
  RunResult missing = run(flow(throw_flow()), {"--set", "stages.in.config.path=nope.txt"});
  EXPECT_EQ(missing.exit_code, 2) << missing;
  EXPECT_TRUE(contains(missing.err, "sluice: error: a stage could not start: in: file (")) << missing;
  EXPECT_TRUE(contains(missing.err, "does not exist\n")) << missing;
}

TEST_F(FlowErrors, RetryThenFallbackRoutesExactlyTheFailingMessages) {
  // "b" fails for good (FAILED: not retried); "d" asks for a retry every time, so it is
  // retried twice and then given up; the rest is accepted at once. Without edges the
  // fallback-only stage "dead" is left out of the chain.
  const std::string f = flow(R"(
mode: job
stages:
  - name: src
    source: test-ack-source
    config: {values: [a, b, c, d, e], ack_log: acks.log}
  - name: main
    sink: test-flaky-sink
    config: {out: main.txt, fail_values: [b], retry_values: [d], retry_times: 1000}
    onError: {retry: {attempts: 2, initialInterval: 1ms}, then: fallback, fallback: dead}
  - {name: dead, sink: file, config: {path: dead.txt}}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("main.txt")), (std::vector<std::string>{"a", "c", "e"}));
  EXPECT_EQ(read_lines(at("dead.txt")), (std::vector<std::string>{"b", "d"}));
  EXPECT_EQ(sorted(read_lines(at("acks.log"))), numbered("id-", 5));
  const auto rows = summary(r.err);
  EXPECT_EQ(rows.at("main").in, 5) << r;
  EXPECT_EQ(rows.at("main").failed, 2) << r;
  EXPECT_EQ(rows.at("main").retried, 2) << r;
  EXPECT_EQ(rows.at("dead").in, 2) << r;
  EXPECT_EQ(rows.at("src").acked, 5) << r;
}

TEST_F(FlowErrors, SinkRetryThenSuccessWritesEachMessageOnce) {
  const std::string f = flow(R"(
mode: job
stages:
  - name: src
    source: test-ack-source
    config: {values: [a, b, c, d, e], ack_log: acks.log}
  - name: main
    sink: test-flaky-sink
    config: {out: main.txt, retry_values: [b, d], retry_times: 2}
    onError: {retry: {attempts: 3, initialInterval: 1ms}}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  // Accepted ones first, the retried ones when they are accepted.
  EXPECT_EQ(read_lines(at("main.txt")), (std::vector<std::string>{"a", "c", "e", "b", "d"}));
  const auto rows = summary(r.err);
  EXPECT_EQ(rows.at("main").retried, 4) << r;  // b and d, twice each
  EXPECT_EQ(rows.at("main").failed, 0) << r;
  EXPECT_EQ(sorted(read_lines(at("acks.log"))), numbered("id-", 5));
}

TEST_F(FlowErrors, BatchRetryAfterAThrowDuplicatesNothing) {
  // The map emits m0..m2, then throws at m3 (twice): each failed call's outputs are
  // discarded, and the third call's go on.
  const std::string f = flow(R"(
mode: job
stages:
  - name: src
    source: test-ack-source
    config: {count: 10, ack_log: acks.log}
  - name: flaky
    map: test-flaky-map
    config: {error_values: [m3], error_times: 2}
    onError: {retry: {attempts: 2, initialInterval: 1ms}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), numbered("m", 10));
  const auto rows = summary(r.err);
  EXPECT_EQ(rows.at("flaky").in, 10) << r;
  EXPECT_EQ(rows.at("flaky").out, 10) << r;
  EXPECT_EQ(rows.at("flaky").retried, 20) << "the batch of 10, retried twice" << r;
  EXPECT_EQ(rows.at("flaky").failed, 0) << r;
  EXPECT_EQ(sorted(read_lines(at("acks.log"))), numbered("id-", 10));
}

TEST_F(FlowErrors, MapMessageFailureRetriesThatMessageAlone) {
  const std::string f = flow(R"(
mode: job
stages:
  - name: src
    source: test-ack-source
    config: {count: 10, ack_log: acks.log}
  - name: flaky
    map: test-flaky-map
    config: {fail_values: [m2, m5], fail_times: 1}
    onError: {retry: {attempts: 1, initialInterval: 1ms}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")),
            (std::vector<std::string>{"m0", "m1", "m3", "m4", "m6", "m7", "m8", "m9", "m2", "m5"}));
  EXPECT_EQ(summary(r.err).at("flaky").retried, 2) << r;
}

TEST_F(FlowErrors, OrderedMapKeepsOrderThroughAMessageRetry) {
  // As above, but `ordered`: the messages after a failed one wait for its retry.
  const std::string f = flow(R"(
mode: job
stages:
  - name: src
    source: test-ack-source
    config: {count: 10, ack_log: acks.log}
  - name: flaky
    map: test-flaky-map
    config: {fail_values: [m2, m5], fail_times: 1}
    ordered: true
    onError: {retry: {attempts: 2, initialInterval: 1ms}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), numbered("m", 10));
  EXPECT_EQ(sorted(read_lines(at("acks.log"))).size(), 10u) << r;
}

TEST_F(FlowErrors, ThenDropCountsTheMessagesAndTheRunSucceeds) {
  const std::string f = flow(R"(
mode: job
stages:
  - name: src
    source: test-ack-source
    config: {values: [a, b, c, d, e], ack_log: acks.log}
  - name: main
    sink: test-flaky-sink
    config: {out: main.txt, fail_values: [b], retry_values: [d], retry_times: 1000}
    onError: {retry: {attempts: 1, initialInterval: 1ms}, then: drop}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("main.txt")), (std::vector<std::string>{"a", "c", "e"}));
  const auto rows = summary(r.err);
  EXPECT_EQ(rows.at("main").in, 5) << r;
  EXPECT_EQ(rows.at("main").dropped, 2) << r;
  EXPECT_EQ(rows.at("main").failed, 2) << r;
  EXPECT_EQ(rows.at("main").retried, 1) << r;
  EXPECT_EQ(sorted(read_lines(at("acks.log"))), numbered("id-", 5)) << "dropped ones are acked too";
}

TEST_F(FlowErrors, ThenFailAfterRetriesExits1NamingTheMessage) {
  const std::string f = flow(R"(
mode: job
stages:
  - name: src
    source: test-ack-source
    config: {values: [a, b, c], ack_log: acks.log}
  - name: main
    sink: test-flaky-sink
    config: {out: main.txt, retry_values: [b], retry_times: 1000}
    onError: {retry: {attempts: 2, initialInterval: 1ms}}
)");
  RunResult r = run(f);
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(contains(r.err, "sluice: error: stage \"main\" failed: message id-1: not yet: b\n"))
      << r;
}

TEST_F(FlowErrors, SourceErrorsAreRetriedFailOrAreSkipped) {
  // Batches of 2: call 0 reads m0 m1, call 1 fails (reading nothing), and so on.
  const std::string f = flow(R"(
mode: job
stages:
  - name: src
    source: test-ack-source
    config: {count: 5, fail_calls: [1, 2], ack_log: acks.log}
    batch: 2
  - {name: out, sink: file, config: {path: out.txt}}
)");
  RunResult retried =
      run(f, {"--set", "stages.src.onError={retry: {attempts: 2, initialInterval: 1ms}}"});
  EXPECT_EQ(retried.exit_code, 0) << retried;
  EXPECT_EQ(read_lines(at("out.txt")), numbered("m", 5));

  RunResult failed = run(f);
  EXPECT_EQ(failed.exit_code, 1) << failed;
  EXPECT_TRUE(contains(failed.err, "sluice: error: stage \"src\" failed: read failed at call 1\n"))
      << failed;

  // then: drop skips a failed read and reads on.
  RunResult skipped = run(f, {"--set", "stages.src.onError.then=drop"});
  EXPECT_EQ(skipped.exit_code, 0) << skipped;
  EXPECT_EQ(read_lines(at("out.txt")), numbered("m", 5));
  EXPECT_TRUE(contains(skipped.err,
                       "sluice: warning: src: a failed read was skipped: read failed at call 1\n"))
      << skipped;
}

// --- lineage and acknowledgement ------------------------------------------------------

TEST_F(FlowAcks, EveryIdIsAckedOnceThroughDropsFiltersAndFanOut) {
  // 300 messages; the source drops every 7th (drop tag); a filter drops those ending in
  // 3; a tagging filter fans the rest out to "even" (even numbers only) and "all".
  const std::string f = flow(R"(
mode: job
defaults: {batch: 32}
stages:
  - name: src
    source: test-ack-source
    config: {count: 300, drop_every: 7, ack_log: acks.log}
  - name: no-threes
    map: filter
    config: {where: {regex: '3$'}, action: drop}
    threads: 2
  - name: route
    map: filter
    config: {where: {regex: '[02468]$'}, action: tag, tag: even}
  - {name: even, sink: file, config: {path: even.txt}}
  - {name: all, sink: file, config: {path: all.txt}}
edges:
  - {from: src, to: no-threes}
  - {from: no-threes, to: route}
  - {from: route, to: even, when: {tags: [even]}}
  - {from: route, to: all}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(sorted(read_lines(at("acks.log"))), sorted(numbered("id-", 300)))
      << "every id acknowledged exactly once";
  std::vector<std::string> all, even;
  for (int i = 0; i < 300; ++i) {
    if (i % 7 == 6 || i % 10 == 3) continue;
    all.push_back("m" + std::to_string(i));
    if (i % 2 == 0) even.push_back("m" + std::to_string(i));
  }
  EXPECT_EQ(sorted(read_lines(at("all.txt"))), sorted(all));
  EXPECT_EQ(sorted(read_lines(at("even.txt"))), sorted(even));
  EXPECT_EQ(summary(r.err).at("src").acked, 300) << r;
}

TEST_F(FlowAcks, FallbackRoutesAreAckedOnceToo) {
  const std::string f = flow(R"(
mode: job
stages:
  - name: src
    source: test-ack-source
    config: {count: 100, ack_log: acks.log}
  - name: copy
    map: cat
  - name: main
    sink: test-flaky-sink
    config: {out: main.txt, fail_values: [m1, m10, m50, m99], retry_values: [m2, m3], retry_times: 1}
    onError: {retry: {attempts: 1, initialInterval: 1ms}, then: fallback, fallback: dead}
  - {name: other, sink: file, config: {path: other.txt}}
  - {name: dead, sink: file, config: {path: dead.txt}}
edges:
  - {from: src, to: copy}
  - {from: copy, to: main}
  - {from: copy, to: other}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(sorted(read_lines(at("acks.log"))), sorted(numbered("id-", 100)));
  EXPECT_EQ(read_lines(at("dead.txt")), (std::vector<std::string>{"m1", "m10", "m50", "m99"}));
  EXPECT_EQ(read_lines(at("main.txt")).size(), 96u);
  EXPECT_EQ(read_lines(at("other.txt")), numbered("m", 100));
}

TEST_F(FlowAcks, MessagesFailedAndDroppedByPolicyAreAcked) {
  std::string values;
  for (int i = 0; i < 50; ++i)
    values +=
        std::string(values.empty() ? "" : ", ") + (i % 5 == 0 ? "fail" : "v" + std::to_string(i));
  const std::string f = flow(R"(
mode: job
stages:
  - name: src
    source: test-ack-source
    config: {values: [)" + values +
                             R"(], ack_log: acks.log}
  - name: picky
    map: cpp-throw
    onError: {then: drop}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(sorted(read_lines(at("acks.log"))), sorted(numbered("id-", 50)));
  EXPECT_EQ(read_lines(at("out.txt")).size(), 40u);
  const auto rows = summary(r.err);
  EXPECT_EQ(rows.at("picky").dropped, 10) << r;
  EXPECT_EQ(rows.at("picky").failed, 10) << r;
  EXPECT_EQ(rows.at("src").acked, 50) << r;
}

// --- signals --------------------------------------------------------------------------

TEST_F(FlowSignals, SigtermDrainsAStreamWithoutGapsOrDuplicates) {
  const std::string f = flow(R"(
name: stream
mode: streaming
stages:
  - {name: gen, source: generator, config: {template: "{seq}", rate: 200000}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  auto child = start(f);
  ASSERT_TRUE(eventually([&] { return has_lines("out.txt"); })) << killed(*child);
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(child->signal(SIGTERM));
  RunResult r = child->wait();
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.err, "SIGTERM: stopping sources and draining")) << r;

  const std::vector<std::string> got = read_lines(at("out.txt"));
  const auto rows = summary(r.err);
  ASSERT_EQ(rows.count("gen"), 1u) << r;
  EXPECT_GT(got.size(), 0u);
  EXPECT_EQ(static_cast<int64_t>(got.size()), rows.at("gen").out) << r;
  EXPECT_EQ(static_cast<int64_t>(got.size()), rows.at("out").in) << r;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(got[i], std::to_string(i)) << "line " << i << " of " << got.size();
}

TEST_F(FlowSignals, SigintDrainsToo) {
  const std::string f = flow(R"(
mode: streaming
stages:
  - {name: gen, source: generator, config: {template: "{seq}", rate: 10000}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  auto child = start(f, {"--no-summary"});
  ASSERT_TRUE(eventually([&] { return has_lines("out.txt"); })) << killed(*child);
  ASSERT_TRUE(child->signal(SIGINT));
  RunResult r = child->wait();
  EXPECT_EQ(r.exit_code, 0) << r;
  const std::vector<std::string> got = read_lines(at("out.txt"));
  EXPECT_EQ(got, numbered("", got.size()));
}

// A streaming flow whose sink takes 100 ms a batch of 10: it cannot drain 16384
// queued messages in any reasonable time.
std::string slow_flow(const std::string& grace) {
  return R"(
name: slow
mode: streaming
gracePeriod: )" +
         grace + R"(
stages:
  - name: src
    source: test-ack-source
    config: {count: 1000000, ack_log: acks.log}
  - name: out
    sink: test-slow-sink
    config: {out: out.txt, delay_us: 100000}
    batch: 10
)";
}

TEST_F(FlowSignals, SecondSigtermAbandonsWhatIsQueuedAndExits4) {
  const std::string f = flow(slow_flow("30s"));
  auto child = start(f);
  ASSERT_TRUE(eventually([&] { return has_lines("out.txt"); })) << killed(*child);
  ASSERT_TRUE(child->signal(SIGTERM));
  // Two pending SIGTERMs would merge into one: send the second once the first was seen.
  ASSERT_TRUE(eventually([&] { return contains(child->err_so_far(), "SIGTERM: stopping"); }))
      << killed(*child);
  ASSERT_TRUE(child->signal(SIGTERM));
  RunResult r = child->wait();
  EXPECT_EQ(r.exit_code, 4) << r;
  EXPECT_LT(r.elapsed, 5000ms) << "a forced stop must not wait for the queue";
  EXPECT_TRUE(contains(r.err, "SIGTERM again: abandoning queued messages")) << r;
  EXPECT_TRUE(
      contains(r.err, "sluice: error: stopped before the flow drained; messages not finished:\n"))
      << r;
  EXPECT_TRUE(contains(r.err, "\n  out: ")) << "the sink's queue is reported" << r;
  EXPECT_TRUE(contains(r.err, " not acknowledged (a replaying source re-reads them)\n"))
      << "the source's unacknowledged messages are reported" << r;
  // A forced stop may abandon acks, never invent them: everything acknowledged was
  // written (the sink's last call may have finished after the source stopped waiting).
  const std::vector<std::string> written = read_lines(at("out.txt"));
  const std::set<std::string> written_set(written.begin(), written.end());
  EXPECT_EQ(written, numbered("m", written.size()));
  const std::vector<std::string> acked = sorted(read_lines(at("acks.log")));
  EXPECT_EQ(std::adjacent_find(acked.begin(), acked.end()), acked.end()) << "an id acked twice";
  for (const std::string& id : acked) ASSERT_TRUE(written_set.count("m" + id.substr(3))) << id;
}

TEST_F(FlowSignals, SigtermWakesASourceWaitingToRetry) {
  // The source's second read fails and its retry waits 30 s; a stop must not wait for
  // it (nor for the grace period): what was read drains and the run exits 0.
  const std::string f = flow(R"(
mode: streaming
gracePeriod: 20s
stages:
  - name: src
    source: test-ack-source
    config: {count: 100, fail_calls: [1], ack_log: acks.log}
    batch: 2
    onError: {retry: {attempts: 3, initialInterval: 30s}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  auto child = start(f);
  ASSERT_TRUE(eventually([&] { return has_lines("out.txt"); })) << killed(*child);
  ASSERT_TRUE(child->signal(SIGTERM));
  RunResult r = child->wait();
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_LT(r.elapsed, 5000ms) << "the stop waited for the retry" << r;
  EXPECT_EQ(read_lines(at("out.txt")), numbered("m", 2));
  EXPECT_EQ(sorted(read_lines(at("acks.log"))), (std::vector<std::string>{"id-0", "id-1"}));
}

TEST_F(FlowSignals, SigtermAcknowledgesExactlyWhatWasWritten) {
  const std::string f = flow(R"(
mode: streaming
defaults: {batch: 100}
stages:
  - name: src
    source: test-ack-source
    config: {count: 100000000, ack_log: acks.log}
  - {name: copy, map: cat, threads: 2}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  auto child = start(f);
  ASSERT_TRUE(eventually([&] { return has_lines("out.txt", 1000); })) << killed(*child);
  ASSERT_TRUE(child->signal(SIGTERM));
  RunResult r = child->wait();
  ASSERT_EQ(r.exit_code, 0) << r;
  // The source stopped after some call: everything it emitted before drained, was
  // written once and was acknowledged once.
  const std::vector<std::string> written = sorted(read_lines(at("out.txt")));
  const size_t n = written.size();
  EXPECT_EQ(written, sorted(numbered("m", n)));
  EXPECT_EQ(sorted(read_lines(at("acks.log"))), sorted(numbered("id-", n)));
  EXPECT_EQ(summary(r.err).at("src").acked, static_cast<int64_t>(n)) << r;
}

TEST_F(FlowSignals, GracePeriodThatExpiresExits4WithTheReport) {
  const std::string f = flow(slow_flow("300ms"));
  auto child = start(f);
  ASSERT_TRUE(eventually([&] { return has_lines("out.txt"); })) << killed(*child);
  ASSERT_TRUE(child->signal(SIGTERM));
  RunResult r = child->wait();
  EXPECT_EQ(r.exit_code, 4) << r;
  EXPECT_LT(r.elapsed, 5000ms) << r;
  EXPECT_TRUE(
      contains(r.err, "sluice: warning: slow: the grace period ended before the flow drained\n"))
      << r;
  EXPECT_TRUE(
      contains(r.err, "sluice: error: stopped before the flow drained; messages not finished:\n"))
      << r;
  // One line per stage with leftovers: "  <stage>: N queued, M in progress[, K not
  // acknowledged ...]".
  bool out_line = false, src_line = false;
  for (const std::string& line : split_lines(r.err)) {
    out_line = out_line || (line.rfind("  out: ", 0) == 0 && contains(line, " queued, ") &&
                            contains(line, " in progress"));
    src_line = src_line || (line.rfind("  src: ", 0) == 0 && contains(line, " not acknowledged"));
  }
  EXPECT_TRUE(out_line) << r;
  EXPECT_TRUE(src_line) << r;
}

// --- check ----------------------------------------------------------------------------

const char* kValidFlow = R"(name: ok-flow
mode: job
stages:
  - name: gen
    source: generator
    config: {count: 3}
  - name: out
    sink: blackhole
)";

TEST_F(FlowCheck, OptionsMayComeBeforeOrAfterTheFlowFile) {
  // A repeatable option takes one value each time: it never swallows the flow file.
  const std::string f = flow(R"(
mode: job
stages:
  - {name: in, source: generator, config: {count: 1}}
  - {name: out, sink: blackhole}
)");
  RunResult before = sluice({"check", "--plugin-dir", kFixtureDir, f, "--set", "stages.in.config.count=2"});
  EXPECT_EQ(before.exit_code, 0) << before;
  RunResult mixed = sluice({"check", "--set", "mode=streaming", "--plugin-dir", kFixtureDir,
                            "--set", "stages.in.config.count=\"x\"", f});
  EXPECT_EQ(mixed.exit_code, 2) << "the second --set applies" << mixed;
  EXPECT_TRUE(contains(mixed.err, "config.count: expected an integer")) << mixed;
}

TEST_F(FlowCheck, ValidFlowIsOk) {
  const std::string f = flow(kValidFlow);
  RunResult r = check(f);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, f + ": ok (flow \"ok-flow\", job, 2 stages, 1 edge)\n");
  EXPECT_EQ(r.err, "");
}

// Runs `check`, expects exit 2 and exactly `errors` (each "<line>:<col>: error: ..."
// after the file name, or a --set location) then the count line.
void expect_check_errors(const RunResult& r, const std::string& file,
                         const std::vector<std::string>& errors) {
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.out, "") << r;
  std::string expected;
  for (const std::string& e : errors)
    expected += (e.rfind("--set", 0) == 0 ? "" : file + ":") + e + "\n";
  expected += "sluice: " + std::to_string(errors.size()) +
              (errors.size() == 1 ? " error" : " errors") + " in " + file + "\n";
  EXPECT_EQ(r.err, expected);
}

TEST_F(FlowCheck, TypeCheckHookRefusesAConfigAtItsKey) {
  // The type's own check (ABI 1.2) runs in `check`, without creating an instance, and
  // its "config.<key>: ..." message is placed at that key.
  const std::string f = flow(R"(mode: job
stages:
  - name: src
    source: test-ack-source
    config:
      count: 1
      require_file: missing.txt
  - {name: out, sink: blackhole}
)");
  RunResult r = check(f);
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.out, "") << r;
  EXPECT_TRUE(contains(r.err, f + ":7:21: error: stage \"src\" (test-ack-source, ")) << r;
  EXPECT_TRUE(contains(r.err, "libflow-fixtures.so): config.require_file: " +
                                  (dir() / "missing.txt").string() +
                                  " does not exist (create it, or fix the path)\n"))
      << r;
  EXPECT_TRUE(contains(r.err, "sluice: 1 error in " + f + "\n")) << r;

  write("missing.txt", "");
  RunResult ok = check(f);
  EXPECT_EQ(ok.exit_code, 0) << ok;
}

TEST_F(FlowCheck, CycleIsAnErrorAtTheStage) {
  const std::string f = flow(R"(mode: job
stages:
  - {name: gen, source: generator}
  - {name: a, map: cat}
  - {name: b, map: cat}
  - {name: out, sink: blackhole}
edges:
  - {from: gen, to: a}
  - {from: a, to: b}
  - {from: b, to: a}
  - {from: b, to: out}
)");
  expect_check_errors(check(f), f,
                      {"4:5: error: the flow has a cycle: a -> b -> a (hint: a flow is a DAG; "
                       "remove one of these edges)"});
}

TEST_F(FlowCheck, UnreachableStageIsAnError) {
  const std::string f = flow(R"(mode: job
stages:
  - {name: gen, source: generator}
  - {name: out, sink: blackhole}
  - {name: orphan, sink: blackhole}
edges:
  - {from: gen, to: out}
)");
  expect_check_errors(check(f), f,
                      {"5:5: error: stage \"orphan\" is not reachable from any source (hint: add "
                       "an edge into it, or remove it)"});
}

TEST_F(FlowCheck, UnknownKeyIsAnErrorAtItsLineAndColumn) {
  const std::string f = flow(R"(mode: job
stages:
  - name: gen
    source: generator
  - name: pass
    map: cat
    treads: 2
  - {name: out, sink: blackhole}
)");
  expect_check_errors(
      check(f), f, {"7:5: error: unknown key 'treads' in stages[1] (hint: did you mean threads?)"});
}

TEST_F(FlowCheck, QuotedYesIsNotABool) {
  const std::string f = flow(R"(mode: job
stages:
  - {name: gen, source: generator}
  - name: pass
    map: cat
    ordered: "yes"
  - {name: out, sink: blackhole}
)");
  expect_check_errors(check(f), f,
                      {"6:14: error: stages[1].ordered must be true or false, not \"yes\" (hint: "
                       "\"yes\" is a string, not a bool; write true or false without quotes)"});
}

TEST_F(FlowCheck, MissingPluginTypeIsAnError) {
  const std::string f = flow(R"(mode: job
stages:
  - {name: gen, source: generator}
  - name: pass
    map: no-such-type
  - {name: out, sink: blackhole}
)");
  RunResult r = check(f);
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, f + ":5:10: error: no plugin type \"no-such-type\" (hint: types that "
                                  "can be a map: "))
      << r;
  EXPECT_TRUE(contains(r.err, "\nsluice: 1 error in " + f + "\n")) << r;

  // A type that exists but not with the stage's kind.
  RunResult kind = check(f, {"--set", "stages.pass.map=generator"});
  EXPECT_EQ(kind.exit_code, 2) << kind;
  EXPECT_TRUE(contains(kind.err, "error: type \"generator\" (")) << kind;
  EXPECT_TRUE(contains(kind.err, ") cannot be a map; it can be: source\n")) << kind;
}

TEST_F(FlowCheck, ConfigViolatingTheSchemaIsAnErrorAtTheValue) {
  const std::string f = flow(R"(mode: job
stages:
  - name: gen
    source: generator
    config:
      count: "x"
  - {name: out, sink: blackhole}
)");
  expect_check_errors(check(f), f,
                      {"6:14: error: stage \"gen\" config.count: expected an integer, got \"x\" "
                       "(hint: see the config of generator in sluice plugins --json)"});
}

TEST_F(FlowCheck, EveryErrorOfAKindIsReportedInOnePass) {
  // Three mistakes in the file's syntax and values...
  const std::string syntax = flow(R"(mode: job
stages:
  - name: gen
    source: generator
    batch: "10"
  - name: pass
    map: cat
    treads: 2
    ordered: yes
  - {name: out, sink: blackhole}
)");
  RunResult r1 = check(syntax);
  EXPECT_EQ(r1.exit_code, 2) << r1;
  EXPECT_EQ(split_lines(r1.err).size(), 4u) << r1;
  EXPECT_TRUE(contains(r1.err, syntax + ":5:12: error: ")) << r1;
  EXPECT_TRUE(contains(r1.err, syntax + ":8:5: error: unknown key 'treads'")) << r1;
  EXPECT_TRUE(contains(r1.err, syntax + ":9:14: error: ")) << r1;
  EXPECT_TRUE(contains(r1.err, "sluice: 3 errors in " + syntax + "\n")) << r1;

  // ... and three in the types and configs.
  const std::string types = flow(R"(mode: job
stages:
  - name: gen
    source: generator
    config: {count: "x"}
  - name: pass
    map: no-such-type
  - name: out
    sink: blackhole
    config: {bogus: 1}
)");
  RunResult r2 = check(types);
  EXPECT_EQ(r2.exit_code, 2) << r2;
  EXPECT_EQ(split_lines(r2.err).size(), 4u) << r2;
  EXPECT_TRUE(contains(r2.err, types + ":5:21: error: stage \"gen\" config.count: ")) << r2;
  EXPECT_TRUE(contains(r2.err, types + ":7:10: error: no plugin type \"no-such-type\"")) << r2;
  EXPECT_TRUE(contains(r2.err, types + ":10:21: error: stage \"out\" config.bogus: ")) << r2;
  EXPECT_TRUE(contains(r2.err, "sluice: 3 errors in " + types + "\n")) << r2;
}

TEST_F(FlowCheck, SetOverridesAreCheckedLikeTheFile) {
  const std::string f = flow(kValidFlow);
  // A valid flow made invalid: the error is located at the override.
  expect_check_errors(check(f, {"--set", "stages.gen.config.count=\"x\""}), f,
                      {"--set stages.gen.config.count=\"x\": error: stage \"gen\" config.count: "
                       "expected an integer, got \"x\" (hint: see the config of generator in "
                       "sluice plugins --json)"});
  expect_check_errors(check(f, {"--set", "stages.gen.ordered=\"yes\""}), f,
                      {"--set stages.gen.ordered=\"yes\": error: stages[0].ordered must be true "
                       "or false, not \"yes\" (hint: \"yes\" is a string, not a bool; write true "
                       "or false without quotes)"});
  expect_check_errors(check(f, {"--set", "stages.nope.config.count=3"}), f,
                      {"--set stages.nope.config.count=3: error: no stage named 'nope' (hint: "
                       "stages: gen, out)"});

  // An invalid flow made valid.
  const std::string bad = write("bad.yaml", R"(mode: job
stages:
  - {name: gen, source: generator, config: {count: "x"}}
  - {name: out, sink: no-such-sink}
)")
                              .string();
  EXPECT_EQ(check(bad).exit_code, 2);
  RunResult fixed =
      check(bad, {"--set", "stages.gen.config.count=3", "--set", "stages.out.sink=blackhole"});
  EXPECT_EQ(fixed.exit_code, 0) << fixed;
  EXPECT_EQ(fixed.out, bad + ": ok (flow \"bad\", job, 2 stages, 1 edge)\n");

  // And run uses the overridden values.
  RunResult ran = run(f, {"--set", "stages.out.sink=stdout", "--set",
                          "stages.gen.config={count: 2, template: \"s{seq}\"}", "--no-summary"});
  EXPECT_EQ(ran.exit_code, 0) << ran;
  EXPECT_EQ(ran.out, "s0\ns1\n");
}

TEST_F(FlowCheck, EnvironmentVariablesAreSubstituted) {
  const std::string f = flow(R"(mode: job
stages:
  - name: gen
    source: generator
    config:
      count: ${COUNT}
      template: "${PREFIX:-p}{seq}"
  - name: out
    sink: file
    config:
      path: ${OUT}
)");
  RunResult ok = run(f, {"--no-summary"},
                     options({{"COUNT", "3"}, {"OUT", "out.txt"}, {"PREFIX", std::nullopt}}));
  EXPECT_EQ(ok.exit_code, 0) << ok;
  EXPECT_EQ(read_lines(at("out.txt")), (std::vector<std::string>{"p0", "p1", "p2"}));
  RunResult prefixed =
      run(f, {"--no-summary"}, options({{"COUNT", "2"}, {"OUT", "out.txt"}, {"PREFIX", "q"}}));
  EXPECT_EQ(prefixed.exit_code, 0) << prefixed;
  EXPECT_EQ(read_lines(at("out.txt")), (std::vector<std::string>{"q0", "q1"}));

  // An unset variable without a default is an error at its location.
  expect_check_errors(check(f, {}, options({{"COUNT", std::nullopt}, {"OUT", "out.txt"}})), f,
                      {"6:14: error: environment variable COUNT is not set (hint: export it or "
                       "use ${COUNT:-default})"});
  // The substituted text is read as a value: not a number here.
  expect_check_errors(check(f, {}, options({{"COUNT", "many"}, {"OUT", "out.txt"}})), f,
                      {"6:14: error: stage \"gen\" config.count: expected an integer, got "
                       "\"many\" (hint: see the config of generator in sluice plugins --json)"});
}

// --- serving: configuration (docs/serving.md) -------------------------------------------

// A valid flow that takes HTTP requests and answers them (8 lines, like kValidFlow): a
// serving flow streams, and its source is the serving source.
const char* kServingStages = R"(name: ok-flow
mode: streaming
stages:
  - name: requests
    source: serving
    config: {}
  - name: out
    sink: serve
)";

// kServingStages, then `serving:` on line 9 and its keys from line 10.
std::string serving_flow(const std::string& serving) {
  return std::string(kServingStages) + "serving:\n" + serving;
}

TEST_F(FlowCheck, ServingBlockIsOk) {
  fs::create_directories(at("certs"));
  write("certs/tls.crt", "-----BEGIN CERTIFICATE-----\n");
  write("certs/tls.key", "-----BEGIN PRIVATE KEY-----\n");
  write("token", "from-a-file\n");
  const std::string f = flow(serving_flow(R"(  http: 127.0.0.1:8090
  https: "[::1]:8443"
  tls: {cert: certs/tls.crt, key: certs/tls.key}
  msgIDHeaderKey: X-Request-Id
  requestTimeoutSeconds: 30
  auth: {tokens: [{file: token}, {env: API_TOKEN}]}
  maxRequestBody: 4MiB
  maxInFlight: 100
  httpThreads: 16
  store: {sqlite: {path: data/requests.db, ttl: 10m}}
)"));
  RunResult r = check(f, {}, options({{"API_TOKEN", "from-the-env"}}));
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, f + ": ok (flow \"ok-flow\", streaming, 2 stages, 1 edge, serving http "
                       "127.0.0.1:8090, https [::1]:8443)\n");
  EXPECT_EQ(r.err, "");

  // The smallest block: one address, everything else defaulted.
  const std::string g = flow(serving_flow("  https: 0.0.0.0:8443\n  tls: {selfSigned: true}\n"));
  RunResult small = check(g);
  EXPECT_EQ(small.exit_code, 0) << small;
  EXPECT_EQ(small.out,
            g + ": ok (flow \"ok-flow\", streaming, 2 stages, 1 edge, serving https "
                "0.0.0.0:8443)\n");
}

TEST_F(FlowCheck, ServingNeedsAServingSourceAndStreaming) {
  // kValidFlow is a job with a generator: neither takes requests.
  const std::string f = flow(std::string(kValidFlow) + "serving:\n  http: 127.0.0.1:8090\n");
  expect_check_errors(
      check(f), f,
      {"9:1: error: serving: needs a stage that takes the requests: a source of type serving "
       "(hint: add - {name: requests, source: serving} to stages, and answer with the serve "
       "sink)",
       "2:7: error: a serving flow runs until it is stopped; mode: job would never end (hint: "
       "use mode: streaming (the default))"});
  // And the serving source needs serving:.
  const std::string g = flow(kServingStages);
  expect_check_errors(check(g), g,
                      {"5:13: error: the serving source needs the flow's serving: block (hint: "
                       "add serving: {http: 127.0.0.1:8090} (docs/serving.md))"});
}

TEST_F(FlowCheck, ServingErrorsAreReportedAtTheirKeysInOnePass) {
  write("empty-token", "\n");
  const std::string f = flow(serving_flow(R"(  http: localhost
  https: 0.0.0.0:8443
  msgIDHeaderKey: "X Id"
  requestTimeoutSeconds: 0
  maxRequestBody: 2GiB
  maxInFlight: 0
  httpThreads: 0
  auth:
    tokens:
      - env: API_TOKEN
      - file: empty-token
      - file: no-such-token
  store: {grpc: {address: 'store:0'}}
)"));
  expect_check_errors(
      check(f, {}, options({{"API_TOKEN", std::nullopt}})), f,
      {"10:9: error: serving.http: 'localhost' has no port (hint: write HOST:PORT, e.g. "
       "localhost:8090)",
       "11:10: error: https needs tls (hint: add tls: {cert: <file>, key: <file>}, or tls: "
       "{selfSigned: true} for development)",
       "12:19: error: msgIDHeaderKey 'X Id' is not a valid HTTP header name (hint: use letters, "
       "digits and !#$%&'*+-.^_`|~, e.g. X-Request-Id)",
       "13:26: error: requestTimeoutSeconds must be between 1 and 86400, got 0",
       "14:19: error: maxRequestBody must be between 1 byte and 512MiB, got 2147483648 bytes",
       "15:16: error: maxInFlight must be between 1 and 1000000, got 0",
       "16:16: error: httpThreads must be between 1 and 4096, got 0",
       "19:14: error: environment variable API_TOKEN is not set (hint: export it with the token "
       "before starting sluice)",
       "20:15: error: token file 'empty-token' is empty (hint: a token must have at least one "
       "character (surrounding whitespace is ignored))",
       "21:15: error: cannot read token file 'no-such-token': No such file or directory (hint: "
       "paths are relative to the flow file's folder)",
       "22:27: error: grpc address 'store:0' needs a port from 1 to 65535"});
}

TEST_F(FlowCheck, ServingTlsFilesAreCheckedRelativeToTheFlow) {
  const std::string f = flow(
      serving_flow("  https: 0.0.0.0:8443\n  tls: {cert: tls.crt, key: tls.key}\n"));
  expect_check_errors(check(f), f,
                      {"11:15: error: cannot read the tls cert file 'tls.crt': No such file or "
                       "directory (hint: paths are relative to the flow file's folder)",
                       "11:29: error: cannot read the tls key file 'tls.key': No such file or "
                       "directory (hint: paths are relative to the flow file's folder)"});
  write("tls.crt", "x");
  write("tls.key", "x");
  EXPECT_EQ(check(f).exit_code, 0);
  // Without https, tls is a mistake; without any address, serving is.
  const std::string g = flow(serving_flow("  http: 0.0.0.0:8090\n  tls: {selfSigned: true}\n"));
  expect_check_errors(check(g), g,
                      {"11:3: error: tls is set but there is no https address (hint: add "
                       "https: 0.0.0.0:8443, or remove tls)"});
  const std::string h = flow(serving_flow("  maxInFlight: 10\n"));
  expect_check_errors(check(h), h,
                      {"9:1: error: serving needs a listen address (hint: add http: "
                       "127.0.0.1:8090 and/or https: 0.0.0.0:8443)"});
}

TEST_F(FlowCheck, ServingSchemaErrorsComeFromTheLoader) {
  const std::string f = flow(serving_flow(R"(  http: 0.0.0.0:8090
  msgIdHeaderKey: X-Id
  store:
    sqlite: {}
    grpc: {address: 'unix:/s.sock'}
)"));
  expect_check_errors(check(f), f,
                      {"11:3: error: unknown key 'msgIdHeaderKey' in serving (hint: did you mean "
                       "msgIDHeaderKey?)",
                       "13:5: error: a serving store has exactly one of sqlite, grpc; this one "
                       "has sqlite and grpc"});
}

TEST_F(FlowCheck, ServingTokensAreNeverPrinted) {
  write("token", "secret value with spaces\n");
  const std::string f = flow(serving_flow(
      "  http: 0.0.0.0:8090\n  auth: {tokens: [{file: token}, {env: API_TOKEN}]}\n"));
  RunResult r = check(f, {}, options({{"API_TOKEN", "another secret\x01"}}));
  expect_check_errors(
      r, f,
      {"11:26: error: the token in token file 'token' has a space, a control or a non-ASCII "
       "character (hint: a bearer token is one line of visible ASCII characters)",
       "11:40: error: the token in environment variable API_TOKEN has a space, a control or a "
       "non-ASCII character (hint: a bearer token is one line of visible ASCII characters)"});
  EXPECT_EQ(r.err.find("secret"), std::string::npos) << r;
}

TEST_F(FlowCheck, ServingTokenSourcesWrittenWithExpansionAreRefusedWithoutTheirValue) {
  // `env: ${SCORING_TOKEN}` expands to the token itself (and `file: ${...}` to whatever
  // the variable holds): an error must not print it.
  const std::string f = flow(serving_flow(
      "  http: 0.0.0.0:8090\n"
      "  auth:\n    tokens:\n      - env: ${SCORING_TOKEN}\n"
      "      - file: \"${SCORING_TOKEN}\"\n"));
  RunResult r = check(f, {}, options({{"SCORING_TOKEN", "sk_live_9f8e7d6c5b4a"}}));
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.err.find("sk_live"), std::string::npos) << r;
  EXPECT_NE(r.err.find("error: env: is written with ${...}; it must name the variable itself "
                       "(its expanded value is not shown: it may be the token) (hint: write the "
                       "bare name: env: API_TOKEN, not env: ${API_TOKEN})"),
            std::string::npos)
      << r;
  EXPECT_NE(r.err.find("error: file: is written with ${...}; it must name the file itself"),
            std::string::npos)
      << r;
  // Through --set too.
  const std::string g = flow(serving_flow("  http: 0.0.0.0:8090\n  auth: {tokens: [{env: X}]}\n"));
  RunResult s = check(g, {"--set", "serving.auth.tokens[0].env=${SCORING_TOKEN}"},
                      options({{"SCORING_TOKEN", "sk_live_9f8e7d6c5b4a"}}));
  EXPECT_EQ(s.exit_code, 2) << s;
  EXPECT_EQ(s.err.find("sk_live"), std::string::npos) << s;
}

TEST_F(FlowCheck, GraphDrawsAServingFlowWithoutItsSecrets) {
  // check and run read the token sources; graph only draws, so a missing token file or
  // variable (a laptop without the production secrets) does not stop it.
  const std::string f = flow(serving_flow(
      "  http: 0.0.0.0:8090\n  auth: {tokens: [{file: no-such-token}, {env: UNSET_TOKEN}]}\n"));
  RunResult g = sluice({"graph", f}, options());
  EXPECT_EQ(g.exit_code, 0) << g;
  RunResult c = check(f);
  EXPECT_EQ(c.exit_code, 2) << c;
}

TEST_F(FlowCheck, ServingTokenFileMustBeASmallRegularFile) {
  write("big-token", std::string(5000, 'x'));
  const std::string f = flow(serving_flow(
      "  http: 0.0.0.0:8090\n  auth: {tokens: [{file: big-token}, {file: /dev/zero}]}\n"));
  RunResult r = check(f);
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_NE(r.err.find("token file 'big-token' is larger than 4096 bytes"), std::string::npos) << r;
  EXPECT_NE(r.err.find("cannot read token file '/dev/zero': it is not a regular file"),
            std::string::npos)
      << r;
}

// --- graph ----------------------------------------------------------------------------

const char* kGraphFlow = R"(name: small
mode: job
stages:
  - {name: in, source: generator}
  - {name: route, map: filter, config: {where: {regex: x}, action: tag, tag: x}}
  - {name: out, sink: blackhole}
  - {name: dead, sink: blackhole}
  - name: xs
    sink: blackhole
    onError: {fallback: dead}
edges:
  - {from: in, to: route}
  - {from: route, to: out}
  - {from: route, to: xs, when: {tags: [x], match: all}}
)";

TEST_F(FlowGraph, MermaidByDefault) {
  const std::string f = flow(R"(name: three
stages:
  - {name: gen, source: generator}
  - {name: pass, map: cat}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  RunResult r = sluice({"graph", f}, options());
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out,
            "flowchart LR\n"
            "  s0([\"gen<br/>source: generator\"])\n"
            "  s1[\"pass<br/>map: cat\"]\n"
            "  s2([\"out<br/>sink: file\"])\n"
            "  s0 --> s1\n"
            "  s1 --> s2\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(FlowGraph, MermaidShowsConditionsAndDashedFallbacks) {
  RunResult r = sluice({"graph", flow(kGraphFlow)}, options());
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out,
            "flowchart LR\n"
            "  s0([\"in<br/>source: generator\"])\n"
            "  s1[\"route<br/>map: filter\"]\n"
            "  s2([\"out<br/>sink: blackhole\"])\n"
            "  s3([\"dead<br/>sink: blackhole\"])\n"
            "  s4([\"xs<br/>sink: blackhole\"])\n"
            "  s0 --> s1\n"
            "  s1 --> s2\n"
            "  s1 -- \"all: x\" --> s4\n"
            "  s4 -. \"on error\" .-> s3\n");
}

TEST_F(FlowGraph, Dot) {
  RunResult r = sluice({"graph", flow(kGraphFlow), "--format", "dot"}, options());
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out,
            "digraph \"small\" {\n"
            "  rankdir=LR;\n"
            "  \"in\" [shape=invhouse, label=\"in\\nsource: generator\"];\n"
            "  \"route\" [shape=box, label=\"route\\nmap: filter\"];\n"
            "  \"out\" [shape=house, label=\"out\\nsink: blackhole\"];\n"
            "  \"dead\" [shape=house, label=\"dead\\nsink: blackhole\"];\n"
            "  \"xs\" [shape=house, label=\"xs\\nsink: blackhole\"];\n"
            "  \"in\" -> \"route\";\n"
            "  \"route\" -> \"out\";\n"
            "  \"route\" -> \"xs\" [label=\"all: x\"];\n"
            "  \"xs\" -> \"dead\" [style=dashed, label=\"on error\"];\n"
            "}\n");
}

TEST_F(FlowGraph, NeedsNoPluginsButChecksTheGraph) {
  // A type that does not exist is fine for graph (it loads no plugins)...
  const std::string f = flow(R"(name: t
stages:
  - {name: gen, source: nonexistent-source}
  - {name: out, sink: blackhole}
)");
  RunResult r = sluice({"graph", f}, options());
  EXPECT_EQ(r.exit_code, 0) << r;
  // ... a malformed flow is not.
  RunResult bad = sluice({"graph", flow("stages: []\n")}, options());
  EXPECT_EQ(bad.exit_code, 2) << bad;
  EXPECT_EQ(bad.out, "");
  // ... nor an unknown format.
  EXPECT_EQ(sluice({"graph", f, "--format", "png"}, options()).exit_code, 2);
}

// --- metrics --------------------------------------------------------------------------

TEST_F(FlowMetrics, ServesPrometheusTextWhileRunning) {
  const std::string f = flow(R"(
name: m
mode: streaming
stages:
  - {name: gen, source: generator, config: {rate: 2000}}
  - {name: pass, map: cat}
  - {name: out, sink: blackhole}
)");
  const int port = free_port();
  auto child = start(f, {"--metrics-addr", "127.0.0.1:" + std::to_string(port)});
  std::string metrics;
  // Until the server answers and the map has seen messages.
  ASSERT_TRUE(eventually([&] {
    metrics = http_get(port, "/metrics");
    return contains(metrics,
                    "sluice_stage_messages_in_total{flow=\"m\",stage=\"pass\",kind=\"map\"} ") &&
           !contains(metrics,
                     "sluice_stage_messages_in_total{flow=\"m\",stage=\"pass\",kind=\"map\"} 0\n");
  })) << metrics
      << killed(*child);
  EXPECT_TRUE(contains(metrics, "HTTP/1.1 200 OK\r\n")) << metrics;
  EXPECT_TRUE(contains(metrics, "# TYPE sluice_stage_messages_in_total counter\n")) << metrics;
  EXPECT_TRUE(contains(metrics, "sluice_edge_messages_total{flow=\"m\",from=\"gen\",to=\"pass\"} "))
      << metrics;
  EXPECT_TRUE(contains(metrics, "sluice_edge_messages_total{flow=\"m\",from=\"pass\",to=\"out\"} "))
      << metrics;
  EXPECT_TRUE(contains(metrics, "sluice_stage_process_seconds_count{flow=\"m\",stage=\"pass\"} "))
      << metrics;
  const std::string livez = http_get(port, "/livez");
  EXPECT_TRUE(contains(livez, "200 OK") && livez.size() >= 3 &&
              livez.compare(livez.size() - 3, 3, "ok\n") == 0)
      << livez;

  ASSERT_TRUE(child->signal(SIGTERM));
  RunResult r = child->wait();
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.err, "sluice: info: run: metrics at http://127.0.0.1:" +
                                  std::to_string(port) + "/metrics\n"))
      << r;
}

TEST_F(FlowMetrics, SourceBacklogFromPendingIsAGauge) {
  // test-ack-source reports what it has left to emit (ABI 1.2 pending); a slow sink
  // keeps it from finishing before the scrape.
  const std::string f = flow(R"(
name: m
mode: streaming
stages:
  - {name: src, source: test-ack-source, batch: 10, config: {count: 1000000, ack_log: acks.txt}}
  - {name: out, sink: test-slow-sink, batch: 10, config: {delay_us: 2000, out: out.txt}}
edges: [{from: src, to: out, capacity: 20}]
)");
  const int port = free_port();
  auto child = start(f, {"--metrics-addr", "127.0.0.1:" + std::to_string(port)});
  std::string metrics;
  const std::string prefix = "sluice_source_pending_messages{flow=\"m\",stage=\"src\",kind=\"source\"} ";
  ASSERT_TRUE(eventually([&] {
    metrics = http_get(port, "/metrics");
    return contains(metrics, prefix);
  })) << metrics
      << killed(*child);
  EXPECT_TRUE(contains(metrics, "# TYPE sluice_source_pending_messages gauge\n")) << metrics;
  const size_t at = metrics.find(prefix) + prefix.size();
  const long long pending = std::stoll(metrics.substr(at, metrics.find('\n', at) - at));
  EXPECT_GT(pending, 0) << metrics;
  EXPECT_LT(pending, 1000000) << metrics;
  // A stage whose type has no pending() has no such line.
  EXPECT_FALSE(contains(metrics, "sluice_source_pending_messages{flow=\"m\",stage=\"out\"")) << metrics;
  ASSERT_TRUE(child->signal(SIGTERM));
  child->signal(SIGTERM);  // a second one: do not wait for the backlog to drain
  RunResult r = child->wait();
  EXPECT_NE(r.exit_code, 1) << r;
}

TEST_F(FlowMetrics, BadAddressIsAUsageError) {
  const std::string f = flow(kValidFlow);
  RunResult no_port = run(f, {"--metrics-addr", "localhost"});
  EXPECT_EQ(no_port.exit_code, 2) << no_port;
  EXPECT_EQ(no_port.err,
            "sluice: error: --metrics-addr \"localhost\": expected HOST:PORT, e.g. "
            "127.0.0.1:9090\n");
  RunResult bad_port = run(f, {"--metrics-addr", "127.0.0.1:99999"});
  EXPECT_EQ(bad_port.exit_code, 2) << bad_port;
  EXPECT_EQ(bad_port.err,
            "sluice: error: --metrics-addr \"127.0.0.1:99999\": the port must be a "
            "number from 0 to 65535\n");

  // A port something already listens on.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string taken = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  RunResult in_use = run(f, {"--metrics-addr", taken});
  ::close(fd);
  EXPECT_EQ(in_use.exit_code, 2) << in_use;
  EXPECT_EQ(in_use.err, "sluice: error: --metrics-addr \"" + taken +
                            "\": cannot listen there (in use, or not a local address)\n");
}

}  // namespace
}  // namespace sluice::test
