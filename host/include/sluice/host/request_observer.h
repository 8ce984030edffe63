// What the flow engine tells the serving layer about the messages it processes, so that
// HTTP requests get their results, their path and their failures.
//
// A message's id is the id its source gave it (sluice_message.id), shared by every
// message derived from it; the serving source gives each request's message the request
// id. The engine does not know which ids are requests: it reports every message of a
// flow that has an observer, and the observer ignores ids it does not track. A flow
// without an observer (no `serving:`) pays nothing for this.
//
// Completion is not reported here: a request is complete when its lineage reaches zero,
// which the serving source learns through the ABI's ack, like any acknowledging source.
//
// Thread-safety: every member is called from worker threads, several at once. Calls must
// not throw and should be quick (they run on the hot path of a serving flow).
#pragma once

#include <chrono>
#include <cstddef>
#include <string_view>

namespace sluice::host {

class RequestObserver {
 public:
  using Time = std::chrono::system_clock::time_point;
  virtual ~RequestObserver() = default;

  // Sink `stage` answered message `id` with `value` (the ABI's respond, the "serve"
  // outcome). Reported once the sink's call succeeded for that message, in the order the
  // sink responded; a call that failed or a message retried reports nothing for that
  // attempt.
  virtual void on_result(std::string_view id, std::string_view stage, std::string_view value) = 0;

  // Stage `stage` processed messages ids[0..count) in one call from `start` to `end`
  // (the request's path). Reported for every call, failed attempts included.
  virtual void on_step(std::string_view stage, const std::string_view* ids, size_t count,
                       Time start, Time end) = 0;

  // Message `id` ended in an error at `stage` (retries exhausted, then dropped, sent to
  // the fallback sink, or failing the flow); `error` says why.
  virtual void on_failure(std::string_view id, std::string_view stage, std::string_view error) = 0;
};

}  // namespace sluice::host
