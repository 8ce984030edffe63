#include "sluice/host/metrics_server.h"

#include <httplib.h>

#include <thread>

#include "sluice/host/side_input_http.h"

namespace sluice::host {

namespace {

void send(httplib::Response& res, const HttpAnswer& a) {
  res.status = a.status;
  res.set_content(a.body, a.content_type);
}

}  // namespace

struct MetricsServer::Impl {
  MetricsServerOptions options;
  httplib::Server server;
  std::thread thread;
  int port = 0;
};

MetricsServer::MetricsServer() : impl_(std::make_unique<Impl>()) {}

MetricsServer::~MetricsServer() {
  if (impl_->thread.joinable()) {
    impl_->server.stop();
    impl_->thread.join();
  }
}

bool MetricsServer::start(const std::string& address, const FlowMetrics& metrics,
                          MetricsServerOptions options, std::string* error) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    *error = "--metrics-addr \"" + address + "\": expected HOST:PORT, e.g. 127.0.0.1:9090";
    return false;
  }
  std::string host = address.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(address.substr(colon + 1), &used);
    if (used != address.size() - colon - 1 || port < 0 || port > 65535) throw std::out_of_range("");
  } catch (const std::exception&) {
    *error = "--metrics-addr \"" + address + "\": the port must be a number from 0 to 65535";
    return false;
  }
  impl_->server.set_tcp_nodelay(true);
  impl_->server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  impl_->options = std::move(options);
  SideInputManager* side_inputs = impl_->options.side_inputs;
  impl_->server.Get("/metrics", [&metrics, side_inputs](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.prometheus() + side_input_prometheus(side_inputs),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  // The side-input endpoints answer as on the serving listener, behind the same tokens.
  auto authorized = [this](const httplib::Request& req, httplib::Response& res) {
    if (!impl_->options.authorize) return true;
    const std::string why = impl_->options.authorize(req.get_header_value("Authorization"));
    if (why.empty()) return true;
    res.set_header("WWW-Authenticate", "Bearer realm=\"sluice\"");
    send(res, http_error(401, why));
    return false;
  };
  impl_->server.Get("/v1/side-inputs", [side_inputs, authorized](const httplib::Request& req,
                                                                 httplib::Response& res) {
    if (authorized(req, res)) send(res, side_input_list(side_inputs));
  });
  impl_->server.Post(R"(/v1/side-inputs/([^/]+)/refresh)",
                     [side_inputs, authorized](const httplib::Request& req, httplib::Response& res) {
                       if (authorized(req, res)) send(res, side_input_refresh(side_inputs, std::string(req.matches[1])));
                     });
  impl_->server.Get("/livez", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  // A POST without Content-Length (curl -X POST) has no body; cpp-httplib would read
  // until the connection closes, then answer 400. The refresh endpoint takes no body:
  // answer it before the body is read.
  impl_->server.set_pre_routing_handler([side_inputs, authorized](const httplib::Request& req,
                                                                  httplib::Response& res) {
    constexpr std::string_view kPrefix = "/v1/side-inputs/", kSuffix = "/refresh";
    if (req.method != "POST" || req.has_header("Content-Length") || req.has_header("Transfer-Encoding") ||
        req.path.size() <= kPrefix.size() + kSuffix.size() || req.path.compare(0, kPrefix.size(), kPrefix) != 0 ||
        req.path.compare(req.path.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
      return httplib::Server::HandlerResponse::Unhandled;
    const std::string name = req.path.substr(kPrefix.size(), req.path.size() - kPrefix.size() - kSuffix.size());
    if (name.find('/') != std::string::npos) return httplib::Server::HandlerResponse::Unhandled;
    if (authorized(req, res)) send(res, side_input_refresh(side_inputs, name));
    return httplib::Server::HandlerResponse::Handled;
  });
  const int bound = port == 0 ? impl_->server.bind_to_any_port(host)
                              : (impl_->server.bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    *error = "--metrics-addr \"" + address + "\": cannot listen there (in use, or not a local address)";
    return false;
  }
  impl_->port = bound;
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  return true;
}

int MetricsServer::port() const { return impl_->port; }

}  // namespace sluice::host
