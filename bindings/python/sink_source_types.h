// The C++ side of the `sluice` module's sink classes (module_sink_source.cc binds them):
//   ResponseOut   Python's `Response`: a sink's verdict on one datum, by its id;
//   ResponsesOut  Python's `Responses`: an ordered list of Response (numaflow's container).
// The source classes (Sourcer, ReadRequest, AckRequest, Offset, PendingResponse, END) and
// Sinker/Datums are plain Python, defined in module_sink_source.cc.
#pragma once

#include <string>
#include <vector>

namespace sluice::python {

struct ResponseOut {
  enum class Kind { kSuccess, kFailure, kFallback, kRetry, kServe };
  std::string id;      // the datum's id (Datum.id)
  Kind kind = Kind::kSuccess;
  std::string reason;  // kFailure: err_msg; kRetry: the reason
  std::string value;   // kServe: the result for the request
};

struct ResponsesOut {
  std::vector<ResponseOut> items;
};

}  // namespace sluice::python
