// Reduce stages end to end through the `sluice` binary: the built-in `count` reducer,
// real sources (the generator, the test fixtures' ack source with chosen keys and event
// times) and real file sinks; exact window results, late data, session merges, a
// randomized comparison with a direct computation, and acknowledgements that wait for
// the window results.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "run_process.h"
#include "test_folder.h"

namespace sluice::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ordered = nlohmann::ordered_json;  // keeps the reducers' key order
using namespace std::chrono_literals;



// "1970-01-01T00:00:04.000Z" for 4000.
std::string rfc3339(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::string result(const std::string& key, int64_t start, int64_t end, uint64_t count) {
  return ordered{{"keys", {key}}, {"start", rfc3339(start)}, {"end", rfc3339(end)}, {"count", count}}.dump();
}

class ReduceTest : public FolderTest {
 protected:
  ReduceTest() : FolderTest("sluice-reduce") {}

  RunOptions options() const {
    RunOptions opts;
    opts.env["SLUICE_PLUGIN_PATH"] = std::nullopt;
    opts.timeout = 90s;
    return opts;
  }
  RunResult run(const std::string& yaml, std::vector<std::string> extra = {}) {
    write("flow.yaml", "plugins: [" + std::string(SLUICE_FIXTURE_DIR) + "]\n" + yaml);
    std::vector<std::string> args = {"run", at("flow.yaml").string(), "--no-summary"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_process(SLUICE_BIN, args, options());
  }
  // The ack source's events config for these (key, event time) pairs.
  static std::string event_list(const std::vector<std::pair<std::string, int64_t>>& e) {
    std::string s = "[";
    for (size_t i = 0; i < e.size(); ++i) s += (i ? ", " : "") + e[i].first + "@" + std::to_string(e[i].second);
    return s + "]";
  }
  // ... and where it logs its acks (events.acks.txt).
  std::string events(const std::vector<std::pair<std::string, int64_t>>& e) const {
    return event_list(e) + ", ack_log: " + at("events.acks.txt").string();
  }
};

// A job: the generator's event times 1 s apart, two keys, 4 s fixed windows. Windows
// close as the watermark passes them; the rest at the end of input. A message exactly
// at a window's end (4000) is in the next window.
TEST_F(ReduceTest, JobCountsPerKeyAndFixedWindow) {
  RunResult r = run(R"(name: counts
mode: job
stages:
  - {name: gen, source: generator, config: {count: 10, keys: 2, eventTimeStart: 1000, eventTimeStep: 1000}}
  - {name: counts, reduce: count, window: {fixed: 4s}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  ASSERT_EQ(r.exit_code, 0) << r;
  // key-0: 1000 3000 | 5000 7000 | 9000; key-1: 2000 | 4000 6000 | 8000 10000.
  EXPECT_EQ(lines("out.txt"), (std::vector<std::string>{
                                  result("key-0", 0, 4000, 2), result("key-1", 0, 4000, 1),
                                  result("key-0", 4000, 8000, 2), result("key-1", 4000, 8000, 2),
                                  result("key-0", 8000, 12000, 1), result("key-1", 8000, 12000, 2)}));
}

// Windows that close together come out by end, then key bytewise (shorter first when
// one is a prefix of the other), whatever the key lengths.
TEST_F(ReduceTest, WindowsClosingTogetherComeOutInKeyOrder) {
  RunResult r = run(R"(name: order
mode: job
stages:
  - name: in
    source: test-ack-source
    config: {events: )" + events({{"is", 1000}, {"b", 1000}, {"ab", 1000}, {"a", 1000}, {"and", 1000}}) + R"(}
  - {name: counts, reduce: count, window: {fixed: 4s}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(lines("out.txt"), (std::vector<std::string>{result("a", 0, 4000, 1), result("ab", 0, 4000, 1),
                                                        result("and", 0, 4000, 1), result("b", 0, 4000, 1),
                                                        result("is", 0, 4000, 1)}));
}

// Sliding windows: each message counts in length/slide windows; unkeyed: one window
// per time range for all keys.
TEST_F(ReduceTest, SlidingUnkeyedWindowsOverlap) {
  RunResult r = run(R"(name: sliding
mode: job
stages:
  - {name: gen, source: generator, config: {count: 6, keys: 3, eventTimeStart: 1000, eventTimeStep: 1000}}
  - {name: counts, reduce: count, window: {sliding: {length: 4s, slide: 2s}}, keyed: false}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  ASSERT_EQ(r.exit_code, 0) << r;
  // Times 1000..6000. Windows [-2,2):1  [0,4):3  [2,6):4  [4,8):3  [6,10):1.
  auto unkeyed = [](int64_t start, int64_t end, uint64_t n) {
    return ordered{{"keys", ordered::array()}, {"start", rfc3339(start)}, {"end", rfc3339(end)}, {"count", n}}.dump();
  };
  const std::vector<std::string> got = lines("out.txt");
  ASSERT_EQ(got.size(), 5u) << read("out.txt");
  EXPECT_EQ(got[0], ordered({{"keys", ordered::array()}, {"start", "1969-12-31T23:59:58.000Z"},
                          {"end", rfc3339(2000)}, {"count", 1}}).dump());
  EXPECT_EQ(got[1], unkeyed(0, 4000, 3));
  EXPECT_EQ(got[2], unkeyed(2000, 6000, 4));
  EXPECT_EQ(got[3], unkeyed(4000, 8000, 3));
  EXPECT_EQ(got[4], unkeyed(6000, 10000, 1));
}

// Sessions per key: a message that bridges two sessions merges them (the reducer folds
// the counts); messages exactly `gap` apart are separate sessions.
TEST_F(ReduceTest, SessionsMergeWhenAMessageBridgesThem) {
  RunResult r = run(R"(name: sessions
mode: job
stages:
  - name: in
    source: test-ack-source
    config: {events: )" + events({{"a", 1000}, {"a", 5000}, {"b", 1000}, {"b", 4000}, {"a", 3500}}) + R"(}
    watermark: {maxDelay: 1m}
  - {name: sessions, reduce: count, window: {session: {gap: 3s}}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  ASSERT_EQ(r.exit_code, 0) << r;
  // a: [1000,4000) and [5000,8000) merge through 3500 into [1000,8000), 3 messages.
  // b: 1000 and 4000 are exactly 3 s apart: [1000,4000) and [4000,7000).
  EXPECT_EQ(lines("out.txt"), (std::vector<std::string>{result("b", 1000, 4000, 1), result("b", 4000, 7000, 1),
                                                        result("a", 1000, 8000, 3)}));
}

// Late data: with maxDelay 0 the watermark follows the newest event time, so a message
// older than an already closed window is late: dropped and counted by default, or sent
// on with the tag `late` (late: route) to the edge that asks for it.
TEST_F(ReduceTest, LateMessagesAreDroppedOrRouted) {
  const std::string src = R"(
  - name: in
    source: test-ack-source
    batch: 1
    config: {events: )" + events({{"a", 1000}, {"a", 9000}, {"a", 2000}, {"a", 9500}}) + "}\n";
  RunResult dropped = run("name: late\nmode: job\nstages:" + src + R"(
  - {name: counts, reduce: count, window: {fixed: 4s}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  ASSERT_EQ(dropped.exit_code, 0) << dropped;
  EXPECT_EQ(lines("out.txt"), (std::vector<std::string>{result("a", 0, 4000, 1), result("a", 8000, 12000, 2)}));
  EXPECT_TRUE(contains(dropped.err, "late message dropped (event time 2000 ms, watermark 9000 ms")) << dropped;

  fs::remove(at("out.txt"));
  RunResult routed = run("name: late\nmode: job\nstages:" + src + R"(
  - {name: counts, reduce: count, window: {fixed: 4s}, late: route}
  - {name: out, sink: file, config: {path: out.txt}}
  - {name: late-out, sink: file, config: {path: late.txt}}
edges:
  - {from: in, to: counts}
  - {from: counts, to: out, when: {tags: [late], match: none}}
  - {from: counts, to: late-out, when: {tags: [late]}}
)");
  ASSERT_EQ(routed.exit_code, 0) << routed;
  EXPECT_EQ(lines("out.txt"), (std::vector<std::string>{result("a", 0, 4000, 1), result("a", 8000, 12000, 2)}));
  EXPECT_EQ(read("late.txt"), "a@2000\n");
}

// Randomized: events out of order within maxDelay, several keys, fixed, sliding and
// session windows; the engine's counts equal a direct computation over the same events.
TEST_F(ReduceTest, RandomizedCountsMatchADirectComputation) {
  std::mt19937_64 rng(20261121);
  for (int round = 0; round < 3; ++round) {
    std::vector<std::pair<std::string, int64_t>> e;
    int64_t t = 100000;
    for (int i = 0; i < 400; ++i) {
      t += static_cast<int64_t>(rng() % 700);
      const int64_t jitter = static_cast<int64_t>(rng() % 2000);  // out of order, within maxDelay
      e.push_back({"k" + std::to_string(rng() % 5), std::max<int64_t>(1, t - jitter)});
    }
    // Reference: (key, start, end) -> count.
    using Win = std::tuple<std::string, int64_t, int64_t>;
    std::map<Win, uint64_t> fixed, sliding;
    for (const auto& [k, ts] : e) {
      const int64_t f = ts / 3000 * 3000;
      ++fixed[{k, f, f + 3000}];
      for (int64_t s = ts / 1000 * 1000; s > ts - 4000; s -= 1000) ++sliding[{k, s, s + 4000}];
    }
    // Sessions with gap 1500: per key, sort and split where the next message is >= gap later.
    std::map<Win, uint64_t> sessions;
    std::map<std::string, std::vector<int64_t>> by_key;
    for (const auto& [k, ts] : e) by_key[k].push_back(ts);
    for (auto& [k, ts] : by_key) {
      std::sort(ts.begin(), ts.end());
      int64_t start = ts[0], end = ts[0] + 1500;
      uint64_t n = 0;
      for (int64_t x : ts) {
        if (x >= end) {
          sessions[{k, start, end}] = n;
          start = x;
          n = 0;
        }
        end = std::max(end, x + 1500);
        ++n;
      }
      sessions[{k, start, end}] = n;
    }
    RunResult r = run(R"(name: random
mode: job
stages:
  - name: in
    source: test-ack-source
    batch: 7
    config: {events: )" + events(e) + R"(}
    watermark: {maxDelay: 2s}
  - {name: fixed, reduce: count, window: {fixed: 3s}}
  - {name: sliding, reduce: count, window: {sliding: {length: 4s, slide: 1s}}}
  - {name: sessions, reduce: count, window: {session: {gap: 1500ms}}}
  - {name: fixed-out, sink: file, config: {path: fixed.txt}}
  - {name: sliding-out, sink: file, config: {path: sliding.txt}}
  - {name: sessions-out, sink: file, config: {path: sessions.txt}}
edges:
  - {from: in, to: fixed}
  - {from: in, to: sliding}
  - {from: in, to: sessions}
  - {from: fixed, to: fixed-out}
  - {from: sliding, to: sliding-out}
  - {from: sessions, to: sessions-out}
)");
    ASSERT_EQ(r.exit_code, 0) << r;
    EXPECT_FALSE(contains(r.err, "late message")) << r;
    auto parse = [&](const std::string& file) {
      std::map<Win, uint64_t> got;
      auto to_ms = [](const std::string& s) {
        std::tm tm{};
        int ms = 0;
        std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                    &tm.tm_min, &tm.tm_sec, &ms);
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
      };
      for (const std::string& l : lines(file)) {
        const json j = json::parse(l);
        const Win w{j["keys"][0].get<std::string>(), to_ms(j["start"]), to_ms(j["end"])};
        EXPECT_EQ(got.count(w), 0u) << "window reported twice: " << l;
        got[w] = j["count"].get<uint64_t>();
      }
      return got;
    };
    EXPECT_EQ(parse("fixed.txt"), fixed) << "round " << round;
    EXPECT_EQ(parse("sliding.txt"), sliding) << "round " << round;
    EXPECT_EQ(parse("sessions.txt"), sessions) << "round " << round;
  }
}

// Delivery: a source message is acknowledged only after every window it is in has
// closed and its result was written. A stop closes no window by default: nothing is
// acknowledged and the exit code says so; --flush-windows closes them at the stop.
TEST_F(ReduceTest, AcksWaitForTheWindowResultsAndAStopFlushesOnlyWhenAsked) {
  const std::string flow = R"(name: acks
stages:
  - name: in
    source: test-ack-source
    config: {events: )" + event_list({{"a", 1000}, {"a", 2000}, {"b", 1500}}) +
                           ", hold: true, ack_log: " + at("acks.txt").string() + R"(}
    watermark: {maxDelay: 1h}
  - {name: counts, reduce: count, window: {fixed: 10s}}
  - {name: out, sink: file, config: {path: out.txt}}
)";
  write("flow.yaml", "plugins: [" + std::string(SLUICE_FIXTURE_DIR) + "]\n" + flow);
  {
    ChildProcess proc(SLUICE_BIN, {"run", at("flow.yaml").string(), "--no-summary"}, options());
    // Give the messages time to reach the reduce: no window closes (maxDelay 1h).
    ASSERT_TRUE(eventually([&] { return contains(proc.err_so_far(), "") && proc.running(); }));
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(read("acks.txt"), "");
    proc.signal(SIGTERM);
    RunResult r = proc.wait();
    EXPECT_EQ(r.exit_code, 4) << r;  // stopped with source messages not acknowledged
    EXPECT_TRUE(contains(r.err, "2 open window(s) not closed at the stop")) << r;
    EXPECT_TRUE(contains(r.err, "3 not acknowledged")) << r;
    EXPECT_EQ(read("out.txt"), "");
    EXPECT_EQ(read("acks.txt"), "");
  }
  {
    ChildProcess proc(SLUICE_BIN, {"run", at("flow.yaml").string(), "--no-summary", "--flush-windows"}, options());
    std::this_thread::sleep_for(500ms);
    proc.signal(SIGTERM);
    RunResult r = proc.wait();
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(lines("out.txt"), (std::vector<std::string>{result("a", 0, 10000, 2), result("b", 0, 10000, 1)}));
    std::vector<std::string> acked = lines("acks.txt");
    std::sort(acked.begin(), acked.end());
    EXPECT_EQ(acked, (std::vector<std::string>{"id-0", "id-1", "id-2"}));
  }
}

// Streaming: windows close while the flow runs, as the watermark passes them; an idle
// source moves its watermark with the clock after idleTimeout, so the last window closes
// without more input.
TEST_F(ReduceTest, StreamingWindowsCloseAsTimePassesAndIdleSourcesAdvance) {
  write("flow.yaml", R"(name: live
stages:
  - {name: gen, source: generator, config: {count: 20, rate: 40, keys: 1}, watermark: {idleTimeout: 300ms}}
  - {name: counts, reduce: count, window: {fixed: 200ms}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  ChildProcess proc(SLUICE_BIN, {"run", at("flow.yaml").string(), "--no-summary"}, options());
  // The generator stops at 20 messages but the flow streams on: every window, the last
  // one too, must close without a stop.
  uint64_t total = 0;
  ASSERT_TRUE(eventually([&] {
    total = 0;
    for (const std::string& l : lines("out.txt")) total += json::parse(l)["count"].get<uint64_t>();
    return total == 20;
  })) << read("out.txt") << proc.err_so_far();
  EXPECT_GE(lines("out.txt").size(), 2u);
  proc.signal(SIGTERM);
  EXPECT_EQ(proc.wait().exit_code, 0);
}

}  // namespace
}  // namespace sluice::test
