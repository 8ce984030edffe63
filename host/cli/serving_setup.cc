#include "serving_setup.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "sluice/host/log.h"
#include "sluice/serving/serving_source.h"
#include "sluice/serving/tokens.h"
#include "sluice/store/grpc_request_store.h"
#include "sluice/store/sqlite_request_store.h"

namespace sluice::cli {

std::unique_ptr<ServingSetup> open_serving(const host::ServingPlan& plan) {
  auto s = std::make_unique<ServingSetup>();
  s->plan = &plan;
  std::string error;
  if (!serving::load_tokens(plan.tokens, [](const char* name) { return std::getenv(name); },
                            &s->tokens, &error)) {
    std::cerr << "sluice: error: serving.auth: " << error << "\n";
    return nullptr;
  }
  try {
    if (plan.store == host::ServingStoreKind::kSqlite) {
      std::error_code ec;
      std::filesystem::create_directories(plan.sqlite_path.parent_path(), ec);
      store::SqliteStoreOptions options;
      options.path = plan.sqlite_path.string();
      options.ttl = plan.store_ttl;
      s->store = store::open_sqlite_request_store(options);
    } else {
      store::GrpcStoreOptions options;
      options.address = plan.grpc_address;
      options.on_lost_write = [](std::string_view id, std::string_view why) {
        host::log(host::LogLevel::kWarn, "serving",
                  "the gRPC store lost the results of request " + std::string(id) + ": " +
                      std::string(why));
      };
      s->store = store::open_grpc_request_store(options);
    }
  } catch (const store::StoreError& e) {
    std::cerr << "sluice: error: serving.store: " << e.what() << "\n";
    return nullptr;
  }
  s->hub = std::make_unique<serving::RequestHub>(*s->store, plan.max_in_flight);
  try {
    if (const size_t n = s->hub->recover(); n > 0)
      host::log(host::LogLevel::kInfo, "serving",
                std::to_string(n) + " requests accepted by an earlier run and not finished are "
                "processed again");
  } catch (const store::StoreError& e) {
    std::cerr << "sluice: error: serving.store: cannot read the unfinished requests: " << e.what() << "\n";
    return nullptr;
  }
  serving::attach_hub(s->hub.get());
  return s;
}

bool ServingSetup::start_listening(const host::FlowMetrics& metrics) {
  server = std::make_unique<serving::ServingServer>(*plan, tokens, *hub, metrics);
  if (side_inputs) server->set_side_inputs(side_inputs, side_input_registry, side_inputs_read);
  std::string error;
  if (!server->start(&error)) {
    std::cerr << "sluice: error: " << error << "\n";
    server.reset();
    return false;
  }
  auto url = [](const char* scheme, const host::ListenAddress& a, int port) {
    const std::string host = a.ipv6 ? "[" + a.host + "]" : a.host;
    return std::string(scheme) + "://" + host + ":" + std::to_string(port);
  };
  if (plan->http) host::log(host::LogLevel::kInfo, "serving", "listening on " + url("http", *plan->http, server->http_port()));
  if (plan->https) host::log(host::LogLevel::kInfo, "serving", "listening on " + url("https", *plan->https, server->https_port()));
  return true;
}

void ServingSetup::shut_down() {
  if (hub) {
    hub->stop_admitting();
    hub->abandon_remaining();
  }
  if (server) {
    server->set_flow_ready(false);
    server->stop();
  }
  serving::attach_hub(nullptr);
}

ServingSetup::~ServingSetup() {
  shut_down();
  server.reset();
  hub.reset();
  if (store) store->close();
}

}  // namespace sluice::cli
