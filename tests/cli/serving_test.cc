// End-to-end tests of serving (docs/serving.md): each test writes a flow with a
// `serving:` block into a fresh temporary folder, runs the real `sluice` binary on it
// (port 0, so tests may run in parallel), waits for its "listening on" line and talks to
// it over loopback HTTP(S) with cpp-httplib's client (raw sockets where the client would
// refuse to send what we want). Every test stops sluice with SIGTERM at its end and
// expects exit code 0.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "run_process.h"
#include "sluice/serving/self_signed.h"
#include "temp_dir.h"

namespace sluice::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// --- helpers -------------------------------------------------------------------------

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Polls `done` until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10000ms,
                std::chrono::milliseconds every = 20ms) {
  const auto until = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(every);
  }
  return true;
}

// A response body as JSON, or a JSON string holding the raw body when it is not JSON.
json body_json(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json(body) : j;
}

// The JSON error body of Numaflow: {"message", "code", "timestamp"} with `code` = status.
::testing::AssertionResult is_json_error(const httplib::Result& r, int code,
                                         const std::string& needle = "") {
  if (!r) return ::testing::AssertionFailure() << "no response: " << httplib::to_string(r.error());
  if (r->status != code)
    return ::testing::AssertionFailure() << "status " << r->status << " (want " << code
                                         << "), body: " << r->body;
  json j = body_json(r->body);
  if (!j.is_object() || !j.contains("message") || !j["message"].is_string() || !j.contains("code") ||
      !j.contains("timestamp") || !j["timestamp"].is_string())
    return ::testing::AssertionFailure() << "not a JSON error body: " << r->body;
  if (j["code"] != code)
    return ::testing::AssertionFailure() << "code " << j["code"] << " in the body: " << r->body;
  if (r->get_header_value("Content-Type").rfind("application/json", 0) != 0)
    return ::testing::AssertionFailure() << "Content-Type " << r->get_header_value("Content-Type");
  if (!needle.empty() && !contains(j["message"].get<std::string>(), needle))
    return ::testing::AssertionFailure() << "message lacks \"" << needle << "\": " << r->body;
  return ::testing::AssertionSuccess();
}

// A Result to assign to later (Result has no default constructor).
httplib::Result no_response() { return httplib::Result(nullptr, httplib::Error::Unknown); }

std::string describe(const httplib::Result& r) {
  if (!r) return "no response: " + httplib::to_string(r.error());
  return "status " + std::to_string(r->status) + ", body: " + r->body;
}

// The raw answer of a hand-written HTTP request.
struct RawResponse {
  int status = 0;
  std::string head, body;
};

// Sends `request` as is over a fresh TCP connection and reads to the end (the request
// should say Connection: close).
RawResponse raw_http(int port, const std::string& request) {
  RawResponse out;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return out;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return out;
  }
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t w = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (w <= 0) break;
    sent += static_cast<size_t>(w);
  }
  std::string all;
  char buf[4096];
  for (;;) {
    ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) break;
    all.append(buf, static_cast<size_t>(r));
  }
  ::close(fd);
  const size_t end = all.find("\r\n\r\n");
  out.head = all.substr(0, end);
  if (end != std::string::npos) out.body = all.substr(end + 4);
  if (all.rfind("HTTP/1.1 ", 0) == 0) out.status = std::atoi(all.c_str() + 9);
  return out;
}

// One Server-Sent Event as received, with when its last line arrived.
struct SseEvent {
  std::string id, event, data;
  Clock::time_point at;
};

// Splits a growing event-stream into events as their blank lines arrive.
class SseParser {
 public:
  void feed(const char* data, size_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    buffer_.append(data, n);
    for (size_t end; (end = buffer_.find("\n\n")) != std::string::npos;) {
      std::string block = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      SseEvent e;
      e.at = Clock::now();
      bool any = false;
      std::istringstream lines(block);
      for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] == ':') continue;  // a comment (keep-alive)
        const size_t colon = line.find(':');
        const std::string field = line.substr(0, colon);
        std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
        any = true;
        if (field == "id") e.id = value;
        else if (field == "event") e.event = value;
        else if (field == "data") e.data += (e.data.empty() ? "" : "\n") + value;
      }
      if (any) events_.push_back(std::move(e));
    }
  }
  std::vector<SseEvent> events() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }

 private:
  mutable std::mutex mutex_;
  std::string buffer_;
  std::vector<SseEvent> events_;
};

const std::regex kUuidV7("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");

// A Python module with the handlers the flows below use.
constexpr const char* kHandlers = R"(
import time
from sluice import Message, Messages

def slow(keys, datum):
    time.sleep(1)
    return Message(b"slow:" + datum.value)

def slow2(keys, datum):
    time.sleep(2)
    return Message(b"late:" + datum.value)

def tenth(keys, datum):
    time.sleep(0.1)
    return Message(b"done:" + datum.value)

def words(keys, datum):
    return Messages(*[Message(w) for w in datum.value.split(b" ")])

def picky(keys, datum):
    if datum.value == b"bad":
        raise ValueError("cannot take bad")
    return Message(datum.value)
)";

// --- the fixture ---------------------------------------------------------------------

// A running `sluice run flow.yaml`.
struct Sluice {
  std::unique_ptr<ChildProcess> proc;
  int http_port = -1, https_port = -1;

  httplib::Client client(std::chrono::seconds read_timeout = 30s) const {
    httplib::Client c("127.0.0.1", http_port);
    c.set_keep_alive(false);
    c.set_connection_timeout(5s);
    c.set_read_timeout(read_timeout);
    return c;
  }
};

class ServingTest : public ::testing::Test {
 protected:
  fs::path at(const std::string& name) const { return tmp_.path() / name; }

  fs::path write(const std::string& name, const std::string& text) const {
    fs::create_directories(at(name).parent_path());
    std::ofstream(at(name), std::ios::binary) << text;
    return at(name);
  }

  // Writes flow.yaml (unless `yaml` is empty: the one already there), starts sluice on
  // it, waits for its listeners and for /readyz (when there is plain HTTP). Fails the
  // test (fatally; check with ASSERT_NO_FATAL_FAILURE) when it does not come up.
  void start(Sluice* s, const std::string& yaml,
             std::map<std::string, std::optional<std::string>> env = {}) {
    if (!yaml.empty()) write("flow.yaml", yaml);
    if (!fs::exists(at("handlers.py"))) write("handlers.py", kHandlers);
    RunOptions opts;
    opts.env = std::move(env);
    opts.env.try_emplace("SLUICE_PLUGIN_PATH", std::nullopt);
    opts.timeout = 100s;
    const bool want_http = contains(read("flow.yaml"), "http:");
    const bool want_https = contains(read("flow.yaml"), "https:");
    s->proc = std::make_unique<ChildProcess>(SLUICE_BIN,
                                             std::vector<std::string>{"run", at("flow.yaml").string(), "--no-summary"},
                                             opts);
    const std::regex http_re("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    const std::regex https_re("listening on https://127\\.0\\.0\\.1:([0-9]+)");
    const bool up = eventually(
        [&] {
          const std::string err = s->proc->err_so_far();
          std::smatch m;
          if (want_http && s->http_port < 0 && std::regex_search(err, m, http_re))
            s->http_port = std::stoi(m[1]);
          if (want_https && s->https_port < 0 && std::regex_search(err, m, https_re))
            s->https_port = std::stoi(m[1]);
          return ((!want_http || s->http_port > 0) && (!want_https || s->https_port > 0)) ||
                 !s->proc->running();
        },
        30s);
    ASSERT_TRUE(up && s->proc->running()) << "sluice did not come up:\n" << s->proc->err_so_far();
    if (want_http) {
      httplib::Client c = s->client(5s);
      ASSERT_TRUE(eventually([&] {
        auto r = c.Get("/readyz");
        return r && r->status == 204;
      }, 30s)) << "never ready:\n" << s->proc->err_so_far();
    }
  }

  // SIGTERM, and the clean exit it must lead to.
  void stop(Sluice* s) {
    ASSERT_TRUE(s->proc);
    s->proc->signal(SIGTERM);
    RunResult r = s->proc->wait();
    EXPECT_EQ(r.exit_code, 0) << r;
    s->proc.reset();
  }

  std::string read(const std::string& name) const {
    std::ifstream in(at(name), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // The usual serving flow around one map `up` (`map_stage` is its YAML), with
  // `serving_extra` added to the serving block.
  static std::string flow(const std::string& map_stage = "{name: up, map: cat}",
                          const std::string& serving_extra = "") {
    return R"(name: echo
stages:
  - {name: in, source: serving}
  - )" + map_stage + R"(
  - {name: out, sink: serve}
serving:
  http: 127.0.0.1:0
  store: {sqlite: {path: requests.db}}
)" + serving_extra;
  }
  static std::string py(const std::string& function, const std::string& extra = "") {
    return "{name: up, map: python, config: {module: handlers, function: " + function + "}" +
           extra + "}";
  }

  TempDir tmp_{"sluice-serving"};
};

httplib::Headers id_header(const std::string& id) { return {{"X-Numaflow-Id", id}}; }

// Fetches `id` until it is no longer in progress.
httplib::Result fetch_final(httplib::Client& c, const std::string& id,
                            std::chrono::milliseconds timeout = 15000ms,
                            const httplib::Headers& headers = {}) {
  httplib::Result last = no_response();
  eventually(
      [&] {
        last = c.Get(("/v1/process/fetch?id=" + id).c_str(), headers);
        return last && !(last->status == 200 && contains(last->body, "\"in-progress\""));
      },
      timeout, 50ms);
  return last;
}

// --- 1. sync --------------------------------------------------------------------------

TEST_F(ServingTest, SyncEchoesTheBodyWithAGeneratedOrAChosenId) {
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, flow()));
  httplib::Client c = s.client();

  auto r = c.Post("/v1/process/sync", "hello, world", "text/plain");
  ASSERT_TRUE(r) << describe(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body, "hello, world");
  EXPECT_EQ(r->get_header_value("Numaflow-Array-Len"), "1");
  EXPECT_EQ(r->get_header_value("Numaflow-Array-Index-Len"), "12");
  const std::string generated = r->get_header_value("X-Numaflow-Id");
  EXPECT_TRUE(std::regex_match(generated, kUuidV7)) << generated;

  // A second generated id is another one, and sorts after the first (UUIDv7).
  auto r2 = c.Post("/v1/process/sync", "again", "text/plain");
  ASSERT_TRUE(r2 && r2->status == 200) << describe(r2);
  const std::string generated2 = r2->get_header_value("X-Numaflow-Id");
  EXPECT_TRUE(std::regex_match(generated2, kUuidV7)) << generated2;
  EXPECT_LT(generated, generated2);

  auto chosen = c.Post("/v1/process/sync", id_header("my id.1 ü"), "payload", "text/plain");
  ASSERT_TRUE(chosen) << describe(chosen);
  EXPECT_EQ(chosen->status, 200) << chosen->body;
  EXPECT_EQ(chosen->get_header_value("X-Numaflow-Id"), "my id.1 ü");
  EXPECT_EQ(chosen->body, "payload");
  EXPECT_EQ(chosen->get_header_value("Numaflow-Array-Len"), "1");
  EXPECT_EQ(chosen->get_header_value("Numaflow-Array-Index-Len"), "7");

  // An empty body is a request too: one empty result.
  auto empty = c.Post("/v1/process/sync", "", "text/plain");
  ASSERT_TRUE(empty) << describe(empty);
  EXPECT_EQ(empty->status, 200) << empty->body;
  EXPECT_EQ(empty->body, "");
  EXPECT_EQ(empty->get_header_value("Numaflow-Array-Len"), "1");
  EXPECT_EQ(empty->get_header_value("Numaflow-Array-Index-Len"), "0");

  // Probes.
  auto livez = c.Get("/livez");
  ASSERT_TRUE(livez);
  EXPECT_EQ(livez->status, 204);
  // (The server counts a response after writing it: poll.)
  httplib::Result metrics = no_response();
  EXPECT_TRUE(eventually([&] {
    metrics = c.Get("/metrics");
    return metrics && metrics->status == 200 &&
           contains(metrics->body, "sluice_serving_completed_total{flow=\"echo\"} 4") &&
           contains(metrics->body,
                    "sluice_serving_responses_total{flow=\"echo\",endpoint=\"sync\",code=\"200\"} 4");
  }, 3s)) << describe(metrics);
  ASSERT_NO_FATAL_FAILURE(stop(&s));
}

// --- 2. multi-result framing ------------------------------------------------------------

TEST_F(ServingTest, SeveralResultsAreFramedByTheLengthHeaders) {
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, flow(py("words"))));
  httplib::Client c = s.client();

  auto r = c.Post("/v1/process/sync", id_header("three"), "alpha be gamma!", "text/plain");
  ASSERT_TRUE(r) << describe(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Numaflow-Array-Len"), "3");
  EXPECT_EQ(r->get_header_value("Numaflow-Array-Index-Len"), "5,2,6");
  EXPECT_EQ(r->body, "alphabegamma!");
  EXPECT_EQ(r->get_header_value("X-Numaflow-Id"), "three");

  auto f = c.Get("/v1/process/fetch?id=three");
  ASSERT_TRUE(f) << describe(f);
  EXPECT_EQ(f->status, 200) << f->body;
  EXPECT_EQ(f->get_header_value("Numaflow-Array-Len"), "3");
  EXPECT_EQ(f->get_header_value("Numaflow-Array-Index-Len"), "5,2,6");
  EXPECT_EQ(f->body, "alphabegamma!");
  EXPECT_EQ(f->get_header_value("X-Numaflow-Id"), "three");
  ASSERT_NO_FATAL_FAILURE(stop(&s));
}

// --- 3. async + fetch + message --------------------------------------------------------

TEST_F(ServingTest, AsyncThenFetchAndTheMessagePath) {
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, flow()));
  httplib::Client c = s.client();

  auto a = c.Post("/v1/process/async", "later please", "text/plain");
  ASSERT_TRUE(a) << describe(a);
  ASSERT_EQ(a->status, 200) << a->body;
  json aj = body_json(a->body);
  ASSERT_TRUE(aj.is_object()) << a->body;
  EXPECT_EQ(aj["message"], "Successfully published message");
  EXPECT_EQ(aj["code"], 200);
  ASSERT_TRUE(aj["id"].is_string()) << a->body;
  const std::string id = aj["id"];
  EXPECT_TRUE(std::regex_match(id, kUuidV7)) << id;
  EXPECT_EQ(a->get_header_value("X-Numaflow-Id"), id);

  auto f = fetch_final(c, id);
  ASSERT_TRUE(f) << describe(f);
  EXPECT_EQ(f->status, 200);
  EXPECT_EQ(f->body, "later please");
  EXPECT_EQ(f->get_header_value("Numaflow-Array-Len"), "1");
  EXPECT_EQ(f->get_header_value("Numaflow-Array-Index-Len"), "12");

  EXPECT_TRUE(is_json_error(c.Get("/v1/process/fetch?id=nobody-sent-this"), 404, "nobody-sent-this"));
  EXPECT_TRUE(is_json_error(c.Get("/v1/process/fetch"), 400, "missing"));
  EXPECT_TRUE(is_json_error(c.Get("/v1/process/message?id=nobody-sent-this"), 404));

  for (const char* endpoint : {"/v1/process/message", "/v1/process/status"}) {
    SCOPED_TRACE(endpoint);
    auto m = c.Get((std::string(endpoint) + "?id=" + id).c_str());
    ASSERT_TRUE(m) << describe(m);
    ASSERT_EQ(m->status, 200) << m->body;
    json mj = body_json(m->body);
    ASSERT_TRUE(mj.is_object()) << m->body;
    EXPECT_EQ(mj["id"], id);
    EXPECT_EQ(mj["status"], "completed");
    EXPECT_TRUE(mj["accepted_at"].is_string());
    EXPECT_TRUE(mj["finished_at"].is_string());
    EXPECT_LE(mj["accepted_at"].get<std::string>(), mj["finished_at"].get<std::string>());
    ASSERT_TRUE(mj["path"].is_array()) << m->body;
    std::vector<std::string> stages;
    int64_t last_end = 0;
    for (const json& step : mj["path"]) {
      stages.push_back(step["stage"]);
      EXPECT_LE(step["start"].get<int64_t>(), step["end"].get<int64_t>()) << step;
      EXPECT_GE(step["end"].get<int64_t>(), last_end) << m->body;
      EXPECT_GE(step["duration_us"].get<int64_t>(), 0) << step;
      last_end = step["end"];
    }
    EXPECT_EQ(stages, (std::vector<std::string>{"in", "up", "out"})) << m->body;
    EXPECT_EQ(mj["results"], json::parse(R"([{"stage": "out", "bytes": 12}])")) << m->body;
  }
  ASSERT_NO_FATAL_FAILURE(stop(&s));
}

// --- 4. duplicates ----------------------------------------------------------------------

TEST_F(ServingTest, DuplicateIdsAreRefusedWhetherStoredOrInFlight) {
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, flow(py("slow"))));
  httplib::Client c = s.client();

  auto first = c.Post("/v1/process/sync", id_header("once"), "x", "text/plain");
  ASSERT_TRUE(first) << describe(first);
  EXPECT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(first->body, "slow:x");
  EXPECT_TRUE(is_json_error(c.Post("/v1/process/sync", id_header("once"), "y", "text/plain"), 409,
                            "request id once is already in flight or stored"));
  EXPECT_TRUE(is_json_error(c.Post("/v1/process/async", id_header("once"), "y", "text/plain"), 409));

  // In flight: the first still sleeps in the map.
  httplib::Result live = no_response();
  std::thread t([&] {
    httplib::Client c2 = s.client();
    live = c2.Post("/v1/process/sync", id_header("live"), "z", "text/plain");
  });
  ASSERT_TRUE(eventually([&] {
    auto f = c.Get("/v1/process/fetch?id=live");
    return f && f->status == 200 && f->body == R"({"status":"in-progress"})";
  }));
  EXPECT_TRUE(is_json_error(c.Post("/v1/process/sync", id_header("live"), "z2", "text/plain"), 409, "live"));
  EXPECT_TRUE(is_json_error(c.Post("/v1/process/async", id_header("live"), "z2", "text/plain"), 409));
  EXPECT_TRUE(is_json_error(c.Post("/v1/process/sse", id_header("live"), "z2", "text/plain"), 409));
  t.join();
  ASSERT_TRUE(live) << describe(live);
  EXPECT_EQ(live->status, 200);
  EXPECT_EQ(live->body, "slow:z");  // the first submission's body, not a duplicate's
  ASSERT_NO_FATAL_FAILURE(stop(&s));
}

// --- 5. malformed ids -------------------------------------------------------------------

TEST_F(ServingTest, MalformedIdsGet400WithTheReason) {
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, flow()));
  httplib::Client c = s.client();

  auto check_raw = [&](const std::string& id, const std::string& needle) {
    SCOPED_TRACE("id of " + std::to_string(id.size()) + " bytes");
    RawResponse r = raw_http(s.http_port,
                             "POST /v1/process/sync HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Connection: close\r\nContent-Type: text/plain\r\n"
                             "Content-Length: 4\r\nX-Numaflow-Id: " + id + "\r\n\r\nbody");
    EXPECT_EQ(r.status, 400) << r.head << "\n\n" << r.body;
    json j = body_json(r.body);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_EQ(j["code"], 400);
    EXPECT_TRUE(contains(j["message"].get<std::string>(), needle)) << r.body;
  };
  // (An empty header value: see HeaderIdsAreDecodedByTheHttpLibraryAsDocumented below.)
  check_raw(std::string(300, 'a'), "300 bytes");
  check_raw("abc\x01xyz", "control character at byte 4");
  check_raw("abc\x7f", "control character");
  check_raw("bad\xc3", "not valid UTF-8");

  // With the client too: the long id on every submitting endpoint, and in ?id=.
  for (const char* endpoint : {"/v1/process/sync", "/v1/process/async", "/v1/process/sse"}) {
    SCOPED_TRACE(endpoint);
    EXPECT_TRUE(is_json_error(c.Post(endpoint, id_header(std::string(300, 'b')), "x", "text/plain"), 400,
                              "300 bytes"));
  }
  for (const char* endpoint : {"/v1/process/fetch", "/v1/process/message", "/v1/process/sse"}) {
    SCOPED_TRACE(endpoint);
    EXPECT_TRUE(is_json_error(c.Get((std::string(endpoint) + "?id=" + std::string(300, 'c')).c_str()), 400,
                              "300 bytes"));
    EXPECT_TRUE(is_json_error(c.Get((std::string(endpoint) + "?id=").c_str()), 400, "empty"));
    EXPECT_TRUE(is_json_error(c.Get((std::string(endpoint) + "?id=a%01b").c_str()), 400, "control character"));
  }
  // 256 bytes is fine.
  auto ok = c.Post("/v1/process/sync", id_header(std::string(256, 'd')), "x", "text/plain");
  ASSERT_TRUE(ok) << describe(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(ok->get_header_value("X-Numaflow-Id"), std::string(256, 'd'));
  ASSERT_NO_FATAL_FAILURE(stop(&s));
}

// A documented limit (docs/serving.md, "Request ids"): the system cpp-httplib (0.11.4)
// drops a header whose value is empty and percent-decodes every header value before
// sluice sees it. This test asserts exactly what users get today, so that a library
// that stops doing this fails it: then the docs' limit goes, and the id rules apply to
// header ids byte for byte (an empty one becomes a 400 "the request id is empty").
TEST_F(ServingTest, HeaderIdsAreDecodedByTheHttpLibraryAsDocumented) {
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, flow()));
  RawResponse empty = raw_http(s.http_port,
                               "POST /v1/process/sync HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Connection: close\r\nContent-Length: 4\r\nX-Numaflow-Id: \r\n\r\nbody");
  EXPECT_EQ(empty.status, 200) << empty.head << "\n\n" << empty.body;
  const std::regex uuid7("x-numaflow-id: [0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                         std::regex::icase);
  EXPECT_TRUE(std::regex_search(empty.head, uuid7)) << empty.head;  // a generated id
  httplib::Client c = s.client();
  auto pct = c.Post("/v1/process/sync", id_header("50%25off"), "x", "text/plain");
  ASSERT_TRUE(pct) << describe(pct);
  EXPECT_EQ(pct->status, 200);
  EXPECT_EQ(pct->get_header_value("X-Numaflow-Id"), "50%off");  // decoded
  auto f = c.Get("/v1/process/fetch?id=50%25off");  // the decoded id, as a URL sends it
  ASSERT_TRUE(f) << describe(f);
  EXPECT_EQ(f->status, 200);
  EXPECT_EQ(f->body, "x");
  ASSERT_NO_FATAL_FAILURE(stop(&s));
}

// --- 6. timeout then fetch ---------------------------------------------------------------

TEST_F(ServingTest, SyncTimesOutWith408AndTheResultIsFetchedLater) {
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, flow(py("slow2"), "  requestTimeoutSeconds: 1\n")));
  httplib::Client c = s.client();

  const auto t0 = Clock::now();
  auto r = c.Post("/v1/process/sync", id_header("patience"), "p", "text/plain");
  const auto waited = Clock::now() - t0;
  EXPECT_TRUE(is_json_error(r, 408, "GET /v1/process/fetch?id=patience")) << describe(r);
  if (r) {
    EXPECT_EQ(r->get_header_value("X-Numaflow-Id"), "patience");
  }
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 1900ms);

  auto progress = c.Get("/v1/process/fetch?id=patience");
  ASSERT_TRUE(progress) << describe(progress);
  EXPECT_EQ(progress->status, 200);
  EXPECT_EQ(body_json(progress->body), json::parse(R"({"status": "in-progress"})")) << progress->body;

  auto f = fetch_final(c, "patience");
  ASSERT_TRUE(f) << describe(f);
  EXPECT_EQ(f->status, 200);
  EXPECT_EQ(f->body, "late:p");
  EXPECT_EQ(f->get_header_value("Numaflow-Array-Len"), "1");
  ASSERT_NO_FATAL_FAILURE(stop(&s));
}

// --- 7. auth ------------------------------------------------------------------------------

TEST_F(ServingTest, EveryProcessEndpointNeedsATokenProbesDoNot) {
  write("token.txt", "file-token-42\n");
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, flow("{name: up, map: cat}", R"(  auth:
    tokens:
      - env: SERVE_TOKEN
      - file: token.txt
)"),
                                {{"SERVE_TOKEN", "env-token-7"}}));
  httplib::Client c = s.client();
  const httplib::Headers env_token = {{"Authorization", "Bearer env-token-7"}};
  const httplib::Headers file_token = {{"Authorization", "Bearer file-token-42"}};

  // A request to look up (submitted with the file's token).
  auto seed = c.Post("/v1/process/sync", {{"Authorization", "Bearer file-token-42"}, {"X-Numaflow-Id", "seed"}},
                     "seeded", "text/plain");
  ASSERT_TRUE(seed) << describe(seed);
  ASSERT_EQ(seed->status, 200) << seed->body;
  EXPECT_EQ(seed->body, "seeded");

  struct Call {
    std::string name;
    std::function<httplib::Result(const httplib::Headers&)> send;
    int ok_status;
  };
  int n = 0;
  const std::vector<Call> calls = {
      {"sync", [&](const httplib::Headers& h) { return c.Post("/v1/process/sync", h, "s", "text/plain"); }, 200},
      {"async", [&](const httplib::Headers& h) { return c.Post("/v1/process/async", h, "a", "text/plain"); }, 200},
      {"sse POST", [&](const httplib::Headers& h) { return c.Post("/v1/process/sse", h, "e", "text/plain"); }, 200},
      {"fetch", [&](const httplib::Headers& h) { return c.Get("/v1/process/fetch?id=seed", h); }, 200},
      {"sse GET", [&](const httplib::Headers& h) { return c.Get("/v1/process/sse?id=seed", h); }, 200},
      {"message", [&](const httplib::Headers& h) { return c.Get("/v1/process/message?id=seed", h); }, 200},
      {"status", [&](const httplib::Headers& h) { return c.Get("/v1/process/status?id=seed", h); }, 200},
  };
  for (const Call& call : calls) {
    SCOPED_TRACE(call.name);
    auto none = call.send({});
    EXPECT_TRUE(is_json_error(none, 401, "needs a token"));
    if (none) {
      EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Bearer realm=\"sluice\"");
    }
    auto wrong = call.send({{"Authorization", "Bearer env-token-8"}});
    EXPECT_TRUE(is_json_error(wrong, 401, "not valid"));
    if (wrong) {
      EXPECT_EQ(wrong->get_header_value("WWW-Authenticate"), "Bearer realm=\"sluice\"");
    }
    // Not bearer: Basic with the right token's text.
    EXPECT_TRUE(is_json_error(call.send({{"Authorization", "Basic env-token-7"}}), 401));
    for (const httplib::Headers* h : {&env_token, &file_token}) {
      auto right = call.send(*h);
      ASSERT_TRUE(right) << describe(right);
      EXPECT_EQ(right->status, call.ok_status) << right->body;
      EXPECT_NE(right->body.find_first_not_of(' '), std::string::npos);
      ++n;
    }
  }
  EXPECT_EQ(n, 14);
  // The sse GET of a completed request replays its result and completes.
  auto sse = c.Get("/v1/process/sse?id=seed", env_token);
  ASSERT_TRUE(sse);
  EXPECT_EQ(sse->body, "id: 0\ndata: seeded\n\nid: 1\nevent: complete\ndata: {\"results\":1,\"status\":\"completed\"}\n\n");

  // Probes are open.
  for (const char* probe : {"/livez", "/readyz"}) {
    auto r = c.Get(probe);
    ASSERT_TRUE(r) << probe;
    EXPECT_EQ(r->status, 204) << probe << ": " << r->body;
  }
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_TRUE(contains(metrics->body, "sluice_serving_in_flight")) << metrics->body;
  EXPECT_TRUE(contains(metrics->body, "code=\"401\"")) << metrics->body;
  // The tokens appear nowhere sluice writes.
  EXPECT_FALSE(contains(s.proc->err_so_far(), "env-token-7"));
  EXPECT_FALSE(contains(s.proc->err_so_far(), "file-token-42"));
  ASSERT_NO_FATAL_FAILURE(stop(&s));
}

// --- 8. methods, unknown paths, body limit, in-flight limit ---------------------------------

TEST_F(ServingTest, WrongMethodUnknownPathLargeBodyAndBusy) {
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, flow(py("slow"), "  maxRequestBody: 1KiB\n  maxInFlight: 1\n")));
  httplib::Client c = s.client();

  struct Wrong {
    std::string path, method, allow;
  };
  const std::vector<Wrong> wrong = {
      {"/v1/process/sync", "GET", "POST"},    {"/v1/process/async", "GET", "POST"},
      {"/v1/process/fetch", "POST", "GET"},   {"/v1/process/sse", "PUT", "GET, POST"},
      {"/v1/process/message", "POST", "GET"}, {"/v1/process/status", "DELETE", "GET"},
      {"/livez", "POST", "GET"},              {"/readyz", "POST", "GET"},
      {"/metrics", "POST", "GET"},            {"/health", "PUT", "GET"},
      {"/v1/process/sync", "DELETE", "POST"},
  };
  for (const Wrong& w : wrong) {
    SCOPED_TRACE(w.method + " " + w.path);
    httplib::Result r = w.method == "GET"    ? c.Get(w.path.c_str())
                        : w.method == "POST" ? c.Post(w.path.c_str(), "x", "text/plain")
                        : w.method == "PUT"  ? c.Put(w.path.c_str(), "x", "text/plain")
                                             : c.Delete(w.path.c_str());
    EXPECT_TRUE(is_json_error(r, 405, "is not allowed on " + w.path));
    if (r) {
      EXPECT_EQ(r->get_header_value("Allow"), w.allow);
    }
  }
  EXPECT_TRUE(is_json_error(c.Get("/v1/process/nope"), 404, "/v1/process/nope"));
  EXPECT_TRUE(is_json_error(c.Post("/v2/sync", "x", "text/plain"), 404));
  EXPECT_TRUE(is_json_error(c.Get("/"), 404));

  // 1 KiB passes; 4 KiB does not.
  auto fits = c.Post("/v1/process/sync", std::string(1024, 'k'), "text/plain");
  ASSERT_TRUE(fits) << describe(fits);
  EXPECT_EQ(fits->status, 200);
  EXPECT_EQ(fits->body, "slow:" + std::string(1024, 'k'));
  EXPECT_TRUE(is_json_error(c.Post("/v1/process/sync", std::string(4096, 'k'), "text/plain"), 413,
                            "maxRequestBody (1024 bytes)"));
  EXPECT_TRUE(is_json_error(c.Post("/v1/process/async", std::string(1025, 'k'), "text/plain"), 413));

  // maxInFlight: 1 with one request sleeping in the map.
  httplib::Result busy_holder = no_response();
  std::thread t([&] {
    httplib::Client c2 = s.client();
    busy_holder = c2.Post("/v1/process/sync", id_header("holder"), "h", "text/plain");
  });
  ASSERT_TRUE(eventually([&] {
    auto f = c.Get("/v1/process/fetch?id=holder");
    return f && f->status == 200 && contains(f->body, "in-progress");
  }));
  for (const char* endpoint : {"/v1/process/sync", "/v1/process/async", "/v1/process/sse"}) {
    SCOPED_TRACE(endpoint);
    auto r = c.Post(endpoint, id_header(std::string("turned-away") + endpoint), "x", "text/plain");
    EXPECT_TRUE(is_json_error(r, 429, "maxInFlight"));
    if (r) {
      EXPECT_EQ(r->get_header_value("Retry-After"), "1");
    }
  }
  t.join();
  ASSERT_TRUE(busy_holder) << describe(busy_holder);
  EXPECT_EQ(busy_holder->status, 200);
  EXPECT_EQ(busy_holder->body, "slow:h");
  // The refused ids were released: the same id is accepted now.
  auto again = c.Post("/v1/process/async", id_header("turned-away/v1/process/sync"), "x", "text/plain");
  ASSERT_TRUE(again) << describe(again);
  EXPECT_EQ(again->status, 200) << again->body;
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_TRUE(contains(metrics->body, "sluice_serving_busy_total{flow=\"echo\"} 3")) << metrics->body;
  ASSERT_NO_FATAL_FAILURE(stop(&s));
}

// --- 9. SSE --------------------------------------------------------------------------------

// POSTs (or GETs) an event stream, parsing events as they arrive.
httplib::Result sse_request(const Sluice& s, const std::string& method, const std::string& path,
                            const std::string& body, const httplib::Headers& headers, SseParser* parser) {
  httplib::Client c = s.client();
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.headers = headers;
  if (method == "POST") {
    req.body = body;
    req.set_header("Content-Type", "text/plain");
  }
  req.content_receiver = [parser](const char* data, size_t n, uint64_t, uint64_t) {
    parser->feed(data, n);
    return true;
  };
  return c.send(req);
}

TEST_F(ServingTest, SseStreamsEachResultAsItArrives) {
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, R"(name: fan
stages:
  - {name: in, source: serving}
  - {name: quick, map: cat}
  - {name: sleepy, map: python, config: {module: handlers, function: slow}}
  - {name: fast, sink: serve}
  - {name: slow, sink: serve}
edges:
  - {from: in, to: quick}
  - {from: in, to: sleepy}
  - {from: quick, to: fast}
  - {from: sleepy, to: slow}
serving:
  http: 127.0.0.1:0
  store: {sqlite: {path: requests.db}}
)"));

  SseParser p;
  const auto t0 = Clock::now();
  auto r = sse_request(s, "POST", "/v1/process/sse", "ping", id_header("streamed"), &p);
  ASSERT_TRUE(r) << describe(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_EQ(r->get_header_value("X-Numaflow-Id"), "streamed");
  std::vector<SseEvent> ev = p.events();
  ASSERT_EQ(ev.size(), 3u) << r->body;
  EXPECT_EQ(ev[0].id, "0");
  EXPECT_EQ(ev[0].event, "");
  EXPECT_EQ(ev[0].data, "ping");
  EXPECT_EQ(ev[1].id, "1");
  EXPECT_EQ(ev[1].event, "");
  EXPECT_EQ(ev[1].data, "slow:ping");
  EXPECT_EQ(ev[2].id, "2");
  EXPECT_EQ(ev[2].event, "complete");
  EXPECT_EQ(body_json(ev[2].data), json::parse(R"({"status": "completed", "results": 2})")) << ev[2].data;
  EXPECT_LT(ev[0].at - t0, 700ms);
  EXPECT_GE(ev[2].at - ev[0].at, 700ms);
  EXPECT_GE(ev[1].at - ev[0].at, 700ms);

  // The stored results, in order, with the sink that produced each.
  httplib::Client c = s.client();
  auto m = c.Get("/v1/process/message?id=streamed");
  ASSERT_TRUE(m && m->status == 200) << describe(m);
  EXPECT_EQ(body_json(m->body)["results"], json::parse(R"([{"stage": "fast", "bytes": 4}, {"stage": "slow", "bytes": 9}])"))
      << m->body;
  auto f = c.Get("/v1/process/fetch?id=streamed");
  ASSERT_TRUE(f && f->status == 200) << describe(f);
  EXPECT_EQ(f->body, "pingslow:ping");
  EXPECT_EQ(f->get_header_value("Numaflow-Array-Index-Len"), "4,9");

  // Subscribe to a request submitted with async.
  auto a = c.Post("/v1/process/async", id_header("later"), "pong", "text/plain");
  ASSERT_TRUE(a && a->status == 200) << describe(a);
  SseParser q;
  auto g = sse_request(s, "GET", "/v1/process/sse?id=later", "", {}, &q);
  ASSERT_TRUE(g) << describe(g);
  EXPECT_EQ(g->status, 200);
  ev = q.events();
  ASSERT_EQ(ev.size(), 3u) << g->body;
  EXPECT_EQ(ev[0].id, "0");
  EXPECT_EQ(ev[0].data, "pong");
  EXPECT_EQ(ev[1].id, "1");
  EXPECT_EQ(ev[1].data, "slow:pong");
  EXPECT_EQ(ev[2].id, "2");
  EXPECT_EQ(ev[2].event, "complete");
  EXPECT_EQ(body_json(ev[2].data), json::parse(R"({"status": "completed", "results": 2})"));

  // Reconnecting with Last-Event-ID: after the end, 204; before it, the rest.
  auto done = c.Get("/v1/process/sse?id=later", {{"Last-Event-ID", "2"}});
  ASSERT_TRUE(done) << describe(done);
  EXPECT_EQ(done->status, 204);
  EXPECT_EQ(done->body, "");
  SseParser rest;
  auto resumed = sse_request(s, "GET", "/v1/process/sse?id=later", "", {{"Last-Event-ID", "0"}}, &rest);
  ASSERT_TRUE(resumed && resumed->status == 200) << describe(resumed);
  ev = rest.events();
  ASSERT_EQ(ev.size(), 2u) << resumed->body;
  EXPECT_EQ(ev[0].id, "1");
  EXPECT_EQ(ev[0].data, "slow:pong");
  EXPECT_EQ(ev[1].id, "2");
  EXPECT_EQ(ev[1].event, "complete");
  EXPECT_TRUE(is_json_error(c.Get("/v1/process/sse?id=never"), 404));
  EXPECT_TRUE(is_json_error(c.Get("/v1/process/sse"), 400, "missing"));
  ASSERT_NO_FATAL_FAILURE(stop(&s));
}

// --- 10. processing failure -----------------------------------------------------------------

TEST_F(ServingTest, AFailedMessageFailsItsRequest) {
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, flow(py("picky", ", onError: {then: drop}"))));
  httplib::Client c = s.client();

  auto bad = c.Post("/v1/process/sync", id_header("b1"), "bad", "text/plain");
  EXPECT_TRUE(is_json_error(bad, 500, "request b1 failed: up: ")) << describe(bad);
  if (bad) {
    EXPECT_TRUE(contains(bad->body, "ValueError")) << bad->body;
    EXPECT_TRUE(contains(bad->body, "cannot take bad")) << bad->body;
  }
  auto f = c.Get("/v1/process/fetch?id=b1");
  ASSERT_TRUE(f) << describe(f);
  EXPECT_EQ(f->status, 200);
  json fj = body_json(f->body);
  EXPECT_EQ(fj["status"], "failed") << f->body;
  EXPECT_EQ(fj["id"], "b1");
  ASSERT_TRUE(fj["error"].is_string()) << f->body;
  EXPECT_EQ(fj["error"].get<std::string>().rfind("up: ", 0), 0u) << f->body;
  EXPECT_TRUE(contains(fj["error"], "cannot take bad")) << f->body;

  auto m = c.Get("/v1/process/message?id=b1");
  ASSERT_TRUE(m && m->status == 200) << describe(m);
  json mj = body_json(m->body);
  EXPECT_EQ(mj["status"], "failed") << m->body;
  EXPECT_EQ(mj["results"], json::array()) << m->body;
  EXPECT_TRUE(contains(mj["error"], "cannot take bad")) << m->body;

  // SSE of a failing request ends with a failed complete event.
  SseParser p;
  auto sr = sse_request(s, "POST", "/v1/process/sse", "bad", id_header("b2"), &p);
  ASSERT_TRUE(sr && sr->status == 200) << describe(sr);
  std::vector<SseEvent> ev = p.events();
  ASSERT_EQ(ev.size(), 1u) << sr->body;
  EXPECT_EQ(ev[0].event, "complete");
  EXPECT_EQ(ev[0].id, "0");
  json cj = body_json(ev[0].data);
  EXPECT_EQ(cj["status"], "failed") << ev[0].data;
  EXPECT_TRUE(contains(cj["error"], "cannot take bad")) << ev[0].data;

  // The flow goes on.
  auto good = c.Post("/v1/process/sync", "good", "text/plain");
  ASSERT_TRUE(good) << describe(good);
  EXPECT_EQ(good->status, 200);
  EXPECT_EQ(good->body, "good");
  ASSERT_NO_FATAL_FAILURE(stop(&s));
}

// --- 11. TLS ------------------------------------------------------------------------------------

TEST_F(ServingTest, HttpsWithASelfSignedCertificate) {
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, R"(name: tls
stages:
  - {name: in, source: serving}
  - {name: out, sink: serve}
serving:
  https: 127.0.0.1:0
  tls: {selfSigned: true}
  store: {sqlite: {path: requests.db}}
)"));
  ASSERT_GT(s.https_port, 0);
  {
    httplib::SSLClient c("127.0.0.1", s.https_port);
    c.enable_server_certificate_verification(false);
    c.set_keep_alive(false);
    auto r = c.Post("/v1/process/sync", "secret", "text/plain");
    ASSERT_TRUE(r) << describe(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "secret");
    auto ready = c.Get("/readyz");
    ASSERT_TRUE(ready) << describe(ready);
    EXPECT_EQ(ready->status, 204);
  }
  {
    // A verifying client does not trust a certificate made at start.
    httplib::SSLClient c("127.0.0.1", s.https_port);
    c.enable_server_certificate_verification(true);
    c.set_keep_alive(false);
    auto r = c.Post("/v1/process/sync", "secret", "text/plain");
    EXPECT_FALSE(r) << describe(r);
    if (!r) {
      EXPECT_EQ(r.error(), httplib::Error::SSLServerVerification) << httplib::to_string(r.error());
    }
  }
  // Plain HTTP on the HTTPS port is no answer.
  {
    httplib::Client c("127.0.0.1", s.https_port);
    c.set_keep_alive(false);
    c.set_read_timeout(5s);
    auto r = c.Get("/livez");
    EXPECT_TRUE(!r || r->status == 400) << describe(r);
  }
  ASSERT_NO_FATAL_FAILURE(stop(&s));
}

TEST_F(ServingTest, HttpsWithCertificateFilesVerifiedByTheClient) {
  const serving::PemPair pem = serving::make_self_signed_certificate({"localhost", "127.0.0.1"});
  write("certs/server.crt", pem.certificate);
  write("certs/server.key", pem.private_key);
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, R"(name: tls
stages:
  - {name: in, source: serving}
  - {name: out, sink: serve}
serving:
  http: 127.0.0.1:0
  https: 127.0.0.1:0
  tls: {cert: certs/server.crt, key: certs/server.key}
  store: {sqlite: {path: requests.db}}
)"));
  ASSERT_GT(s.https_port, 0);
  ASSERT_GT(s.http_port, 0);
  ASSERT_NE(s.http_port, s.https_port);
  httplib::SSLClient c("127.0.0.1", s.https_port);
  c.set_ca_cert_path(at("certs/server.crt").string());
  c.enable_server_certificate_verification(true);
  c.set_keep_alive(false);
  auto r = c.Post("/v1/process/sync", id_header("over-tls"), "verified", "text/plain");
  ASSERT_TRUE(r) << describe(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "verified");
  EXPECT_EQ(r->get_header_value("X-Numaflow-Id"), "over-tls");
  // By name too (the certificate holds localhost).
  httplib::SSLClient byname("localhost", s.https_port);
  byname.set_ca_cert_path(at("certs/server.crt").string());
  byname.enable_server_certificate_verification(true);
  byname.set_keep_alive(false);
  auto f = byname.Get("/v1/process/fetch?id=over-tls");
  ASSERT_TRUE(f) << describe(f);
  EXPECT_EQ(f->status, 200);
  EXPECT_EQ(f->body, "verified");
  // The plain listener serves the same requests.
  httplib::Client plain = s.client();
  auto pf = plain.Get("/v1/process/fetch?id=over-tls");
  ASSERT_TRUE(pf) << describe(pf);
  EXPECT_EQ(pf->body, "verified");
  ASSERT_NO_FATAL_FAILURE(stop(&s));
}

// --- 12. crash recovery ---------------------------------------------------------------------------

TEST_F(ServingTest, AcceptedRequestsSurviveAKill9) {
  const std::string yaml = flow(py("tenth", ", batch: 1"));
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, yaml));
  httplib::Client c = s.client();

  auto before = c.Post("/v1/process/sync", id_header("before-crash"), "early", "text/plain");
  ASSERT_TRUE(before && before->status == 200) << describe(before);
  EXPECT_EQ(before->body, "done:early");

  const int kCount = 30;
  auto id = [](int i) { return "crash-" + std::to_string(i); };
  for (int i = 0; i < kCount; ++i) {
    auto a = c.Post("/v1/process/async", id_header(id(i)), "v" + std::to_string(i), "text/plain");
    ASSERT_TRUE(a && a->status == 200) << describe(a);
  }
  // Wait for a few to complete, then kill -9.
  int completed = 0;
  ASSERT_TRUE(eventually(
      [&] {
        completed = 0;
        for (int i = 0; i < kCount; ++i) {
          auto f = c.Get(("/v1/process/fetch?id=" + id(i)).c_str());
          if (f && f->status == 200 && !f->get_header_value("Numaflow-Array-Len").empty()) ++completed;
        }
        return completed >= 5;
      },
      15s, 10ms));
  ASSERT_TRUE(s.proc->signal(SIGKILL));
  RunResult killed = s.proc->wait();
  EXPECT_EQ(killed.signal, SIGKILL) << killed;
  s.proc.reset();
  EXPECT_LT(completed, kCount) << "everything completed before the kill; the test proves nothing";

  // Restart on the same store.
  Sluice again;
  ASSERT_NO_FATAL_FAILURE(start(&again, ""));
  httplib::Client c2 = again.client();
  for (int i = 0; i < kCount; ++i) {
    SCOPED_TRACE(id(i));
    auto f = fetch_final(c2, id(i), 20s);
    ASSERT_TRUE(f) << describe(f);
    EXPECT_EQ(f->status, 200);
    EXPECT_EQ(f->body, "done:v" + std::to_string(i));
    EXPECT_EQ(f->get_header_value("Numaflow-Array-Len"), "1");
  }
  auto b = c2.Get("/v1/process/fetch?id=before-crash");
  ASSERT_TRUE(b) << describe(b);
  EXPECT_EQ(b->status, 200);
  EXPECT_EQ(b->body, "done:early");
  // Still taken: a duplicate after the restart.
  EXPECT_TRUE(is_json_error(c2.Post("/v1/process/sync", id_header("crash-0"), "again", "text/plain"), 409));
  EXPECT_TRUE(contains(again.proc->err_so_far(), "not finished are processed again")) << again.proc->err_so_far();
  auto metrics = c2.Get("/metrics");
  ASSERT_TRUE(metrics);
  std::smatch m;
  const std::regex recovered("sluice_serving_recovered_total\\{flow=\"echo\"\\} ([0-9]+)");
  ASSERT_TRUE(std::regex_search(metrics->body, m, recovered)) << metrics->body;
  EXPECT_GE(std::stoi(m[1]), kCount - completed);
  EXPECT_LE(std::stoi(m[1]), kCount);
  ASSERT_NO_FATAL_FAILURE(stop(&again));
}

// --- 13. graceful stop ------------------------------------------------------------------------------

TEST_F(ServingTest, SigtermLetsARequestInProgressFinish) {
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, flow(py("slow"))));
  httplib::Client c = s.client();
  auto ready = c.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 204);
  EXPECT_EQ(ready->body, "");

  httplib::Result r = no_response();
  std::thread t([&] {
    httplib::Client c2 = s.client();
    r = c2.Post("/v1/process/sync", id_header("last"), "bye", "text/plain");
  });
  ASSERT_TRUE(eventually([&] {
    auto f = c.Get("/v1/process/fetch?id=last");
    return f && f->status == 200 && contains(f->body, "in-progress");
  }));
  std::this_thread::sleep_for(200ms);  // in the map's sleep by now
  ASSERT_TRUE(s.proc->signal(SIGTERM));
  // While it drains: not ready, and new requests are turned away (503, Retry-After).
  httplib::Result readyz = no_response();
  EXPECT_TRUE(eventually([&] {
    readyz = c.Get("/readyz");
    return readyz && readyz->status == 503;
  }, 500ms, 10ms)) << describe(readyz);
  EXPECT_TRUE(is_json_error(readyz, 503, "stopping"));
  auto late = c.Post("/v1/process/async", id_header("too-late"), "x", "text/plain");
  EXPECT_TRUE(is_json_error(late, 503, "stopping"));
  if (late) {
    EXPECT_EQ(late->get_header_value("Retry-After"), "5");
  }
  t.join();
  ASSERT_TRUE(r) << describe(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body, "slow:bye");
  RunResult done = s.proc->wait();
  EXPECT_EQ(done.exit_code, 0) << done;
  s.proc.reset();
}

// serving.store.grpc: sluice against the Python Numaflow-style store server
// (tests/support/serving_store_server.py): answers come back through the store's Get;
// a store that goes away makes /readyz 503 and submissions 503 (nothing acknowledged
// that was not stored).
TEST_F(ServingTest, GrpcStoreServesAndItsLossIsReported) {
  const std::string sock = at("store.sock").string();
  RunOptions server_opts;
  server_opts.timeout = 100s;
  ChildProcess server("/usr/bin/python3",
                      {SLUICE_STORE_SERVER_PY, "--listen", "unix:" + sock, "--append", "--stubs",
                       SLUICE_PYTHON_STUBS_DIR},
                      server_opts);
  ASSERT_TRUE(eventually([&] {
    return contains(server.out_so_far() + server.err_so_far(), "listening");
  }, 30s)) << server.err_so_far();
  Sluice s;
  ASSERT_NO_FATAL_FAILURE(start(&s, R"(name: echo
stages:
  - {name: in, source: serving}
  - {name: up, map: cat}
  - {name: out, sink: serve}
serving:
  http: 127.0.0.1:0
  store: {grpc: {address: unix:store.sock}}
)"));
  httplib::Client c = s.client();
  auto r = c.Post("/v1/process/sync", id_header("g1"), "through grpc", "text/plain");
  ASSERT_TRUE(r) << describe(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "through grpc");
  r = c.Post("/v1/process/async", id_header("g2"), "later", "text/plain");
  ASSERT_TRUE(r && r->status == 200) << describe(r);
  ASSERT_TRUE(eventually([&] {
    auto f = c.Get("/v1/process/fetch?id=g2");
    return f && f->status == 200 && f->body == "later";
  })) << s.proc->err_so_far();
  r = c.Post("/v1/process/async", id_header("g1"), "again", "text/plain");
  EXPECT_TRUE(is_json_error(r, 409, "g1"));

  server.signal(SIGKILL);
  server.wait();
  EXPECT_TRUE(eventually([&] {
    auto z = c.Get("/readyz");
    return z && z->status == 503;
  }, 10s));
  r = c.Post("/v1/process/async", id_header("g3"), "lost?", "text/plain");
  EXPECT_TRUE(is_json_error(r, 503, "store"));
  stop(&s);
}

}  // namespace
}  // namespace sluice::test
