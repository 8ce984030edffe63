// The python source's pending() (numaflow's pending_handler), which the C ABI does not
// reach yet: the plugin's sources are compiled into this test, which starts the
// interpreter itself and makes source stages directly through make_source_stage.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "interpreter.h"
#include "stage.h"

// The plugin's host table slot (library.cc defines it in the plugin); pending() uses no
// host callback, so it stays null here.
const sluice_host*& sluice::detail::host_slot() {
  static const sluice_host* host = nullptr;
  return host;
}

namespace sluice::python {
namespace {

namespace fs = std::filesystem;

class PythonSourcePending : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_EQ(start_interpreter(), ""); }
  static void TearDownTestSuite() { stop_interpreter(); }

  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "sluice-pypending-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    // A module file named after the test: each test loads its own (sys.modules keeps the
    // ones loaded before), under a name it knows.
    module_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::ofstream(dir_ / (module_ + ".py")) << R"(
import asyncio
from sluice import PendingResponse, Sourcer

class Counted(Sourcer):
    def __init__(self, left):
        self.left = left
    def read_handler(self, request):
        return []
    def pending_handler(self):
        return PendingResponse(count=self.left)

class Plain(Sourcer):
    def __init__(self, answer=None):
        self.answer = answer
    def read_handler(self, request):
        return []
    def pending_handler(self):
        return self.answer

class Async(Sourcer):
    def read_handler(self, request):
        return []
    async def pending_handler(self):
        await asyncio.sleep(0)
        return PendingResponse(count=42)

class Default(Sourcer):
    def read_handler(self, request):
        return []

class Broken(Sourcer):
    def read_handler(self, request):
        return []
    def pending_handler(self):
        raise OSError("backlog unknown")

def numbers():
    yield "1"
)";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // A source stage of this test's module with `handler` ("class": "Counted", ...).
  std::unique_ptr<Stage> make(const std::string& handler) {
    const std::string config = R"({"module": ")" + module_ + R"(", )" + handler + "}";
    const std::string flow_dir = dir_.string();
    sluice_create_args a{};
    a.struct_size = sizeof(a);
    a.kind = SLUICE_KIND_SOURCE;
    a.type_name = "python";
    a.stage_name = "src";
    a.config_json = config.c_str();
    a.flow_dir = flow_dir.c_str();
    a.worker_count = 1;
    a.flow_mode = SLUICE_FLOW_JOB;
    return make_source_stage(CreateArgs(a));
  }

  fs::path dir_;
  std::string module_;
};

TEST_F(PythonSourcePending, PendingResponseCountIsThePending) {
  EXPECT_EQ(make(R"("class": "Counted", "args": {"left": 17})")->pending(), 17);
  EXPECT_EQ(make(R"("class": "Counted", "args": {"left": 0})")->pending(), 0);
}

TEST_F(PythonSourcePending, AnIntIsTheCountAndNoneOrANegativeCountIsUnknown) {
  EXPECT_EQ(make(R"("class": "Plain", "args": {"answer": 5})")->pending(), 5);
  EXPECT_EQ(make(R"("class": "Plain")")->pending(), std::nullopt);
  EXPECT_EQ(make(R"("class": "Plain", "args": {"answer": -1})")->pending(), std::nullopt);
}

TEST_F(PythonSourcePending, AnAsyncPendingHandlerRunsOnTheInstancesLoop) {
  EXPECT_EQ(make(R"("class": "Async")")->pending(), 42);
}

TEST_F(PythonSourcePending, WithoutAPendingHandlerItIsUnknown) {
  EXPECT_EQ(make(R"("class": "Default")")->pending(), std::nullopt);
  EXPECT_EQ(make(R"("function": "numbers")")->pending(), std::nullopt);
}

TEST_F(PythonSourcePending, AWrongAnswerOrAnExceptionNamesTheHandler) {
  try {
    make(R"("class": "Plain", "args": {"answer": "many"})")->pending();
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), module_ + ".Plain.pending_handler returned str; expected "
                                           "sluice.PendingResponse(count), an int or None");
  }
  try {
    make(R"("class": "Broken")")->pending();
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              module_ + ".Broken.pending_handler raised OSError: backlog unknown (at " +
                  (dir_ / (module_ + ".py")).string() + ":36 in pending_handler)");
  }
}

}  // namespace
}  // namespace sluice::python
