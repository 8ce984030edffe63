#include "sluice/host/side_input_http.h"

#include <nlohmann/json.hpp>
#include <sstream>

namespace sluice::host {
namespace {

using nlohmann::json;

constexpr std::string_view kNoSideInputs =
    "the flow declares no side inputs (sideInputs: in the flow file)";

double epoch_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

HttpAnswer side_input_list(const SideInputManager* manager) {
  if (!manager) return http_error(404, kNoSideInputs);
  json list = json::array();
  for (const SideInputManager::Status& s : manager->list()) {
    json j = {{"name", s.name},           {"version", s.version},     {"size", s.size},
              {"retriever", s.retriever}, {"trigger", s.trigger},     {"retrievals", s.retrievals},
              {"changed", s.changed},     {"unchanged", s.unchanged}, {"failed", s.failed},
              {"timedOut", s.timed_out},  {"sets", s.sets},           {"lastError", s.last_error}};
    j["updatedAt"] = s.updated_at ? json(rfc3339(*s.updated_at)) : json(nullptr);
    j["nextRetrieval"] = s.next_retrieval ? json(rfc3339(*s.next_retrieval)) : json(nullptr);
    list.push_back(std::move(j));
  }
  return {200, json{{"sideInputs", std::move(list)}}.dump(-1, ' ', false, json::error_handler_t::replace)};
}

HttpAnswer side_input_refresh(SideInputManager* manager, std::string_view name) {
  if (!manager) return http_error(404, kNoSideInputs);
  switch (manager->refresh(name)) {
    case SideInputManager::Refresh::kRequested:
      return {202, json{{"name", name}, {"refresh", "requested"}}.dump(-1, ' ', false, json::error_handler_t::replace)};
    case SideInputManager::Refresh::kNoRetriever:
      return http_error(409, "side input '" + std::string(name) +
                                 "' has no retriever to run: a side-input sink sets its value");
    case SideInputManager::Refresh::kNoSuchSideInput:
      break;
  }
  return http_error(404, "no side input is named '" + std::string(name) + "' (GET /v1/side-inputs lists them)");
}

std::string side_input_prometheus(const SideInputManager* manager) {
  if (!manager) return "";
  const std::vector<SideInputManager::Status> all = manager->list();
  if (all.empty()) return "";
  std::ostringstream out;
  auto family = [&](const char* name, const char* type, const char* help) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  };
  // Side-input names are letters, digits, '-', '_' and '.': nothing to escape.
  auto label = [](const SideInputManager::Status& s) { return "{side_input=\"" + s.name + "\""; };

  family("sluice_side_input_version", "gauge", "The side input's current version (0: no value yet).");
  for (const auto& s : all) out << "sluice_side_input_version" << label(s) << "} " << s.version << '\n';
  family("sluice_side_input_bytes", "gauge", "The size of the side input's current value.");
  for (const auto& s : all) out << "sluice_side_input_bytes" << label(s) << "} " << s.size << '\n';
  family("sluice_side_input_updated_timestamp_seconds", "gauge",
         "When the current value was stored (Unix time); absent before the first value.");
  out.setf(std::ios::fixed);
  out.precision(3);
  for (const auto& s : all)
    if (s.updated_at)
      out << "sluice_side_input_updated_timestamp_seconds" << label(s) << "} " << epoch_seconds(*s.updated_at) << '\n';
  family("sluice_side_input_retrievals_total", "counter",
         "Finished retrievals by result: changed (a new version), unchanged (no change, or the "
         "current bytes), failed, timed_out.");
  for (const auto& s : all) {
    const uint64_t failed = s.failed >= s.timed_out ? s.failed - s.timed_out : 0;
    out << "sluice_side_input_retrievals_total" << label(s) << ",result=\"changed\"} " << s.changed << '\n'
        << "sluice_side_input_retrievals_total" << label(s) << ",result=\"unchanged\"} " << s.unchanged << '\n'
        << "sluice_side_input_retrievals_total" << label(s) << ",result=\"failed\"} " << failed << '\n'
        << "sluice_side_input_retrievals_total" << label(s) << ",result=\"timed_out\"} " << s.timed_out << '\n';
  }
  family("sluice_side_input_sets_total", "counter", "Values set by a side-input sink.");
  for (const auto& s : all) out << "sluice_side_input_sets_total" << label(s) << "} " << s.sets << '\n';
  family("sluice_side_input_failing", "gauge", "1 while the last retrieval failed (the old value stays), else 0.");
  for (const auto& s : all) out << "sluice_side_input_failing" << label(s) << "} " << (s.last_error.empty() ? 0 : 1) << '\n';
  return out.str();
}

}  // namespace sluice::host
