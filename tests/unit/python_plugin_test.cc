// The Python runtime plugin through the real loader, in this process: the interpreter's
// lifetime follows the library's loads and unloads (two loads at once share it; a load
// after the last unload starts a fresh one), and instances live on worker threads of
// their own, as the flow engine runs them.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "sluice/host/plugin_instance.h"
#include "sluice/host/plugin_registry.h"
#include "test_support.h"
#include "temp_dir.h"

namespace sluice::host {
namespace {

namespace fs = std::filesystem;
using test::RecordingSink;
using test::TestBatch;

const fs::path kPythonLib = fs::path(SLUICE_BUILTIN_DIR) / "libsluice-python.so";

class PythonPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_ / "handlers.py") << "def upper(datum):\n    return datum.value.upper()\n"
                                        << "def boom(datum):\n    raise KeyError(datum.value)\n";
  }
  // A registry holding only the Python plugin.
  static std::unique_ptr<PluginRegistry> load() {
    auto reg = std::make_unique<PluginRegistry>();
    reg->load_file(kPythonLib);
    EXPECT_TRUE(reg->errors().empty()) << reg->errors()[0].message;
    return reg;
  }

  // Creates a `python` map on the calling thread, runs one batch and destroys it;
  // returns the outputs (or the create error).
  std::vector<std::string> run_once(const PluginRegistry& reg, const std::string& function,
                                    RecordingSink* sink = nullptr) {
    RecordingSink own;
    if (sink == nullptr) sink = &own;
    sluice_ctx ctx(SLUICE_KIND_MAP, "py", sink);
    InstanceSpec spec;
    spec.stage_name = "py";
    spec.flow_dir = dir_.string();
    spec.config_json = R"({"module": "handlers", "function": ")" + function + R"("})";
    sluice_status status = SLUICE_OK;
    std::string error;
    auto inst = PluginInstance::create(reg.find("python"), spec, &ctx, &status, &error);
    if (!inst) return {"create failed: " + error};
    TestBatch batch({"a", "b"});
    EXPECT_EQ(inst->process(&ctx, batch.get()), SLUICE_OK);
    return sink->values();
  }

  test::TempDir tmp_{"sluice-pyunit"};
  const fs::path& dir_ = tmp_.path();
};

TEST_F(PythonPluginTest, RunsOnAWorkerThreadOfItsOwn) {
  auto reg = load();
  std::vector<std::string> out;
  std::thread worker([&] { out = run_once(*reg, "upper"); });
  worker.join();
  EXPECT_EQ(out, (std::vector<std::string>{"A", "B"}));
}

TEST_F(PythonPluginTest, TwoLoadsShareTheInterpreterAndALaterLoadStartsAfresh) {
  auto first = load();
  auto second = load();  // the same file again: the entry runs a second time
  EXPECT_EQ(run_once(*first, "upper"), (std::vector<std::string>{"A", "B"}));
  first.reset();  // one unload: the interpreter must keep running for `second`
  std::vector<std::string> out;
  std::thread([&] { out = run_once(*second, "upper"); }).join();
  EXPECT_EQ(out, (std::vector<std::string>{"A", "B"}));
  second.reset();  // the last unload finalizes

  auto third = load();  // a fresh interpreter, the `sluice` module registered again
  std::thread([&] { out = run_once(*third, "upper"); }).join();
  EXPECT_EQ(out, (std::vector<std::string>{"A", "B"}));
}

TEST_F(PythonPluginTest, AnExceptionFailsEachMessageAloneWithItsReason) {
  auto reg = load();
  RecordingSink sink;
  std::thread([&] { run_once(*reg, "boom", &sink); }).join();
  ASSERT_EQ(sink.outcomes.size(), 2u);
  EXPECT_EQ(sink.outcomes[0].input, 0u);
  EXPECT_EQ(sink.outcomes[0].outcome, SLUICE_OUTCOME_FAILED);
  EXPECT_EQ(sink.outcomes[0].reason,
            "KeyError: b'a' (at " + (dir_ / "handlers.py").string() + ":4 in boom)");
  EXPECT_EQ(sink.outcomes[1].input, 1u);
  EXPECT_TRUE(sink.emitted.empty());
}

}  // namespace
}  // namespace sluice::host
