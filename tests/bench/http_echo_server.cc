// The serving benchmark's baseline: a bare cpp-httplib server with exactly the settings
// the serving layer uses (a pool of --threads connection threads, TCP_NODELAY, long
// keep-alive, the raised listen backlog), answering POST /v1/process/sync with the request body. What sluice
// serving adds on top of this (ids, the store, the flow, the framing) is the difference.
//
//   http_echo_server [--threads N] [--port P]
// Prints "listening on http://127.0.0.1:PORT" to stderr once bound; runs until killed.
#include <httplib.h>

#include "sluice/serving/listen_backlog.h"

#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  int threads = 128, port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::stoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--port") == 0) port = std::stoi(argv[i + 1]);
  }
  httplib::Server srv;
  srv.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  srv.set_tcp_nodelay(true);
  srv.set_keep_alive_max_count(1'000'000);
  srv.set_payload_max_length(1 << 20);
  srv.Post("/v1/process/sync", [](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Numaflow-Id", "echo");
    res.set_content(req.body, "application/octet-stream");
  });
  const int bound = port == 0 ? srv.bind_to_any_port("127.0.0.1") : (srv.bind_to_port("127.0.0.1", port) ? port : -1);
  if (bound < 0) {
    std::fprintf(stderr, "http_echo_server: cannot bind 127.0.0.1:%d\n", port);
    return 1;
  }
  sluice::serving::raise_listen_backlog(static_cast<uint16_t>(bound));  // as serving does
  std::fprintf(stderr, "listening on http://127.0.0.1:%d\n", bound);
  std::fflush(stderr);
  srv.listen_after_bind();
  return 0;
}
