// `sluice run FLOW`: checks the flow like `check`, then runs it until it completes (a
// job, or a stream whose sources all ended), fails, or is stopped by SIGTERM/SIGINT.
//
// Signals: the first SIGTERM/SIGINT stops the sources and drains within the flow's
// gracePeriod; a second one abandons what is queued. Either way, what did not drain is
// reported per stage and the exit code is 4. Signals are taken by a dedicated thread
// (sigwait), so no plugin thread is ever interrupted by a handler.
//
// Output: data only ever goes to stdout through sink plugins; this command writes to
// stderr: the live progress line (a job on a terminal), and the summary table at exit.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>

#include "commands.h"
#include "exit_codes.h"
#include "flow_setup.h"
#include "sluice/host/flow_runtime.h"
#include "sluice/host/log.h"
#include "sluice/host/metrics_server.h"
#include "serving_setup.h"
#include "side_input_setup.h"
#include "sluice/serving/tokens.h"

namespace sluice::cli {
namespace {

using namespace std::chrono;

struct RunOptions {
  FlowOptions flow;
  std::string metrics_addr;
  std::string progress = "auto";
  bool summary = true;
  bool flush_windows = false;
};

std::string human(double v) {
  char buf[32];
  if (v >= 1e9)
    std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  else if (v >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e4)
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

// The count that best says how far a stage got: what a source produced (once per
// message, however many edges it went over), what the others took in.
uint64_t progress_count(const host::StageMetrics& s) {
  return s.kind == std::string("source") ? host::read(s.produced) : host::read(s.in);
}

class ProgressLine {
 public:
  explicit ProgressLine(host::FlowRuntime& rt) : rt_(rt) {}
  void tick() {
    const double secs = duration<double>(rt_.elapsed()).count();
    std::string line;
    uint64_t first = 0;
    bool have_first = false;
    for (const auto& s : rt_.metrics().stages()) {
      const uint64_t n = progress_count(*s);
      if (!have_first) {
        first = n;
        have_first = true;
      }
      line += (line.empty() ? "" : " | ") + s->stage + " " + human(static_cast<double>(n));
    }
    const double rate = secs > 0 ? static_cast<double>(first - last_first_) / (secs - last_secs_) : 0;
    last_first_ = first;
    last_secs_ = secs;
    char tail[64];
    std::snprintf(tail, sizeof tail, " | %s msg/s | %.1fs", human(rate).c_str(), secs);
    line += tail;
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  void clear() {
    if (shown_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  host::FlowRuntime& rt_;
  uint64_t last_first_ = 0;
  double last_secs_ = 0;
  bool shown_ = false;
};

// `secs`: the flow's time, read when it ended (the signal thread's join after it can
// take up to its 100 ms poll, which is not the flow's).
void print_summary(host::FlowRuntime& rt, const host::FlowPlan& plan, double secs) {
  struct Row {
    std::string cells[8];
  };
  std::vector<Row> rows{{{"STAGE", "KIND", "IN", "OUT", "DROPPED", "FAILED", "RETRIED", "ACKED"}}};
  for (const auto& s : rt.metrics().stages()) {
    const bool source = s->kind == std::string("source");
    rows.push_back({{s->stage, s->kind, source ? "-" : std::to_string(host::read(s->in)),
                     s->kind == std::string("sink") ? "-" : std::to_string(host::read(s->out)),
                     std::to_string(host::read(s->dropped)), std::to_string(host::read(s->failed)),
                     std::to_string(host::read(s->retried)),
                     source ? std::to_string(host::read(s->acked)) : "-"}});
  }
  size_t w[8] = {};
  for (const Row& r : rows)
    for (int c = 0; c < 8; ++c) w[c] = std::max(w[c], r.cells[c].size());
  std::string out;
  for (const Row& r : rows) {
    for (int c = 0; c < 8; ++c) {
      const std::string& cell = r.cells[c];
      // Names left-aligned, numbers right-aligned.
      if (c < 2)
        out += cell + std::string(w[c] - cell.size() + 2, ' ');
      else
        out += std::string(w[c] - cell.size(), ' ') + cell + (c == 7 ? "" : "  ");
    }
    out += '\n';
  }
  uint64_t produced = 0;
  for (const auto& s : rt.metrics().stages())
    if (s->kind == std::string("source")) produced += host::read(s->produced);
  char tail[160];
  std::snprintf(tail, sizeof tail, "flow \"%s\": %.3f s, %s messages from sources (%s msg/s)\n",
                plan.name.c_str(), secs, std::to_string(produced).c_str(),
                human(secs > 0 ? static_cast<double>(produced) / secs : 0).c_str());
  std::cerr << out << tail;
}

// Takes SIGINT/SIGTERM on its own thread for the life of the run.
class SignalWatcher {
 public:
  // `on_stop` (optional) runs on the first signal, before the flow is asked to stop
  // (the serving layer stops admitting requests there).
  SignalWatcher(host::FlowRuntime& rt, std::chrono::milliseconds grace,
                std::function<void()> on_stop = {})
      : rt_(rt), grace_(grace), on_stop_(std::move(on_stop)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~SignalWatcher() { stop(); }
  // Stops watching (once the flow has ended: a late signal must not touch its result).
  void stop() {
    done_ = true;
    if (thread_.joinable()) {
      // Wakes the watcher's sigtimedwait now rather than at its next poll (the exit of
      // every run would otherwise wait up to 100 ms); it sees done_ and ignores it.
      pthread_kill(thread_.native_handle(), SIGTERM);
      thread_.join();
    }
  }
  bool signalled() const { return count_ > 0; }

 private:
  void loop() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    const timespec poll{0, 100'000'000};
    while (!done_) {
      siginfo_t info;
      const int sig = sigtimedwait(&set, &info, &poll);
      if (sig < 0 || done_) continue;
      const char* name = sig == SIGINT ? "SIGINT" : "SIGTERM";
      if (++count_ == 1) {
        host::log(host::LogLevel::kInfo, "run",
                  std::string(name) + ": stopping sources and draining (grace period " +
                      std::to_string(grace_.count()) + " ms); send it again to stop at once");
        if (on_stop_) on_stop_();
        rt_.request_stop();
      } else {
        host::log(host::LogLevel::kWarn, "run",
                  std::string(name) + " again: abandoning queued messages");
        rt_.force_stop();  // FlowRuntime::wait bounds how long the workers may take
      }
    }
  }

  host::FlowRuntime& rt_;
  std::chrono::milliseconds grace_;
  std::function<void()> on_stop_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  std::atomic<int> count_{0};
};

int run(const RunOptions& options) {
  // Block the stop signals before any thread exists, so every thread inherits the mask
  // and only the watcher receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  std::optional<PreparedFlow> flow = prepare_flow(options.flow, /*bind=*/true);
  if (!flow) return kExitUsage;
  flow->plan.flush_windows_on_stop = options.flush_windows;

  // A serving flow: the store, the hub and the HTTP server outlive the runtime (which
  // reports to the hub), and the server is stopped before the hub goes.
  std::unique_ptr<ServingSetup> serving;
  if (flow->plan.serving) {
    serving = open_serving(*flow->plan.serving);
    if (!serving) return kExitUsage;
  }

  // Side inputs: the stored values are published before any stage starts, and the
  // retrievers outlive the runtime's threads (they are stopped after it).
  std::unique_ptr<SideInputSetup> side_inputs;
  if (!flow->plan.side_inputs.empty()) {
    side_inputs = open_side_inputs(flow->plan);
    if (!side_inputs) return kExitUsage;
  }

  int code = kExitOk;
  {
    host::FlowRuntime runtime(flow->plan);
    if (serving) runtime.set_request_observer(serving->hub.get());
    if (side_inputs) {
      runtime.set_side_inputs(side_inputs->registry.get());
      if (serving) {
        serving->side_inputs = side_inputs->manager.get();
        serving->side_input_registry = side_inputs->registry.get();
        for (const host::StagePlan& st : flow->plan.stages)
          for (const std::string& n : st.side_inputs)
            if (std::find(serving->side_inputs_read.begin(), serving->side_inputs_read.end(), n) ==
                serving->side_inputs_read.end())
              serving->side_inputs_read.push_back(n);
      }
      side_inputs->manager->start();
    }
    host::MetricsServer metrics_server;
    if (!options.metrics_addr.empty()) {
      std::string error;
      host::MetricsServerOptions metrics_options;
      if (side_inputs) metrics_options.side_inputs = side_inputs->manager.get();
      if (serving && !serving->tokens.empty())
        // The side-input endpoints take the serving endpoints' tokens on this listener too.
        metrics_options.authorize = [tokens = serving->tokens](std::string_view authorization) {
          const std::string_view token = serving::bearer_token(authorization);
          if (token.empty()) return std::string("this endpoint needs a token: send Authorization: Bearer <token>");
          return serving::token_matches(token, tokens) ? std::string() : std::string("the bearer token is not valid");
        };
      if (!metrics_server.start(options.metrics_addr, runtime.metrics(), std::move(metrics_options), &error)) {
        std::cerr << "sluice: error: " << error << "\n";
        return kExitUsage;
      }
      host::log(host::LogLevel::kInfo, "run",
                "metrics at http://" + options.metrics_addr.substr(0, options.metrics_addr.rfind(':')) +
                    ":" + std::to_string(metrics_server.port()) + "/metrics");
    }
    SignalWatcher signals(runtime, flow->plan.grace_period, [&serving] {
      if (serving) serving->hub->stop_admitting();
    });
    if (serving && !serving->start_listening(runtime.metrics())) return kExitUsage;
    const bool show_progress =
        options.progress == "always" ||
        (options.progress == "auto" && flow->plan.mode == host::FlowMode::kJob &&
         isatty(STDERR_FILENO) && host::log_level() <= host::LogLevel::kInfo);
    ProgressLine progress(runtime);

    if (runtime.start()) {
      if (serving) serving->server->set_flow_ready(true);
      runtime.wait(show_progress ? std::function<void()>([&] { progress.tick(); })
                                 : std::function<void()>());
    }
    if (serving) serving->shut_down();
    if (side_inputs) {
      side_inputs->manager->stop();
      if (side_inputs->manager->stuck()) {
        // A retriever is still inside its plugin call: never unload its library.
        std::cerr << "sluice: error: exiting while a side-input retriever's call is still running\n";
        std::fflush(stderr);
        std::fflush(stdout);
        std::_Exit(kExitUndrained);
      }
    }
    const double flow_secs = duration<double>(runtime.elapsed()).count();
    signals.stop();
    progress.clear();
    const host::FlowResult& r = runtime.result();
    if (options.summary && host::log_level() <= host::LogLevel::kInfo)
      print_summary(runtime, flow->plan, flow_secs);
    switch (r.outcome) {
      case host::FlowResult::Outcome::kCompleted:
        code = kExitOk;
        break;
      case host::FlowResult::Outcome::kConfigError:
        // The error already reads "<stage>: <type> (<file>): <why>".
        std::cerr << "sluice: error: a stage could not start: " << r.error << "\n";
        code = kExitUsage;
        break;
      case host::FlowResult::Outcome::kFailed:
        std::cerr << "sluice: error: stage \"" << r.failed_stage << "\" failed: " << r.error << "\n";
        code = kExitFailed;
        break;
      case host::FlowResult::Outcome::kUndrained: {
        std::cerr << "sluice: error: stopped before the flow drained; messages not finished:\n";
        for (const auto& l : r.leftovers) {
          std::cerr << "  " << l.stage << ": " << l.queued << " queued, " << l.in_progress
                    << " in progress";
          if (l.unacked) std::cerr << ", " << l.unacked << " not acknowledged (a replaying source re-reads them)";
          std::cerr << "\n";
        }
        code = kExitUndrained;
        break;
      }
    }
    if (runtime.stuck()) {
      // A worker is still inside a plugin call: unloading its library under it would
      // crash. Leave without destructors; the exit code says what happened.
      std::cerr << "sluice: error: exiting while a plugin call is still running\n";
      // That call's thread may still report to the request hub: keep it alive.
      (void)serving.release();
      std::fflush(stderr);
      std::fflush(stdout);
      std::_Exit(code == kExitOk ? kExitUndrained : code);
    }
  }  // every thread joined, every instance destroyed; then the libraries go with `flow`
  return code;
}

}  // namespace

Command add_run_command(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "run a flow until it completes or is stopped");
  options->flow.add_to(cmd, /*with_plugins=*/true);
  cmd->add_option("--metrics-addr", options->metrics_addr,
                  "serve Prometheus metrics at http://HOST:PORT/metrics")
      ->type_name("HOST:PORT");
  cmd->add_option("--progress", options->progress,
                  "live progress line on stderr: auto (a job on a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  cmd->add_flag("!--no-summary", options->summary, "do not print the summary table at exit");
  cmd->add_flag("--flush-windows", options->flush_windows,
                "at a stop, close reduce stages' open windows and emit their results (default: "
                "let them go unacknowledged, for a replaying source to read again)");
  return {cmd, [options] { return run(*options); }};
}

}  // namespace sluice::cli
