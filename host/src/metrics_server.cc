#include "sluice/host/metrics_server.h"

#include <httplib.h>

#include <thread>

namespace sluice::host {

struct MetricsServer::Impl {
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
                          std::string* error) {
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
  impl_->server.Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.prometheus(), "text/plain; version=0.0.4; charset=utf-8");
  });
  impl_->server.Get("/livez", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
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
