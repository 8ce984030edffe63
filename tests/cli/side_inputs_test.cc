// Side inputs end to end through the `sluice` binary: real plugins (the built-in `file`
// and `http` retrievers, the test fixtures' side-input map and flaky retriever), a real SQLite
// side-input store, and the serving listener's side-input endpoints over loopback HTTP.
#include <gtest/gtest.h>
#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "local_http_server.h"
#include "run_process.h"
#include "test_folder.h"

namespace sluice::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;


// Sends `request` as is to 127.0.0.1:port and returns what comes back until the server
// closes the connection or 10 s pass (httplib's client always sends Content-Length; this
// does what `curl -X POST` does).
std::string raw_http(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    ssize_t n;
    // One response is enough: stop once the headers and a JSON body's end are in.
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
      got.append(buf, static_cast<size_t>(n));
      if (got.find("\r\n\r\n") != std::string::npos && !got.empty() && got.back() == '}') break;
    }
  }
  ::close(fd);
  return got;
}


class SideInputsTest : public FolderTest {
 protected:
  SideInputsTest() : FolderTest("sluice-side-inputs") {}

  RunResult sluice(const std::vector<std::string>& args) {
    RunOptions opts;
    opts.env["SLUICE_PLUGIN_PATH"] = std::nullopt;
    opts.timeout = 60s;
    return run_process(SLUICE_BIN, args, opts);
  }
  RunResult run_flow(const std::string& yaml) {
    write("flow.yaml", yaml);
    return sluice({"run", at("flow.yaml").string(), "--no-summary"});
  }

  // A job: file in.txt -> test-side-input-map reading `deny` -> file out.txt.
  std::string job(const std::string& side_inputs, const std::string& extra = "") const {
    return "name: si\nmode: job\nplugins: [" + std::string(SLUICE_FIXTURE_DIR) + "]\n" + extra +
           "sideInputs:\n" + side_inputs + R"(
stages:
  - {name: in, source: file, config: {path: in.txt}}
  - name: tag
    map: test-side-input-map
    config: {side_input: deny, changes: )" + at("changes.txt").string() + R"(}
    sideInputs: [deny]
  - {name: out, sink: file, config: {path: out.txt}}
)";
  }


  // The port a running `sluice run` logged for `what` ("metrics at http://127.0.0.1:N",
  // "listening on http://127.0.0.1:N"), or -1 once it exited without logging it.
  static int logged_port(ChildProcess& proc, const std::string& what) {
    int port = -1;
    eventually([&] {
      std::smatch m;
      const std::string err = proc.err_so_far();
      if (std::regex_search(err, m, std::regex(what + " http://127\\.0\\.0\\.1:([0-9]+)")))
        port = std::stoi(m[1]);
      return port > 0 || !proc.running();
    });
    return port;
  }
};

// A stage reads the value (and its version) for every message, and is told of it
// before its first call; the value is stored.
TEST_F(SideInputsTest, JobReadsTheValuePerMessageAndIsToldOfIt) {
  write("deny.txt", "bob");
  write("in.txt", "alice\nbob\n");
  RunResult r = run_flow(job("  - {name: deny, retriever: file, config: {path: deny.txt}}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read("out.txt"), "alice|bob@1\nbob|bob@1\n");
  EXPECT_EQ(read("changes.txt"), "deny@1\n");
  EXPECT_TRUE(fs::exists(at(".sluice/si.side-inputs.db")));
  EXPECT_TRUE(contains(r.err, "side input deny: version 1")) << r;
}

// A restart has the stored value at once: with the retriever failing, the stage still
// starts, with the stored version, and the failure is logged.
TEST_F(SideInputsTest, RestartServesTheStoredValueWhenTheRetrieverFails) {
  write("v.txt", "one");
  write("in.txt", "x\n");
  const std::string si = "  - name: deny\n    retriever: test-flaky-retriever\n    config: {path: " +
                         at("v.txt").string() + ", fail_flag: " + at("fail").string() + "}\n";
  RunResult first = run_flow(job(si));
  ASSERT_EQ(first.exit_code, 0) << first;
  EXPECT_EQ(read("out.txt"), "x|one@1\n");

  write("fail", "");
  write("v.txt", "two");
  fs::remove(at("out.txt"));
  RunResult second = run_flow(job(si));
  ASSERT_EQ(second.exit_code, 0) << second;
  EXPECT_EQ(read("out.txt"), "x|one@1\n");
  EXPECT_TRUE(contains(second.err, "version 1 from the store")) << second;
}

// No value within sideInputsTimeout: the flow stops with an error naming the side
// input and the retriever's last error, and exit code 1.
TEST_F(SideInputsTest, NoValueWithinTheTimeoutStopsTheFlowNamingTheSideInput) {
  write("fail", "");
  write("in.txt", "x\n");
  const std::string si = "  - name: deny\n    retriever: test-flaky-retriever\n    config: {path: " +
                         at("v.txt").string() + ", fail_flag: " + at("fail").string() +
                         "}\n    retry: {initialInterval: 100ms}\n";
  RunResult r = run_flow(job(si, "sideInputsTimeout: 1s\n"));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(contains(r.err, "side input 'deny' has no value after 1000 ms (sideInputsTimeout)")) << r;
  EXPECT_TRUE(contains(r.err, "failing on purpose")) << r;
  EXPECT_FALSE(fs::exists(at("out.txt")) && !read("out.txt").empty());
}

// A retriever stuck in its plugin call does not hold the process for ever: at the end
// of the flow the manager waits 10 s for it, then sluice exits without unloading it.
TEST_F(SideInputsTest, AStuckRetrieverDoesNotHoldTheExitForEver) {
  write("v.txt", "one");
  write("in.txt", "x\n");
  write("flow.yaml", "name: si\nmode: job\nplugins: [" + std::string(SLUICE_FIXTURE_DIR) + R"(]
sideInputs:
  - name: slow
    retriever: test-flaky-retriever
    config: {path: )" + at("v.txt").string() + R"(, sleep_ms: 60000}
    timeout: 200ms
stages:
  - {name: in, source: file, config: {path: in.txt}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  RunResult r = sluice({"run", at("flow.yaml").string(), "--no-summary"});
  EXPECT_EQ(r.exit_code, 4) << r;  // undrained: something was left running
  EXPECT_TRUE(contains(r.err, "exiting while a side-input retriever's call is still running")) << r;
  EXPECT_LT(r.elapsed, 30s) << r;
  EXPECT_EQ(read("out.txt"), "x\n");  // the flow itself completed
}

// `sluice check` finds every side-input mistake in one pass, each at its line.
TEST_F(SideInputsTest, CheckReportsEveryMistakeAtItsLine) {
  write("flow.yaml", "name: bad\nplugins: [" + std::string(SLUICE_FIXTURE_DIR) + R"(]
sideInputs:
  - name: deny
    retriever: cat
    trigger: {schedule: "0 * * * *"}
  - name: deny
    retriever: file
    config: {path: d.txt}
    trigger: {interval: 1s, schedule: "@hourly"}
  - name: zoned
    retriever: file
    config: {path: d.txt, follow: true}
    trigger: {schedule: "0 0 * * * *", timezone: Mars/Olympus}
stages:
  - {name: in, source: generator}
  - {name: tag, map: cat, sideInputs: [deny, nope, deny]}
  - {name: out, sink: blackhole}
)");
  RunResult r = sluice({"check", at("flow.yaml").string()});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "flow.yaml:6:25: error:")) << r;  // the 5-field schedule
  EXPECT_TRUE(contains(r.err, "6 fields")) << r;
  EXPECT_TRUE(contains(r.err, "side input name \"deny\" is used twice")) << r;
  EXPECT_TRUE(contains(r.err, "trigger has both schedule and interval")) << r;
  EXPECT_TRUE(contains(r.err, "Mars/Olympus")) << r;
  EXPECT_TRUE(contains(r.err, "reads side input \"nope\", which the flow does not declare")) << r;
  EXPECT_TRUE(contains(r.err, "lists side input \"deny\" twice")) << r;

  // Types are bound once the flow's shape is right: a retriever must have the kind.
  write("flow.yaml", R"(name: bad
sideInputs:
  - {name: deny, retriever: cat}
stages:
  - {name: in, source: generator}
  - {name: tag, map: cat, sideInputs: [deny]}
  - {name: out, sink: blackhole}
)");
  r = sluice({"check", at("flow.yaml").string()});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "flow.yaml:3:29: error: type \"cat\"")) << r;
  EXPECT_TRUE(contains(r.err, "cannot be a side-input retriever")) << r;
}

// `sluice check` catches an http retriever's config mistakes through its JSON Schema,
// before anything runs.
TEST_F(SideInputsTest, CheckReportsHttpRetrieverConfigMistakes) {
  write("flow.yaml", R"(name: bad
sideInputs:
  - {name: a, retriever: http, config: {url: "ftp://x/y"}}
  - {name: b, retriever: http, config: {url: "http://h/", timeout: 10, tlsverify: false}}
  - {name: c, retriever: http, config: {headers: {X: 1}}}
stages:
  - {name: in, source: generator}
  - {name: tag, map: cat, sideInputs: [a, b, c]}
  - {name: out, sink: blackhole}
)");
  RunResult r = sluice({"check", at("flow.yaml").string()});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "flow.yaml:3:46: error: side input \"a\" config.url:")) << r;
  EXPECT_TRUE(contains(r.err, "side input \"b\" config.timeout: expected a string, got 10")) << r;
  EXPECT_TRUE(contains(r.err, "config.tlsverify: unknown key")) << r;
  EXPECT_TRUE(contains(r.err, "side input \"c\" config: missing required key \"url\"")) << r;
  EXPECT_TRUE(contains(r.err, "config.headers.X: expected a string, got 1")) << r;
}

// The serving listener: /readyz (which does not wait for a side input no stage reads),
// the list, refresh on request, an interval trigger, a failing retriever keeping the old
// value and recovering, and auth on the endpoints, on the metrics listener too.
TEST_F(SideInputsTest, ServingRefreshListTriggerAndFailures) {
  write("deny.txt", "v1");
  write("tick.txt", "t1");
  write("token", "s3cret");
  write("flow.yaml", "name: si\nplugins: [" + std::string(SLUICE_FIXTURE_DIR) + R"(]
sideInputs:
  - {name: deny, retriever: file, config: {path: deny.txt}}
  - name: tick
    retriever: test-flaky-retriever
    config: {path: )" + at("tick.txt").string() + ", fail_flag: " + at("fail").string() + R"(}
    trigger: {interval: 100ms}
    retry: {initialInterval: 50ms, cap: 200ms}
  - name: unread
    retriever: test-flaky-retriever
    config: {path: )" + at("never.txt").string() + ", fail_flag: " + at("token").string() + R"(}
stages:
  - {name: in, source: serving}
  - name: tag
    map: test-side-input-map
    config: {side_input: deny}
    sideInputs: [deny]
  - name: tag2
    map: test-side-input-map
    config: {side_input: tick}
    sideInputs: [tick]
  - {name: out, sink: serve}
serving:
  http: 127.0.0.1:0
  auth: {tokens: [{file: token}]}
)");
  RunOptions opts;
  opts.env["SLUICE_PLUGIN_PATH"] = std::nullopt;
  opts.timeout = 100s;
  ChildProcess proc(SLUICE_BIN,
                    {"run", at("flow.yaml").string(), "--no-summary", "--metrics-addr", "127.0.0.1:0"}, opts);
  const int port = logged_port(proc, "listening on");
  ASSERT_GT(port, 0) << proc.err_so_far();
  const int metrics_port = logged_port(proc, "metrics at");
  ASSERT_GT(metrics_port, 0) << proc.err_so_far();
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(20s);
  const httplib::Headers auth = {{"Authorization", "Bearer s3cret"}};
  ASSERT_TRUE(eventually([&] {
    auto r = c.Get("/readyz");
    return r && r->status == 204;
  })) << proc.err_so_far();

  auto sync = [&] {
    auto r = c.Post("/v1/process/sync", auth, "x", "text/plain");
    return r && r->status == 200 ? r->body : std::string("(failed)");
  };
  EXPECT_EQ(sync(), "x|v1@1|t1@1");

  // Refresh on request (the file changed; deny has no trigger).
  write("deny.txt", "v2");
  auto refused = c.Post("/v1/side-inputs/deny/refresh", "", "text/plain");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  auto refresh = c.Post("/v1/side-inputs/deny/refresh", auth, "", "text/plain");
  ASSERT_TRUE(refresh);
  EXPECT_EQ(refresh->status, 202) << refresh->body;
  EXPECT_TRUE(eventually([&] { return sync() == "x|v2@2|t1@1"; })) << sync();
  auto unknown = c.Post("/v1/side-inputs/nope/refresh", auth, "", "text/plain");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_TRUE(contains(unknown->body, "no side input is named 'nope'")) << unknown->body;

  // The interval trigger picks up a change without being asked.
  write("tick.txt", "t2");
  EXPECT_TRUE(eventually([&] { return sync() == "x|v2@2|t2@2"; })) << sync();

  // A failing retriever keeps the old value, is counted with its error, and recovers.
  write("fail", "");
  write("tick.txt", "t3");
  auto list_of = [&](const std::string& name) {
    auto r = c.Get("/v1/side-inputs", auth);
    if (!r || r->status != 200) return json();
    const json all = json::parse(r->body);
    for (const json& s : all["sideInputs"])
      if (s["name"] == name) return s;
    return json();
  };
  EXPECT_TRUE(eventually([&] {
    json t = list_of("tick");
    return t.is_object() && t["failed"].get<int>() >= 2;
  })) << list_of("tick").dump();
  json tick = list_of("tick");
  EXPECT_EQ(tick["version"], 2);
  EXPECT_TRUE(contains(tick["lastError"].get<std::string>(), "failing on purpose")) << tick.dump();
  EXPECT_EQ(tick["retriever"], "test-flaky-retriever");
  EXPECT_EQ(tick["trigger"], "every 100ms");
  EXPECT_EQ(sync(), "x|v2@2|t2@2");
  fs::remove(at("fail"));
  EXPECT_TRUE(eventually([&] { return sync() == "x|v2@2|t3@3"; })) << sync();
  EXPECT_EQ(list_of("tick")["lastError"], "");
  json deny = list_of("deny");
  EXPECT_EQ(deny["version"], 2);
  EXPECT_EQ(deny["size"], 2);
  EXPECT_EQ(deny["trigger"], "");
  EXPECT_TRUE(deny["updatedAt"].is_string());
  auto no_auth_list = c.Get("/v1/side-inputs");
  ASSERT_TRUE(no_auth_list);
  EXPECT_EQ(no_auth_list->status, 401);
  EXPECT_EQ(list_of("unread")["version"], 0);  // never had a value, yet /readyz said ready

  // The metrics listener has the same endpoints, behind the same tokens.
  httplib::Client m("127.0.0.1", metrics_port);
  auto m_refused = m.Post("/v1/side-inputs/deny/refresh", "", "text/plain");
  ASSERT_TRUE(m_refused);
  EXPECT_EQ(m_refused->status, 401);
  EXPECT_EQ(m_refused->get_header_value("WWW-Authenticate"), "Bearer realm=\"sluice\"");
  auto m_wrong = m.Get("/v1/side-inputs", {{"Authorization", "Bearer nope"}});
  ASSERT_TRUE(m_wrong);
  EXPECT_EQ(m_wrong->status, 401);
  EXPECT_TRUE(contains(m_wrong->body, "the bearer token is not valid")) << m_wrong->body;
  // Without Content-Length (curl -X POST): answered at once, on both listeners; other
  // POSTs without it get 411 instead of a wait for a body.
  const std::string bare_auth = "Authorization: Bearer s3cret\r\n";
  std::string bare = raw_http(metrics_port, "POST /v1/side-inputs/deny/refresh HTTP/1.1\r\nHost: x\r\n" + bare_auth + "\r\n");
  EXPECT_EQ(bare.rfind("HTTP/1.1 202", 0), 0u) << bare;
  bare = raw_http(metrics_port, "POST /v1/side-inputs/deny/refresh HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(bare.rfind("HTTP/1.1 401", 0), 0u) << bare;
  bare = raw_http(port, "POST /v1/side-inputs/deny/refresh HTTP/1.1\r\nHost: x\r\n" + bare_auth + "\r\n");
  EXPECT_EQ(bare.rfind("HTTP/1.1 202", 0), 0u) << bare;
  bare = raw_http(port, "POST /v1/process/sync HTTP/1.1\r\nHost: x\r\n" + bare_auth + "\r\n");
  EXPECT_EQ(bare.rfind("HTTP/1.1 411", 0), 0u) << bare;
  EXPECT_TRUE(contains(bare, "curl -d ''")) << bare;
  auto m_list = m.Get("/v1/side-inputs", auth);
  ASSERT_TRUE(m_list);
  ASSERT_EQ(m_list->status, 200);
  EXPECT_EQ(json::parse(m_list->body)["sideInputs"].size(), 3u);
  auto metrics = m.Get("/metrics");  // never behind a token
  ASSERT_TRUE(metrics);
  EXPECT_TRUE(contains(metrics->body, "sluice_side_input_version{side_input=\"deny\"} 2")) << metrics->body;
  EXPECT_TRUE(contains(metrics->body, "sluice_side_input_failing{side_input=\"unread\"} 1")) << metrics->body;
  EXPECT_TRUE(contains(metrics->body, "sluice_side_input_retrievals_total{side_input=\"tick\",result=\"failed\"}"))
      << metrics->body;

  proc.signal(SIGTERM);
  RunResult r = proc.wait();
  EXPECT_EQ(r.exit_code, 0) << r;
}

// A side input fed by a stream: the built-in side-input sink sets it from each message,
// a stage reads it, and the metrics listener lists it, counts it and refuses to refresh
// it (it has no retriever). A restart has the last value set.
TEST_F(SideInputsTest, SinkSetsTheValueFromAStream) {
  write("updates.txt", "");
  write("in.txt", "a\n");
  write("deny.txt", "d1");
  write("flow.yaml", "name: si\nplugins: [" + std::string(SLUICE_FIXTURE_DIR) + R"(]
sideInputs:
  - {name: rules}
  - {name: deny, retriever: file, config: {path: deny.txt}}
stages:
  - {name: updates, source: file, config: {path: updates.txt, follow: true}}
  - {name: set-rules, sink: side-input, config: {name: rules}}
  - {name: in, source: file, config: {path: in.txt, follow: true}}
  - name: tag
    map: test-side-input-map
    config: {side_input: rules}
    sideInputs: [rules]
  - {name: out, sink: file, config: {path: out.txt}}
edges:
  - {from: updates, to: set-rules}
  - {from: in, to: tag}
  - {from: tag, to: out}
)");
  RunOptions opts;
  opts.env["SLUICE_PLUGIN_PATH"] = std::nullopt;
  opts.timeout = 100s;
  auto start = [&] {
    return std::make_unique<ChildProcess>(
        SLUICE_BIN, std::vector<std::string>{"run", at("flow.yaml").string(), "--no-summary", "--metrics-addr", "127.0.0.1:0"},
        opts);
  };
  std::unique_ptr<ChildProcess> proc = start();
  const int port = logged_port(*proc, "metrics at");
  ASSERT_GT(port, 0) << proc->err_so_far();
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(20s);
  auto status_of = [&](const std::string& name) {
    auto r = c.Get("/v1/side-inputs");
    if (!r || r->status != 200) return json();
    const json all = json::parse(r->body);
    for (const json& s : all["sideInputs"])
      if (s["name"] == name) return s;
    return json();
  };

  // No value yet: the reading stage waits; nothing is written.
  ASSERT_TRUE(eventually([&] { return status_of("deny")["version"] == 1; })) << proc->err_so_far();
  EXPECT_EQ(status_of("rules")["version"], 0);
  EXPECT_EQ(status_of("rules")["retriever"], "");
  EXPECT_FALSE(fs::exists(at("out.txt")) && !read("out.txt").empty());
  auto refresh = c.Post("/v1/side-inputs/rules/refresh", "", "text/plain");
  ASSERT_TRUE(refresh);
  EXPECT_EQ(refresh->status, 409);
  EXPECT_TRUE(contains(refresh->body, "has no retriever")) << refresh->body;
  auto deny_refresh = c.Post("/v1/side-inputs/deny/refresh", "", "text/plain");
  ASSERT_TRUE(deny_refresh);
  EXPECT_EQ(deny_refresh->status, 202);
  // As `curl -X POST` sends it: no Content-Length, no body.
  const std::string bare = raw_http(port, "POST /v1/side-inputs/deny/refresh HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(bare.rfind("HTTP/1.1 202", 0), 0u) << bare;
  auto unknown = c.Post("/v1/side-inputs/nope/refresh", "", "text/plain");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);

  // Each message is a whole new value.
  append("updates.txt", "r1\n");
  EXPECT_TRUE(eventually([&] { return read("out.txt") == "a|r1@1\n"; })) << read("out.txt") << proc->err_so_far();
  append("updates.txt", "r2\n");
  ASSERT_TRUE(eventually([&] { return status_of("rules")["version"] == 2; })) << status_of("rules").dump();
  append("in.txt", "b\n");
  EXPECT_TRUE(eventually([&] { return read("out.txt") == "a|r1@1\nb|r2@2\n"; })) << read("out.txt");
  const json rules = status_of("rules");
  EXPECT_EQ(rules["sets"], 2);
  EXPECT_EQ(rules["size"], 2);
  EXPECT_EQ(rules["retrievals"], 0);
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_TRUE(contains(metrics->body, "sluice_side_input_version{side_input=\"rules\"} 2")) << metrics->body;
  EXPECT_TRUE(contains(metrics->body, "sluice_side_input_sets_total{side_input=\"rules\"} 2")) << metrics->body;
  EXPECT_TRUE(contains(metrics->body, "sluice_side_input_retrievals_total{side_input=\"deny\",result=\"changed\"} 1"))
      << metrics->body;
  EXPECT_TRUE(contains(metrics->body, "sluice_side_input_updated_timestamp_seconds{side_input=\"rules\"} ")) << metrics->body;
  proc->signal(SIGTERM);
  RunResult r = proc->wait();
  EXPECT_EQ(r.exit_code, 0) << r;

  // A restart reads the stored value at once (the sink's source re-reads its file from
  // the start, and the same bytes keep the version).
  proc = start();
  EXPECT_TRUE(eventually([&] { return contains(proc->err_so_far(), "side input rules: version 2 from the store"); }))
      << proc->err_so_far();
  proc->signal(SIGTERM);
  r = proc->wait();
  EXPECT_EQ(r.exit_code, 0) << r;
}

// A value the store refuses (over 64 MiB) keeps failing: the retriever instance is made
// anew after a store failure, so the file retriever cannot answer "no change" to a
// value that never became current.
TEST_F(SideInputsTest, AValueTheStoreRefusesIsNotLaterTakenForNoChange) {
  {
    std::ofstream big(at("big.txt"), std::ios::binary);
    const std::string mib(1 << 20, 'x');
    for (int i = 0; i < 65; ++i) big << mib;
  }
  write("flow.yaml", R"(name: si
sideInputs:
  - name: big
    retriever: file
    config: {path: big.txt}
    retry: {initialInterval: 50ms, cap: 100ms}
stages:
  - {name: in, source: generator, config: {rate: 10}}
  - {name: out, sink: blackhole}
)");
  RunOptions opts;
  opts.env["SLUICE_PLUGIN_PATH"] = std::nullopt;
  opts.timeout = 100s;
  ChildProcess proc(SLUICE_BIN, {"run", at("flow.yaml").string(), "--no-summary", "--metrics-addr", "127.0.0.1:0"},
                    opts);
  const int port = logged_port(proc, "metrics at");
  ASSERT_GT(port, 0) << proc.err_so_far();
  httplib::Client c("127.0.0.1", port);
  auto big = [&] {
    auto r = c.Get("/v1/side-inputs");
    if (!r || r->status != 200) return json();
    return json::parse(r->body)["sideInputs"][0];
  };
  ASSERT_TRUE(eventually([&] { return big().is_object() && big()["failed"].get<int>() >= 3; })) << big().dump();
  const json s = big();
  EXPECT_EQ(s["unchanged"], 0) << s.dump();
  EXPECT_EQ(s["version"], 0) << s.dump();
  EXPECT_TRUE(contains(s["lastError"].get<std::string>(), "storing the value failed")) << s.dump();
  proc.signal(SIGTERM);
  EXPECT_EQ(proc.wait().exit_code, 0);
}

// `sluice check` on the side-input sink and retriever-less side inputs, and the deep
// check of a retriever's config.
TEST_F(SideInputsTest, CheckSinkReferencesAndRetrieverConfigs) {
  write("flow.yaml", "name: bad\nplugins: [" + std::string(SLUICE_FIXTURE_DIR) + R"(]
sideInputs:
  - {name: orphan}
  - {name: timed, trigger: {interval: 1s}}
  - {name: fed}
stages:
  - {name: in, source: generator}
  - {name: set-fed, sink: side-input, config: {name: fed}}
  - {name: set-other, sink: side-input, config: {name: other}}
  - {name: set-none, sink: side-input}
edges:
  - {from: in, to: set-fed}
  - {from: in, to: set-other}
  - {from: in, to: set-none}
)");
  RunResult r = sluice({"check", at("flow.yaml").string()});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "flow.yaml:4:5: error: side input \"orphan\" has no retriever and no side-input sink sets it"))
      << r;
  EXPECT_TRUE(contains(r.err, "trigger is set but side input \"timed\" has no retriever")) << r;
  EXPECT_TRUE(contains(r.err, "stage \"set-other\" sets side input \"other\", which the flow does not declare")) << r;
  EXPECT_TRUE(contains(r.err, "stage \"set-none\": the side-input sink needs the side input to set")) << r;
  EXPECT_FALSE(contains(r.err, "\"fed\" has no retriever")) << r;

  // A retriever's own config check runs in `sluice check` (the file retriever takes
  // only path).
  write("flow.yaml", R"(name: bad
sideInputs:
  - name: deny
    retriever: file
    config: {path: d.txt, follow: true}
stages:
  - {name: in, source: generator}
  - {name: tag, map: cat, sideInputs: [deny]}
  - {name: out, sink: blackhole}
)");
  r = sluice({"check", at("flow.yaml").string()});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "flow.yaml:5:")) << r;
  EXPECT_TRUE(contains(r.err, "side input \"deny\" (retriever file")) << r;
  EXPECT_TRUE(contains(r.err, "follow")) << r;
}

// The built-in `http` retriever in a running flow against a loopback server: the value
// is served; a 304 to its If-None-Match and an identical body keep the version; a 500
// keeps the old value, is counted with its status, and the flow recovers; configured
// headers (with ${ENV} substituted by the host) reach the server.
TEST_F(SideInputsTest, HttpRetrieverKeepsVersionsOnNoChangeAndRecoversFromErrors) {
  LocalHttpServer server;
  std::mutex m;
  std::string body = "v1", etag = "\"e1\"";
  int status = 200;
  server.set_answer([&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(m);
    if (status != 200) {
      res.status = status;
      res.set_content("upstream broke", "text/plain");
      return;
    }
    if (!etag.empty()) {
      res.set_header("ETag", etag);
      if (req.get_header_value("If-None-Match") == etag) {
        res.status = 304;
        return;
      }
    }
    res.set_content(body, "text/plain");
  });
  write("flow.yaml", "name: si\nplugins: [" + std::string(SLUICE_FIXTURE_DIR) + R"(]
sideInputs:
  - name: prices
    retriever: http
    config:
      url: )" + server.url("/prices?key=${SI_TEST_TOKEN}") + R"(
      headers: {Authorization: "Bearer ${SI_TEST_TOKEN}"}
      timeout: 5s
    trigger: {interval: 100ms}
    retry: {initialInterval: 50ms, cap: 200ms}
stages:
  - {name: in, source: serving}
  - name: tag
    map: test-side-input-map
    config: {side_input: prices}
    sideInputs: [prices]
  - {name: out, sink: serve}
serving:
  http: 127.0.0.1:0
)");
  RunOptions opts;
  opts.env["SLUICE_PLUGIN_PATH"] = std::nullopt;
  opts.env["SI_TEST_TOKEN"] = "tok-123";
  opts.timeout = 100s;
  ChildProcess proc(SLUICE_BIN, {"run", at("flow.yaml").string(), "--no-summary"}, opts);
  int port = -1;
  ASSERT_TRUE(eventually([&] {
    std::smatch match;
    const std::string err = proc.err_so_far();
    if (std::regex_search(err, match, std::regex("listening on http://127\\.0\\.0\\.1:([0-9]+)")))
      port = std::stoi(match[1]);
    return port > 0 || !proc.running();
  }) && port > 0) << proc.err_so_far();
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(20s);
  auto sync = [&] {
    auto r = c.Post("/v1/process/sync", "x", "text/plain");
    return r && r->status == 200 ? r->body : std::string("(failed)");
  };
  auto prices = [&] {
    auto r = c.Get("/v1/side-inputs");
    if (!r || r->status != 200) return json();
    return json::parse(r->body)["sideInputs"][0];
  };
  ASSERT_TRUE(eventually([&] { return sync() == "x|v1@1"; })) << sync() << proc.err_so_far();
  EXPECT_EQ(server.request_header(0, "Authorization"), "Bearer tok-123");
  EXPECT_EQ(server.path(0), "/prices");

  // 304: the server saw the ETag come back, and the version stays.
  const size_t before = server.request_count();
  ASSERT_TRUE(eventually([&] { return server.request_count() >= before + 3; }));
  EXPECT_EQ(server.last_header("If-None-Match"), "\"e1\"");
  EXPECT_GE(prices()["unchanged"].get<int>(), 2) << prices().dump();
  EXPECT_EQ(prices()["version"], 1);

  // The same bytes without validators: still version 1.
  {
    std::lock_guard<std::mutex> lock(m);
    etag.clear();
  }
  const size_t plain = server.request_count();
  ASSERT_TRUE(eventually([&] { return server.request_count() >= plain + 3; }));
  EXPECT_EQ(server.last_header("If-None-Match"), "");
  EXPECT_EQ(sync(), "x|v1@1");
  EXPECT_EQ(prices()["changed"], 1);

  // A 500 keeps the old value, with the status in lastError and no secret in it.
  {
    std::lock_guard<std::mutex> lock(m);
    status = 500;
  }
  ASSERT_TRUE(eventually([&] {
    json p = prices();
    return p.is_object() && p["failed"].get<int>() >= 2;
  })) << prices().dump();
  const std::string last_error = prices()["lastError"];
  EXPECT_TRUE(contains(last_error, "GET " + server.url("/prices?...") + ": HTTP 500: upstream broke"))
      << last_error;
  EXPECT_FALSE(contains(last_error, "tok-123")) << last_error;
  EXPECT_EQ(sync(), "x|v1@1");

  // Recovery with a new body: version 2.
  {
    std::lock_guard<std::mutex> lock(m);
    status = 200;
    body = "v2";
  }
  EXPECT_TRUE(eventually([&] { return sync() == "x|v2@2"; })) << sync();
  EXPECT_EQ(prices()["lastError"], "");
  EXPECT_TRUE(contains(proc.err_so_far(), "retrieval failed (the old value stays")) << proc.err_so_far();

  proc.signal(SIGTERM);
  RunResult r = proc.wait();
  EXPECT_EQ(r.exit_code, 0) << r;
}

}  // namespace
}  // namespace sluice::test
