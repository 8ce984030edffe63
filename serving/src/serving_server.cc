#include "sluice/serving/serving_server.h"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <ctime>
#include <limits>
#include <strings.h>
#include <nlohmann/json.hpp>
#include <thread>

#include "sluice/host/http_answer.h"
#include "sluice/host/log.h"
#include "sluice/host/side_input_http.h"
#include "sluice/serving/listen_backlog.h"
#include "sluice/serving/request_id.h"
#include "sluice/serving/self_signed.h"
#include "sluice/serving/tokens.h"

namespace sluice::serving {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using httplib::Request;
using httplib::Response;
using HandlerResponse = httplib::Server::HandlerResponse;

// --- the endpoints ------------------------------------------------------------------

enum Endpoint : size_t {
  kSync, kAsync, kFetch, kSse, kMessage, kStatus, kLivez, kReadyz, kHealth, kMetrics,
  kSideInputs, kSideInputRefresh, kOther, kEndpointCount
};
constexpr const char* kEndpointNames[] = {"sync",   "async", "fetch",  "sse",     "message", "status",
                                          "livez",  "readyz", "health", "metrics",
                                          "side_inputs", "side_input_refresh", "other"};

struct Route {
  const char* path;
  Endpoint endpoint;
  bool get, post;
  bool guarded;  // needs a token when auth is on
};
constexpr Route kRoutes[] = {
    {"/v1/process/sync", kSync, false, true, true},
    {"/v1/process/async", kAsync, false, true, true},
    {"/v1/process/fetch", kFetch, true, false, true},
    {"/v1/process/sse", kSse, true, true, true},
    {"/v1/process/message", kMessage, true, false, true},
    {"/v1/process/status", kStatus, true, false, true},
    {"/livez", kLivez, true, false, false},
    {"/readyz", kReadyz, true, false, false},
    {"/health", kHealth, true, false, false},
    {"/metrics", kMetrics, true, false, false},
    {"/v1/side-inputs", kSideInputs, true, false, true},
};
// POST /v1/side-inputs/{name}/refresh: matched by shape, not by an exact path.
constexpr Route kRefreshRoute = {"/v1/side-inputs/{name}/refresh", kSideInputRefresh, false, true, true};
constexpr std::string_view kSideInputsPrefix = "/v1/side-inputs/";
constexpr std::string_view kRefreshSuffix = "/refresh";

// The {name} of a path find_route matched as kRefreshRoute.
std::string side_input_name_of(const std::string& path) {
  return path.substr(kSideInputsPrefix.size(), path.size() - kSideInputsPrefix.size() - kRefreshSuffix.size());
}

const Route* find_route(const std::string& path) {
  for (const Route& r : kRoutes)
    if (path == r.path) return &r;
  if (path.size() > kSideInputsPrefix.size() + kRefreshSuffix.size() &&
      path.compare(0, kSideInputsPrefix.size(), kSideInputsPrefix) == 0 &&
      path.compare(path.size() - kRefreshSuffix.size(), kRefreshSuffix.size(), kRefreshSuffix) == 0 &&
      path.find('/', kSideInputsPrefix.size()) == path.size() - kRefreshSuffix.size())
    return &kRefreshRoute;  // one path segment for the name
  return nullptr;
}


// Status codes counted per endpoint in /metrics.
constexpr int kCodes[] = {200, 202, 204, 400, 401, 404, 405, 408, 409, 411, 413, 429, 500, 503};
constexpr size_t kCodeCount = std::size(kCodes) + 1;  // + "other"

size_t code_slot(int code) {
  for (size_t i = 0; i < std::size(kCodes); ++i)
    if (kCodes[i] == code) return i;
  return std::size(kCodes);
}

// --- formatting ---------------------------------------------------------------------

using host::rfc3339;

int64_t epoch_ms(store::Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Numaflow's error body.
void json_error(Response& res, int code, const std::string& message) {
  const host::HttpAnswer a = host::http_error(code, message);
  res.status = a.status;
  res.set_content(a.body, a.content_type);
}

// Results as Numaflow frames them: the values concatenated, their lengths in headers.
void send_results(Response& res, const std::vector<store::Result>& results) {
  std::string body, lengths;
  size_t total = 0;
  for (const store::Result& r : results) total += r.value.size();
  body.reserve(total);
  for (const store::Result& r : results) {
    body += r.value;
    if (!lengths.empty()) lengths += ',';
    lengths += std::to_string(r.value.size());
  }
  res.status = 200;
  res.set_header("Numaflow-Array-Len", std::to_string(results.size()));
  res.set_header("Numaflow-Array-Index-Len", lengths);
  res.set_content(std::move(body), "application/octet-stream");
}

// One Server-Sent Event. A value's line breaks (\n, \r\n, \r) split it into several
// data: lines, which an EventSource joins back with \n.
void append_event(std::string* out, const std::string& id, const char* event, std::string_view data) {
  *out += "id: ";
  *out += id;
  *out += '\n';
  if (event != nullptr) {
    *out += "event: ";
    *out += event;
    *out += '\n';
  }
  size_t start = 0;
  for (size_t i = 0; i <= data.size(); ++i) {
    if (i < data.size() && data[i] != '\n' && data[i] != '\r') continue;
    *out += "data: ";
    out->append(data.substr(start, i - start));
    *out += '\n';
    if (i + 1 < data.size() && data[i] == '\r' && data[i + 1] == '\n') ++i;
    start = i + 1;
  }
  *out += '\n';
}

const char* status_word(store::RequestStatus s) {
  switch (s) {
    case store::RequestStatus::kInProgress: return "in-progress";
    case store::RequestStatus::kCompleted: return "completed";
    case store::RequestStatus::kFailed: return "failed";
  }
  return "in-progress";
}

// A snapshot of a request, from memory (in flight) or from the store.
struct Snapshot {
  store::RequestStatus status = store::RequestStatus::kInProgress;
  bool abandoned = false;
  std::vector<store::Result> results;
  std::vector<store::Step> path;
  std::string error;
  store::Time accepted_at;
  std::optional<store::Time> finished_at;
};

Snapshot snapshot_of(PendingRequest& p) {
  std::lock_guard<std::mutex> lock(p.mutex);
  Snapshot s;
  s.status = p.state == PendingRequest::State::kCompleted ? store::RequestStatus::kCompleted
             : p.state == PendingRequest::State::kFailed  ? store::RequestStatus::kFailed
                                                          : store::RequestStatus::kInProgress;
  s.abandoned = p.state == PendingRequest::State::kAbandoned;
  s.results = p.results;
  s.path = p.path;
  s.error = p.error;
  s.accepted_at = p.accepted_at;
  if (p.finished()) s.finished_at = p.finished_at;
  return s;
}

Snapshot snapshot_of(store::RequestRecord&& r) {
  Snapshot s;
  s.status = r.status;
  s.results = std::move(r.results);
  s.path = std::move(r.path);
  s.error = std::move(r.error);
  s.accepted_at = r.accepted_at;
  s.finished_at = r.finished_at;
  return s;
}

}  // namespace

// ------------------------------------------------------------------------------------

struct ServingServer::Impl {
  Impl(const host::ServingPlan& p, std::vector<std::string> t, RequestHub& h,
       const host::FlowMetrics& m)
      : plan(p), tokens(std::move(t)), hub(h), metrics(m) {}

  const host::ServingPlan& plan;
  const std::vector<std::string> tokens;
  RequestHub& hub;
  const host::FlowMetrics& metrics;
  std::atomic<bool> flow_ready{false};
  std::atomic<bool> stopped{false};
  // Set before the listeners start (set_side_inputs); null when the flow has none.
  host::SideInputManager* side_inputs = nullptr;
  const host::SideInputRegistry* side_input_registry = nullptr;
  std::vector<std::string> awaited_side_inputs;  // read by a stage: /readyz waits for them

  std::unique_ptr<httplib::Server> http, https;
  std::thread http_thread, https_thread;
  int http_port = -1, https_port = -1;

  std::array<std::array<std::atomic<uint64_t>, kCodeCount>, kEndpointCount> responses{};
  host::LatencyHistogram sync_seconds;

  // --- setup ----------------------------------------------------------------------

  void configure(httplib::Server& srv) {
    const uint32_t threads = plan.http_threads;
    srv.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // cpp-httplib's defaults cost 100x here: Nagle, and 5 requests per connection.
    srv.set_tcp_nodelay(true);
    srv.set_keep_alive_max_count(1'000'000);
    srv.set_payload_max_length(plan.max_request_body);
    srv.set_pre_routing_handler([this](const Request& req, Response& res) { return pre_route(req, res); });
    srv.set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const Request& req, Response& res) { return on_error(req, res); }));
    srv.set_exception_handler([](const Request&, Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what += std::string(": ") + e.what();
      } catch (...) {
      }
      json_error(res, 500, what);
    });
    srv.set_logger([this](const Request& req, const Response& res) {
      const Route* r = find_route(req.path);
      responses[r ? r->endpoint : kOther][code_slot(res.status)].fetch_add(1, std::memory_order_relaxed);
    });

    srv.Post("/v1/process/sync", [this](const Request& req, Response& res) { sync(req, res); });
    srv.Post("/v1/process/async", [this](const Request& req, Response& res) { async(req, res); });
    srv.Get("/v1/process/fetch", [this](const Request& req, Response& res) { fetch(req, res); });
    srv.Post("/v1/process/sse", [this](const Request& req, Response& res) { sse_submit(req, res); });
    srv.Get("/v1/process/sse", [this](const Request& req, Response& res) { sse_get(req, res); });
    srv.Get("/v1/process/message", [this](const Request& req, Response& res) { message(req, res); });
    srv.Get("/v1/process/status", [this](const Request& req, Response& res) { message(req, res); });
    srv.Get("/livez", [](const Request&, Response& res) { res.status = 204; });
    srv.Get("/health", [](const Request&, Response& res) { res.set_content("ok", "text/plain"); });
    srv.Get("/readyz", [this](const Request&, Response& res) { readyz(res); });
    srv.Get("/v1/side-inputs", [this](const Request&, Response& res) { side_input_list(res); });
    srv.Post(R"(/v1/side-inputs/([^/]+)/refresh)",
             [this](const Request& req, Response& res) { side_input_refresh(req, res); });
    srv.Get("/metrics", [this](const Request&, Response& res) {
      res.set_content(metrics.prometheus() + serving_metrics() + host::side_input_prometheus(side_inputs), "text/plain; version=0.0.4; charset=utf-8");
    });
  }

  // Before the body is read: unknown paths, wrong methods and missing tokens are
  // refused here, so a refused client cannot make the server read (or buffer) a body.
  HandlerResponse pre_route(const Request& req, Response& res) {
    const Route* r = find_route(req.path);
    if (r == nullptr) {
      json_error(res, 404, "no endpoint " + req.path + " (see docs/serving.md for the endpoints)");
      return HandlerResponse::Handled;
    }
    const bool allowed = (req.method == "GET" && r->get) || (req.method == "HEAD" && r->get) ||
                         (req.method == "POST" && r->post);
    if (!allowed) {
      const std::string allow = r->get && r->post ? "GET, POST" : r->get ? "GET" : "POST";
      res.set_header("Allow", allow);
      json_error(res, 405, req.method + " is not allowed on " + req.path + "; use " + allow);
      return HandlerResponse::Handled;
    }
    if (req.method == "GET" &&
        ((req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0") ||
         req.has_header("Transfer-Encoding"))) {
      // cpp-httplib does not read a GET's body: its bytes would be taken for the next
      // request on this connection. Refuse it and close the connection.
      res.set_header("Connection", "close");
      json_error(res, 400, "a GET request cannot have a body here; POST " + req.path + " to submit one");
      return HandlerResponse::Handled;
    }
    if (r->guarded && !tokens.empty()) {
      // get_header_value returns a copy: keep it alive while `token` (a view into it)
      // is used.
      const std::string authorization = req.get_header_value("Authorization");
      const std::string_view token = bearer_token(authorization);
      if (token.empty() || !token_matches(token, tokens)) {
        res.set_header("WWW-Authenticate", "Bearer realm=\"sluice\"");
        json_error(res, 401,
                   token.empty() ? "this endpoint needs a token: send Authorization: Bearer <token>"
                                 : "the bearer token is not valid");
        return HandlerResponse::Handled;
      }
    }
    if (req.method == "POST" && !req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
      // No body (curl -X POST sends no Content-Length). cpp-httplib would read until
      // the connection closes, then answer 400: answer now instead. The refresh
      // endpoint takes no body anyway.
      if (r->endpoint == kSideInputRefresh) {
        send(res, host::side_input_refresh(side_inputs, side_input_name_of(req.path)));
        return HandlerResponse::Handled;
      }
      res.set_header("Connection", "close");
      json_error(res, 411, "a POST to " + req.path + " needs Content-Length (or chunked Transfer-Encoding); "
                           "curl -d '' sends an empty body");
      return HandlerResponse::Handled;
    }
    return HandlerResponse::Unhandled;
  }

  // Errors cpp-httplib produces itself (413 for a body over payload_max_length, 400 for
  // a malformed request) get the same JSON body as ours.
  HandlerResponse on_error(const Request& req, Response& res) {
    if (!res.body.empty()) return HandlerResponse::Unhandled;  // ours, already filled in
    const int code = res.status;
    std::string message;
    switch (code) {
      case 413:
        message = "the request body is larger than serving.maxRequestBody (" +
                  std::to_string(plan.max_request_body) + " bytes)";
        break;
      case 404: message = "no endpoint " + req.path; break;
      case 400: message = "malformed HTTP request"; break;
      default: message = "HTTP error " + std::to_string(code); break;
    }
    json_error(res, code, message);
    return HandlerResponse::Handled;
  }

  // --- helpers -----------------------------------------------------------------

  // The request id of a submission: the client's (validated) or a new UUIDv7. Also
  // set on the response. Empty (and *res answered 400) when the client's is invalid.
  std::string submission_id(const Request& req, Response& res) {
    const std::string& header = plan.msg_id_header;
    if (!req.has_header(header)) {
      std::string id = generate_request_id();
      res.set_header(header, id);
      return id;
    }
    std::string id = req.get_header_value(header);
    if (std::optional<std::string> why = validate_request_id(id)) {
      json_error(res, 400, *why + " (header " + header + ")");
      return {};
    }
    res.set_header(header, id);
    return id;
  }

  // Submits the request's body; null after answering an error.
  std::shared_ptr<PendingRequest> submit(const Request& req, Response& res) {
    std::string id = submission_id(req, res);
    if (id.empty()) return nullptr;
    store::NewRequest nr;
    nr.id = id;
    nr.body = req.body;
    nr.accepted_at = std::chrono::system_clock::now();
    nr.headers.reserve(req.headers.size());
    for (const auto& [name, value] : req.headers) {
      // The token never travels into the flow nor into the store.
      if (strcasecmp(name.c_str(), "Authorization") == 0) continue;
      // cpp-httplib's own additions, not the client's headers.
      if (name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" ||
          name == "LOCAL_PORT")
        continue;
      nr.headers.emplace_back(name, value);
    }
    std::shared_ptr<PendingRequest> pending;
    std::string error;
    switch (hub.submit(std::move(nr), &pending, &error)) {
      case RequestHub::Admission::kSubmitted:
        return pending;
      case RequestHub::Admission::kDuplicate:
        answer_duplicate(res, id);
        return nullptr;
      case RequestHub::Admission::kBusy:
        res.set_header("Retry-After", "1");
        json_error(res, 429, std::to_string(plan.max_in_flight) +
                                 " requests are in flight (serving.maxInFlight); retry later");
        return nullptr;
      case RequestHub::Admission::kStoreError:
        res.set_header("Retry-After", "1");
        json_error(res, 503, "the request store could not accept request " + id + ": " + error);
        return nullptr;
      case RequestHub::Admission::kStopping:
        res.set_header("Retry-After", "5");
        json_error(res, 503, "the server is stopping; retry against another instance or later");
        return nullptr;
    }
    return nullptr;
  }

  static void answer_duplicate(Response& res, const std::string& id) {
    json_error(res, 409, "request id " + id +
                             " is already in flight or stored; send a new id, or fetch it: "
                             "GET /v1/process/fetch?id=" + id);
  }

  // After the store answered for a submitted request: false (and *res answered 409 or
  // 503) when it refused it. Call with the request's mutex held.
  static bool accepted_or_answer(const PendingRequest& p, Response& res) {
    if (p.state == PendingRequest::State::kDuplicate) {
      answer_duplicate(res, p.id);
      return false;
    }
    if (p.state == PendingRequest::State::kStoreError) {
      res.set_header("Retry-After", "1");
      json_error(res, 503, "the request store could not accept request " + p.id + ": " + p.error);
      return false;
    }
    if (p.state == PendingRequest::State::kAbandoned) {
      res.set_header("Retry-After", "5");
      json_error(res, 503, "the server stopped before request " + p.id +
                               " completed; once stored, it is processed again when the flow "
                               "starts: GET /v1/process/fetch?id=" + p.id);
      return false;
    }
    return true;
  }

  // Submits and waits for the store's answer (async, sse); null after answering.
  std::shared_ptr<PendingRequest> submit_and_store(const Request& req, Response& res) {
    std::shared_ptr<PendingRequest> p = submit(req, res);
    if (!p) return nullptr;
    hub.wait_admitted(*p);
    std::lock_guard<std::mutex> lock(p->mutex);
    return accepted_or_answer(*p, res) ? p : nullptr;
  }

  // The id of fetch / sse / message: ?id=; empty after answering 400.
  std::string query_id(const Request& req, Response& res, const char* usage) {
    if (!req.has_param("id")) {
      json_error(res, 400, std::string("the request id is missing: ") + usage);
      return {};
    }
    std::string id = req.get_param_value("id");
    if (std::optional<std::string> why = validate_request_id(id)) {
      json_error(res, 400, *why + " (query parameter id)");
      return {};
    }
    return id;
  }

  // The request's state from memory or the store; nullopt after answering 404 / 503.
  std::optional<Snapshot> lookup(const std::string& id, Response& res,
                                 std::shared_ptr<PendingRequest>* live = nullptr) {
    if (std::shared_ptr<PendingRequest> p = hub.find_stored(id)) {
      if (live) *live = p;
      return snapshot_of(*p);
    }
    std::optional<store::RequestRecord> rec;
    try {
      rec = hub.store().get(id);
    } catch (const store::StoreError& e) {
      json_error(res, 503, std::string("the request store cannot be read: ") + e.what());
      return std::nullopt;
    }
    if (!rec) {
      json_error(res, 404, "no request with id " + id + " (never submitted, or expired)");
      return std::nullopt;
    }
    return snapshot_of(std::move(*rec));
  }

  // --- endpoints ------------------------------------------------------------------

  void sync(const Request& req, Response& res) {
    const Clock::time_point t0 = Clock::now();
    std::shared_ptr<PendingRequest> p = submit(req, res);
    if (!p) return;
    std::unique_lock<std::mutex> lock(p->mutex);
    // One wake-up: at the end (or a refusal by the store), not at the admission.
    p->changed.wait_until(lock, t0 + plan.request_timeout, [&] { return p->ended(); });
    if (!accepted_or_answer(*p, res)) {
      // Refused by the store, or abandoned at shutdown: answered (409 / 503).
    } else if (p->state == PendingRequest::State::kCompleted) {
      send_results(res, p->results);
    } else if (p->state == PendingRequest::State::kFailed) {
      json_error(res, 500, "request " + p->id + " failed: " + p->error);
    } else {
      json_error(res, 408, "request " + p->id + " did not complete within " +
                               std::to_string(plan.request_timeout.count()) +
                               " s (serving.requestTimeoutSeconds); it is still being processed: "
                               "GET /v1/process/fetch?id=" + p->id);
    }
    lock.unlock();
    sync_seconds.record(Clock::now() - t0);
  }

  void async(const Request& req, Response& res) {
    std::shared_ptr<PendingRequest> p = submit_and_store(req, res);
    if (!p) return;
    json body = {{"message", "Successfully published message"}, {"id", p->id}, {"code", 200},
                 {"timestamp", rfc3339(std::chrono::system_clock::now())}};
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  }

  void fetch(const Request& req, Response& res) {
    const std::string id = query_id(req, res, "GET /v1/process/fetch?id=<id>");
    if (id.empty()) return;
    std::optional<Snapshot> s = lookup(id, res);
    if (!s) return;
    res.set_header(plan.msg_id_header, id);
    switch (s->status) {
      case store::RequestStatus::kCompleted:
        send_results(res, s->results);
        return;
      case store::RequestStatus::kFailed:
        res.set_content(json({{"status", "failed"}, {"id", id}, {"error", s->error}})
                            .dump(-1, ' ', false, json::error_handler_t::replace),
                        "application/json");
        return;
      case store::RequestStatus::kInProgress:
        res.set_content(R"({"status":"in-progress"})", "application/json");
        return;
    }
  }

  void message(const Request& req, Response& res) {
    const std::string id = query_id(req, res, "GET /v1/process/message?id=<id>");
    if (id.empty()) return;
    std::optional<Snapshot> s = lookup(id, res);
    if (!s) return;
    json path = json::array();
    for (const store::Step& step : s->path)
      path.push_back({{"stage", step.stage}, {"start", epoch_ms(step.start)}, {"end", epoch_ms(step.end)},
                      {"duration_us", std::chrono::duration_cast<std::chrono::microseconds>(step.end - step.start).count()}});
    json results = json::array();
    for (const store::Result& r : s->results) results.push_back({{"stage", r.stage}, {"bytes", r.value.size()}});
    json body = {{"id", id},
                 {"status", status_word(s->status)},
                 {"accepted_at", rfc3339(s->accepted_at)},
                 {"path", std::move(path)},
                 {"results", std::move(results)}};
    if (s->finished_at) body["finished_at"] = rfc3339(*s->finished_at);
    if (!s->error.empty()) body["error"] = s->error;
    res.set_header(plan.msg_id_header, id);
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  }

  void side_input_list(Response& res) { send(res, host::side_input_list(side_inputs)); }

  void side_input_refresh(const Request& req, Response& res) {
    const std::string name = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    send(res, host::side_input_refresh(side_inputs, name));
  }

  static void send(Response& res, const host::HttpAnswer& a) {
    res.status = a.status;
    res.set_content(a.body, a.content_type);
  }

  void readyz(Response& res) {
    std::vector<std::string> waiting;
    if (side_input_registry && flow_ready.load())
      for (std::string& n : side_input_registry->missing())
        if (std::find(awaited_side_inputs.begin(), awaited_side_inputs.end(), n) != awaited_side_inputs.end())
          waiting.push_back(std::move(n));
    if (stopped.load() || hub.stopping())
      json_error(res, 503, "the server is stopping");
    else if (!flow_ready.load())
      json_error(res, 503, "the flow is starting (not every stage has started yet)");
    else if (!waiting.empty()) {
      std::string names;
      for (const std::string& n : waiting) names += (names.empty() ? "" : ", ") + n;
      json_error(res, 503, "waiting for the first value of side inputs: " + names);
    }
    else if (!hub.store().ready())
      json_error(res, 503, "the request store cannot take writes");
    else
      res.status = 204;
  }

  void sse_submit(const Request& req, Response& res) {
    std::shared_ptr<PendingRequest> p = submit_and_store(req, res);
    if (!p) return;
    stream(res, p, std::nullopt, 0);
  }

  void sse_get(const Request& req, Response& res) {
    if (!req.has_param("id")) {
      json_error(res, 400,
                 "the request id is missing: GET /v1/process/sse?id=<id> streams a request "
                 "submitted before; POST /v1/process/sse submits the body and streams it");
      return;
    }
    const std::string id = query_id(req, res, "GET /v1/process/sse?id=<id>");
    if (id.empty()) return;
    std::shared_ptr<PendingRequest> live;
    std::optional<Snapshot> s = lookup(id, res, &live);
    if (!s) return;
    res.set_header(plan.msg_id_header, id);
    // An EventSource reconnects after the stream ends, saying the last event it saw:
    // resume after it, and answer 204 (which stops the EventSource) when it saw the end.
    size_t from = 0;
    if (req.has_header("Last-Event-ID")) {
      const std::string last = req.get_header_value("Last-Event-ID");
      size_t n = 0;
      auto [ptr, ec] = std::from_chars(last.data(), last.data() + last.size(), n);
      if (ec == std::errc() && ptr == last.data() + last.size()) {
        const bool ended = s->status != store::RequestStatus::kInProgress || s->abandoned;
        if (ended && n >= s->results.size()) {
          res.status = 204;
          return;
        }
        from = n + 1;
      }
    }
    if (live)
      stream(res, live, std::nullopt, from);
    else
      stream(res, nullptr, std::move(s), from);
  }

  // Streams results from `from` on: live from a request in flight, or at once from a
  // finished snapshot; then the final `complete` event, whose id is the number of
  // results.
  void stream(Response& res, std::shared_ptr<PendingRequest> live, std::optional<Snapshot> done,
              size_t from) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");  // proxies: do not buffer the stream
    // While the stream lives (the provider below holds the guard), new results wake it.
    struct WatchGuard {
      std::shared_ptr<PendingRequest> request;
      explicit WatchGuard(std::shared_ptr<PendingRequest> r) : request(std::move(r)) {
        if (!request) return;
        std::lock_guard<std::mutex> lock(request->mutex);
        ++request->result_watchers;
      }
      ~WatchGuard() {
        if (!request) return;
        std::lock_guard<std::mutex> lock(request->mutex);
        --request->result_watchers;
      }
    };
    auto guard = std::make_shared<WatchGuard>(live);
    auto next = std::make_shared<size_t>(from);
    auto finished = std::make_shared<Snapshot>();
    if (done) *finished = std::move(*done);
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, live, guard, next, finished, is_done = done.has_value()](size_t, httplib::DataSink& sink) {
          std::string out;
          bool ended = is_done;
          if (live) {
            std::unique_lock<std::mutex> lock(live->mutex);
            // Woken by every new result and by the end; every 15 s a comment line keeps
            // proxies from closing an idle stream and finds clients that went away.
            live->changed.wait_for(lock, std::chrono::seconds(15), [&] {
              return live->results.size() > *next || live->ended() || stopped.load();
            });
            for (; *next < live->results.size(); ++*next)
              append_event(&out, std::to_string(*next), nullptr, live->results[*next].value);
            ended = live->ended() || stopped.load();
            if (ended) {
              finished->results.resize(live->results.size());
              finished->status = live->state == PendingRequest::State::kCompleted ? store::RequestStatus::kCompleted
                                 : live->state == PendingRequest::State::kFailed ? store::RequestStatus::kFailed
                                                                                 : store::RequestStatus::kInProgress;
              finished->abandoned = !live->finished();
              finished->error = live->error;
            }
          } else {
            for (; *next < finished->results.size(); ++*next)
              append_event(&out, std::to_string(*next), nullptr, finished->results[*next].value);
          }
          if (ended) {
            json end = {{"status", finished->abandoned ? "abandoned" : status_word(finished->status)},
                        {"results", finished->results.size()}};
            if (!finished->error.empty()) end["error"] = finished->error;
            append_event(&out, std::to_string(finished->results.size()), "complete",
                         end.dump(-1, ' ', false, json::error_handler_t::replace));
          }
          if (out.empty()) out = ": keep-alive\n\n";
          if (!sink.write(out.data(), out.size())) return false;
          if (ended) sink.done();
          return true;
        });
  }

  // --- metrics ------------------------------------------------------------------

  std::string serving_metrics() const {
    const std::string flow = "flow=\"" + metrics.flow() + "\"";
    std::string out;
    out += "# HELP sluice_serving_responses_total HTTP responses of the serving endpoints, by endpoint and status code.\n";
    out += "# TYPE sluice_serving_responses_total counter\n";
    for (size_t e = 0; e < kEndpointCount; ++e)
      for (size_t c = 0; c < kCodeCount; ++c) {
        const uint64_t n = responses[e][c].load(std::memory_order_relaxed);
        if (n == 0) continue;
        out += "sluice_serving_responses_total{" + flow + ",endpoint=\"" + kEndpointNames[e] +
               "\",code=\"" + (c < std::size(kCodes) ? std::to_string(kCodes[c]) : "other") + "\"} " +
               std::to_string(n) + "\n";
      }
    const HubStats h = hub.stats();
    auto line = [&](const char* name, const char* type, const char* help, uint64_t v) {
      out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name +
             "{" + flow + "} " + std::to_string(v) + "\n";
    };
    line("sluice_serving_in_flight", "gauge", "Requests admitted and not yet complete.", h.in_flight);
    line("sluice_serving_queued", "gauge", "Requests waiting for the serving source.", h.queued);
    line("sluice_serving_accepted_total", "counter", "Requests accepted (stored).", h.accepted);
    line("sluice_serving_completed_total", "counter", "Requests completed.", h.completed);
    line("sluice_serving_failed_total", "counter", "Requests whose processing failed.", h.failed);
    line("sluice_serving_duplicates_total", "counter", "Submissions refused as duplicates (409).", h.duplicates);
    line("sluice_serving_busy_total", "counter", "Submissions refused over maxInFlight (429).", h.rejected_busy);
    line("sluice_serving_store_errors_total", "counter", "Submissions the store could not accept (503).", h.store_errors);
    line("sluice_serving_recovered_total", "counter", "Unfinished requests queued again at start.", h.recovered);
    const store::StoreStats st = hub.store().stats();
    line("sluice_store_transactions_total", "counter", "Request store commits (group commits).", st.transactions);
    line("sluice_store_lost_writes_total", "counter", "Queued store writes whose commit failed.", st.lost_writes);
    line("sluice_store_ready", "gauge", "1 while the request store can take writes.", hub.store().ready() ? 1 : 0);
    const host::LatencyHistogram::Snapshot s = sync_seconds.snapshot();
    out += "# HELP sluice_serving_sync_seconds Time from a /sync request's arrival to its answer.\n";
    out += "# TYPE sluice_serving_sync_seconds histogram\n";
    for (size_t i = 0; i < host::LatencyHistogram::kBuckets; ++i) {
      char le[32];
      std::snprintf(le, sizeof le, "%g", host::LatencyHistogram::bound_seconds(i));
      out += "sluice_serving_sync_seconds_bucket{" + flow + ",le=\"" + le + "\"} " +
             std::to_string(s.cumulative[i]) + "\n";
    }
    out += "sluice_serving_sync_seconds_bucket{" + flow + ",le=\"+Inf\"} " + std::to_string(s.count) + "\n";
    out += "sluice_serving_sync_seconds_sum{" + flow + "} " + std::to_string(s.sum_seconds) + "\n";
    out += "sluice_serving_sync_seconds_count{" + flow + "} " + std::to_string(s.count) + "\n";
    return out;
  }

  // --- TLS ----------------------------------------------------------------------

  // Sets up the HTTPS server's SSL_CTX; false with *error naming the file and reason.
  bool setup_tls(SSL_CTX& ctx, std::string* error) {
    SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
    auto openssl_reason = [] {
      char buf[256] = "unknown reason";
      if (unsigned long e = ERR_get_error(); e != 0) ERR_error_string_n(e, buf, sizeof buf);
      ERR_clear_error();
      return std::string(buf);
    };
    if (plan.tls == host::TlsMode::kFiles) {
      if (SSL_CTX_use_certificate_chain_file(&ctx, plan.tls_cert.c_str()) != 1) {
        *error = "serving.tls.cert " + plan.tls_cert.string() + ": not a usable PEM certificate: " + openssl_reason();
        return false;
      }
      if (SSL_CTX_use_PrivateKey_file(&ctx, plan.tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
        *error = "serving.tls.key " + plan.tls_key.string() + ": not a usable PEM private key: " + openssl_reason();
        return false;
      }
    } else {
      std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
      if (plan.https && plan.https->host != "0.0.0.0" && plan.https->host != "::" &&
          plan.https->host != "localhost" && plan.https->host != "127.0.0.1" && plan.https->host != "::1")
        names.insert(names.begin(), plan.https->host);
      PemPair pem;
      try {
        pem = make_self_signed_certificate(names);
      } catch (const std::exception& e) {
        *error = e.what();
        return false;
      }
      BIO* cb = BIO_new_mem_buf(pem.certificate.data(), static_cast<int>(pem.certificate.size()));
      X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
      BIO_free(cb);
      BIO* kb = BIO_new_mem_buf(pem.private_key.data(), static_cast<int>(pem.private_key.size()));
      EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
      BIO_free(kb);
      const bool ok = cert && key && SSL_CTX_use_certificate(&ctx, cert) == 1 &&
                      SSL_CTX_use_PrivateKey(&ctx, key) == 1;
      X509_free(cert);
      EVP_PKEY_free(key);
      if (!ok) {
        *error = "cannot use the self-signed certificate: " + openssl_reason();
        return false;
      }
    }
    if (SSL_CTX_check_private_key(&ctx) != 1) {
      *error = plan.tls == host::TlsMode::kFiles
                   ? "serving.tls: the key " + plan.tls_key.string() + " does not match the certificate " +
                         plan.tls_cert.string()
                   : "serving.tls: the self-signed key does not match its certificate";
      return false;
    }
    return true;
  }

  // Binds one listener; -1 with *error when it cannot.
  int bind(httplib::Server& srv, const host::ListenAddress& a, const char* key, std::string* error) {
    const int port = a.port == 0 ? srv.bind_to_any_port(a.host) : (srv.bind_to_port(a.host, a.port) ? a.port : -1);
    if (port < 0)
      *error = std::string("serving.") + key + " " + a.text() +
               ": cannot listen there (the port is in use, or the host is not an address of this "
               "machine); choose another port or stop what holds it";
    else
      raise_listen_backlog(static_cast<uint16_t>(port));  // httplib's is 5 (listen_backlog.h)
    return port;
  }
};

ServingServer::ServingServer(const host::ServingPlan& plan, std::vector<std::string> tokens,
                             RequestHub& hub, const host::FlowMetrics& metrics)
    : impl_(std::make_unique<Impl>(plan, std::move(tokens), hub, metrics)) {}

ServingServer::~ServingServer() { stop(); }

bool ServingServer::start(std::string* error) {
  Impl& m = *impl_;
  if (m.plan.https) {
    std::string tls_error;
    auto srv = std::make_unique<httplib::SSLServer>(
        [&](SSL_CTX& ctx) { return m.setup_tls(ctx, &tls_error); });
    if (!srv->is_valid()) {
      *error = tls_error.empty() ? "serving.tls: cannot set up TLS" : tls_error;
      return false;
    }
    m.configure(*srv);
    m.https_port = m.bind(*srv, *m.plan.https, "https", error);
    if (m.https_port < 0) return false;
    m.https = std::move(srv);
  }
  if (m.plan.http) {
    auto srv = std::make_unique<httplib::Server>();
    m.configure(*srv);
    m.http_port = m.bind(*srv, *m.plan.http, "http", error);
    if (m.http_port < 0) {
      stop();
      return false;
    }
    m.http = std::move(srv);
  }
  if (m.https) m.https_thread = std::thread([&m] { m.https->listen_after_bind(); });
  if (m.http) m.http_thread = std::thread([&m] { m.http->listen_after_bind(); });
  // httplib's stop() does nothing until its listen loop runs: wait for it, so that a
  // stop() right after start() (a flow that fails at once) cannot hang the join.
  const Clock::time_point give_up = Clock::now() + std::chrono::seconds(5);
  for (httplib::Server* srv : {m.https.get(), m.http.get()})
    while (srv != nullptr && !srv->is_running() && Clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::microseconds(100));
  return true;
}

int ServingServer::http_port() const { return impl_->http_port; }
int ServingServer::https_port() const { return impl_->https_port; }
void ServingServer::set_flow_ready(bool ready) { impl_->flow_ready.store(ready); }
void ServingServer::set_side_inputs(host::SideInputManager* manager,
                                    const host::SideInputRegistry* registry,
                                    std::vector<std::string> awaited) {
  impl_->side_inputs = manager;
  impl_->side_input_registry = registry;
  impl_->awaited_side_inputs = std::move(awaited);
}

void ServingServer::stop() {
  Impl& m = *impl_;
  m.stopped.store(true);
  if (m.http) m.http->stop();
  if (m.https) m.https->stop();
  if (m.http_thread.joinable()) m.http_thread.join();
  if (m.https_thread.joinable()) m.https_thread.join();
}

}  // namespace sluice::serving
