// A cpp-httplib server on 127.0.0.1 (an ephemeral port) for tests of HTTP clients such
// as the `http` side-input retriever; HTTPS when given a certificate and key file. Every GET goes to `answer`, which the test may
// swap at any time; the headers of every request are recorded, so a test can assert
// what reached the server (If-None-Match, Authorization).
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sluice::test {

class LocalHttpServer {
 public:
  using Answer = std::function<void(const httplib::Request&, httplib::Response&)>;

  // Plain HTTP; or HTTPS with the PEM files `cert` and `key`.
  explicit LocalHttpServer(const std::string& cert = "", const std::string& key = "")
      : scheme_(cert.empty() ? "http" : "https") {
    if (cert.empty()) server_ = std::make_unique<httplib::Server>();
    else server_ = std::make_unique<httplib::SSLServer>(cert.c_str(), key.c_str());
    if (!server_->is_valid()) throw std::runtime_error("cannot set up the server (certificate?)");
    server_->Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
      Answer answer;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        requests_.push_back(req.headers);
        paths_.push_back(req.path);
        answer = answer_;
      }
      if (answer) answer(req, res);
      else res.status = 404;
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("cannot bind 127.0.0.1");
    // 0.11.4 has no wait_until_ready(): bound first, so requests queue until it listens.
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // A stop() before the accept loop has started is lost (the loop would then run for
    // ever): wait until it runs.
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~LocalHttpServer() {
    server_->stop();
    thread_.join();
  }
  LocalHttpServer(const LocalHttpServer&) = delete;
  LocalHttpServer& operator=(const LocalHttpServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return scheme_ + "://127.0.0.1:" + std::to_string(port_) + path;
  }

  void set_answer(Answer a) {
    std::lock_guard<std::mutex> lock(mutex_);
    answer_ = std::move(a);
  }
  // A fixed answer: status, body, and extra response headers.
  void set_answer(int status, std::string body, httplib::Headers headers = {}) {
    set_answer([=](const httplib::Request&, httplib::Response& res) {
      res.status = status;
      for (const auto& [k, v] : headers) res.set_header(k, v);
      if (!body.empty()) res.set_content(body, "text/plain");
    });
  }

  size_t request_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_.size();
  }
  // The value of `name` in the request number `i` (0-based), "" when absent.
  std::string request_header(size_t i, const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (i >= requests_.size()) return "";
    auto it = requests_[i].find(name);
    return it == requests_[i].end() ? "" : it->second;
  }
  // The same, in the newest request.
  std::string last_header(const std::string& name) const {
    const size_t n = request_count();
    return n == 0 ? "" : request_header(n - 1, name);
  }
  std::string path(size_t i) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return i < paths_.size() ? paths_[i] : "";
  }

 private:
  std::string scheme_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = -1;
  std::thread thread_;
  mutable std::mutex mutex_;
  Answer answer_;
  std::vector<httplib::Headers> requests_;
  std::vector<std::string> paths_;
};

}  // namespace sluice::test
