#include "side_input_setup.h"

#include <filesystem>
#include <iostream>

#include "sluice/host/side_input_sink.h"

namespace sluice::cli {

std::string side_input_store_path(const host::FlowPlan& plan) {
  return (plan.dir / ".sluice" / (plan.name + ".side-inputs.db")).string();
}

SideInputSetup::~SideInputSetup() {
  if (manager) host::attach_side_input_manager(nullptr);
}

std::unique_ptr<SideInputSetup> open_side_inputs(const host::FlowPlan& plan) {
  auto s = std::make_unique<SideInputSetup>();
  std::vector<std::string> names;
  for (const host::SideInputPlan& p : plan.side_inputs) names.push_back(p.name);
  try {
    store::SideInputStoreOptions options;
    options.path = side_input_store_path(plan);
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(options.path).parent_path(), ec);
    if (ec)
      throw store::StoreError("side-input store " + options.path + ": cannot create its folder: " +
                              ec.message());
    s->store = std::make_unique<store::SideInputStore>(options);
    s->registry = std::make_unique<host::SideInputRegistry>(names);
    s->manager = std::make_unique<host::SideInputManager>(plan, *s->registry, s->store.get());
    s->manager->load_stored();
    host::attach_side_input_manager(s->manager.get());
  } catch (const store::StoreError& e) {
    std::cerr << "sluice: error: " << e.what() << "\n";
    return nullptr;
  }
  return s;
}

}  // namespace sluice::cli
