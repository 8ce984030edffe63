#include "sluice/host/side_input_plan.h"

#include <algorithm>
#include <set>

namespace sluice::host {
namespace {

std::chrono::milliseconds to_ms(const google::protobuf::Duration& d) {
  return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1'000'000);
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

bool plan_side_inputs(const LoadedFlow& flow, std::vector<SideInputPlan>* out,
                      std::vector<std::vector<std::string>>* stage_side_inputs,
                      Diagnostics* diagnostics) {
  const size_t errors_before = diagnostics->size();
  auto error = [&](const std::string& path, std::string message, std::string hint = {}) {
    diagnostics->add(flow.where(path), std::move(message), std::move(hint));
  };
  const flow::Flow& f = flow.spec;
  std::set<std::string, std::less<>> names;
  for (int i = 0; i < f.side_inputs_size(); ++i) {
    const flow::SideInput& s = f.side_inputs(i);
    SideInputPlan p;
    p.path = "sideInputs[" + std::to_string(i) + "]";
    p.name = s.name();
    if (s.name().empty())
      error(p.path, "side input " + std::to_string(i + 1) + " has no name", "add name: <name>");
    else if (!valid_name(s.name()))
      error(p.path + ".name", "side input name \"" + s.name() + "\" is not valid",
            "use 1-128 letters, digits, '-', '_' or '.'");
    else if (!names.insert(s.name()).second)
      error(p.path + ".name", "side input name \"" + s.name() + "\" is used twice");
    p.type_name = s.retriever();
    if (p.type_name.empty())
      error(p.path, "side input \"" + s.name() + "\" names no retriever",
            "add retriever: <type> (file, http, or a plugin type with the side-input kind)");
    if (s.has_config()) p.config_json = s.config().json();

    const flow::SideInputTrigger& t = s.trigger();
    const bool has_schedule = !t.schedule().empty();
    const bool has_interval = t.has_interval();
    if (has_schedule && has_interval) {
      error(p.path + ".trigger", "trigger has both schedule and interval", "keep one of them");
    } else if (has_schedule) {
      std::string why;
      p.trigger = Schedule::cron(t.schedule(), t.timezone(), &why);
      if (!p.trigger)
        error(p.path + ".trigger.schedule", "side input \"" + s.name() + "\": " + why,
              "see docs/schedules.md");
    } else if (has_interval) {
      std::string why;
      p.trigger = Schedule::interval(to_ms(t.interval()), &why);
      if (!p.trigger)
        error(p.path + ".trigger.interval", "side input \"" + s.name() + "\": " + why,
              "write a duration of at least 1ms, e.g. interval: 30s");
    }
    if (!t.timezone().empty() && !has_schedule)
      error(p.path + ".trigger.timezone", "timezone is set but there is no schedule",
            "add schedule: <cron>, or remove timezone");

    if (s.has_timeout()) {
      p.timeout = to_ms(s.timeout());
      if (p.timeout.count() <= 0)
        error(p.path + ".timeout", "timeout must be at least 1ms", "e.g. timeout: 30s");
    }
    if (s.has_retry()) {
      const flow::Retry& r = s.retry();
      if (r.has_attempts())
        error(p.path + ".retry.attempts",
              "a side input retries until it succeeds; attempts does not apply",
              "remove attempts; set initialInterval, factor and cap");
      if (r.has_initial_interval()) p.retry_initial = to_ms(r.initial_interval());
      if (r.has_factor()) p.retry_factor = r.factor();
      if (r.has_cap()) p.retry_cap = to_ms(r.cap());
      if (p.retry_initial.count() <= 0)
        error(p.path + ".retry.initialInterval", "initialInterval must be at least 1ms");
      if (!(p.retry_factor >= 1.0 && p.retry_factor <= 100.0))
        error(p.path + ".retry.factor", "factor must be between 1 and 100");
      if (p.retry_cap < p.retry_initial)
        error(p.path + ".retry.cap", "cap must be at least initialInterval");
    }
    out->push_back(std::move(p));
  }

  if (f.has_side_inputs_timeout() && to_ms(f.side_inputs_timeout()).count() <= 0)
    error("sideInputsTimeout", "sideInputsTimeout must be at least 1ms", "e.g. sideInputsTimeout: 60s");

  stage_side_inputs->assign(static_cast<size_t>(f.stages_size()), {});
  for (int i = 0; i < f.stages_size(); ++i) {
    const flow::Stage& st = f.stages(i);
    std::set<std::string, std::less<>> seen;
    for (int j = 0; j < st.side_inputs_size(); ++j) {
      const std::string& n = st.side_inputs(j);
      const std::string where = "stages[" + std::to_string(i) + "].sideInputs[" + std::to_string(j) + "]";
      if (names.count(n) == 0) {
        std::string known;
        for (const std::string& k : names) known += (known.empty() ? "" : ", ") + k;
        error(where, "stage \"" + st.name() + "\" reads side input \"" + n + "\", which the flow does not declare",
              known.empty() ? "declare it under sideInputs: at the top of the flow"
                            : "declared side inputs: " + known);
      } else if (!seen.insert(n).second) {
        error(where, "stage \"" + st.name() + "\" lists side input \"" + n + "\" twice");
      } else {
        (*stage_side_inputs)[static_cast<size_t>(i)].push_back(n);
      }
    }
  }
  return diagnostics->size() == errors_before;
}

}  // namespace sluice::host
