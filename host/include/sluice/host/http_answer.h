// What an HTTP endpoint answers, without cpp-httplib: a status, a body and its type.
// The serving listener (serving/serving_server.cc) and the --metrics-addr listener
// (metrics_server.cc) both turn these into responses, so an endpoint they share (the
// side-input endpoints, side_input_http.h) is written once and answers the same on both.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace sluice::host {

struct HttpAnswer {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

// The JSON error body every Sluice endpoint uses (Numaflow's shape):
// {"message": ..., "code": status, "timestamp": RFC 3339 UTC}.
HttpAnswer http_error(int status, std::string_view message);

// "2026-11-21T09:30:00.123Z": UTC, millisecond precision.
std::string rfc3339(std::chrono::system_clock::time_point t);

}  // namespace sluice::host
