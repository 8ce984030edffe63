// The python sink and source through the real loader and the C ABI, in this process:
// what a sink's Responses become (set_outcome, respond) and what a source's reads
// return (OK, IDLE, END) and receive (ack ids), call by call, as the host sees them.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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

class PythonSinkSourceAbi : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_ / "abi_handlers.py") << R"(
import asyncio
from sluice import END, Message, Offset, PendingResponse, Response, Sourcer

def answer(datums):
    by_value = {d.value: d.id for d in datums}
    return [
        Response.as_serve(by_value[b"a"], b"first"),
        Response.as_serve(by_value[b"a"], "second"),
        Response.as_failure(by_value[b"b"], "no room"),
        Response.as_retry(by_value[b"c"], "busy"),
        Response.as_fallback(by_value[b"d"]),
        Response.as_success(by_value[b"e"]),
    ]

class Reads(Sourcer):
    def __init__(self):
        self.reads = 0
        self.acked = []

    def read_handler(self, request):
        self.reads += 1
        if self.reads == 1:
            return [Message(f"m{i}", offset=Offset(f"o{i}")) for i in range(request.num_records)]
        if self.reads == 2:
            return []
        if self.reads == 3:
            return [Message("acked " + ",".join(self.acked)), END, Message("never")]
        raise AssertionError("read after END")

    def ack_handler(self, request):
        self.acked.extend(o.offset.decode() for o in request.offsets)

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

class AsyncPending(Sourcer):
    def read_handler(self, request):
        return []
    async def pending_handler(self):
        await asyncio.sleep(0)
        return PendingResponse(count=42)

class NoPending(Sourcer):
    def read_handler(self, request):
        return []

class BrokenPending(Sourcer):
    def read_handler(self, request):
        return []
    def pending_handler(self):
        raise OSError("backlog unknown")

def numbers():
    yield "1"
)";
    reg_ = std::make_unique<PluginRegistry>();
    reg_->load_file(kPythonLib);
    ASSERT_TRUE(reg_->errors().empty()) << reg_->errors()[0].message;
  }
  void TearDown() override {
    reg_.reset();
  }

  std::unique_ptr<PluginInstance> create(sluice_kind kind, sluice_ctx* ctx,
                                         const std::string& handler) {
    InstanceSpec spec;
    spec.kind = kind;
    spec.stage_name = "py";
    spec.flow_dir = dir_.string();
    spec.config_json = R"({"module": "abi_handlers", )" + handler + "}";
    sluice_status status = SLUICE_OK;
    std::string error;
    auto inst = PluginInstance::create(reg_->find("python"), spec, ctx, &status, &error);
    EXPECT_TRUE(inst) << error;
    return inst;
  }

  test::TempDir tmp_{"sluice-pyabi"};
  const fs::path& dir_ = tmp_.path();
  std::unique_ptr<PluginRegistry> reg_;
};

TEST_F(PythonSinkSourceAbi, SinkResponsesBecomeOutcomesAndResponds) {
  std::thread([&] {
    RecordingSink sink;
    sluice_ctx ctx(SLUICE_KIND_SINK, "py", &sink);
    auto inst = create(SLUICE_KIND_SINK, &ctx, R"("function": "answer")");
    ASSERT_TRUE(inst);
    TestBatch batch({"a", "b", "c", "d", "e"});
    EXPECT_EQ(inst->process(&ctx, batch.get()), SLUICE_OK);
    EXPECT_EQ(sink.responses,
              (std::vector<std::pair<size_t, std::string>>{{0, "first"}, {0, "second"}}));
    ASSERT_EQ(sink.outcomes.size(), 3u);
    EXPECT_EQ(sink.outcomes[0].input, 1u);
    EXPECT_EQ(sink.outcomes[0].outcome, SLUICE_OUTCOME_FAILED);
    EXPECT_EQ(sink.outcomes[0].reason, "no room");
    EXPECT_EQ(sink.outcomes[1].input, 2u);
    EXPECT_EQ(sink.outcomes[1].outcome, SLUICE_OUTCOME_RETRY);
    EXPECT_EQ(sink.outcomes[1].reason, "busy");
    EXPECT_EQ(sink.outcomes[2].input, 3u);
    EXPECT_EQ(sink.outcomes[2].outcome, SLUICE_OUTCOME_FAILED);
    EXPECT_EQ(sink.outcomes[2].reason, "fallback requested");
  }).join();
}

TEST_F(PythonSinkSourceAbi, SourceReadsAreOkIdleThenEndAndAcksCarryTheOffsets) {
  std::thread([&] {
    RecordingSink sink;
    sluice_ctx ctx(SLUICE_KIND_SOURCE, "py", &sink);
    auto inst = create(SLUICE_KIND_SOURCE, &ctx, R"("class": "Reads")");
    ASSERT_TRUE(inst);
    ASSERT_TRUE(inst->has_ack());
    TestBatch read({});  // a source's process gets no messages; max_messages 16
    sluice_batch request = read.get();
    request.max_messages = 3;
    EXPECT_EQ(inst->process(&ctx, request), SLUICE_OK);
    EXPECT_EQ(sink.values(), (std::vector<std::string>{"m0", "m1", "m2"}));
    for (const auto& e : sink.emitted) EXPECT_EQ(e.input, SLUICE_NO_INPUT);

    // The host hands back the ids the source gave (Message offset -> sluice_output.id).
    std::vector<sluice_message> acks(2);
    const char* ids[] = {"o2", "o0"};
    std::vector<const sluice_message*> pointers;
    for (size_t i = 0; i < acks.size(); ++i) {
      acks[i].struct_size = sizeof(sluice_message);
      acks[i].id = {ids[i], 2};
      acks[i].event_time = acks[i].watermark = SLUICE_TIME_UNSET;
      pointers.push_back(&acks[i]);
    }
    sluice_batch ack{};
    ack.struct_size = sizeof(ack);
    ack.messages = pointers.data();
    ack.count = pointers.size();
    EXPECT_EQ(inst->ack(&ctx, ack), SLUICE_OK);

    EXPECT_EQ(inst->process(&ctx, request), SLUICE_IDLE);  // an empty read
    sink.emitted.clear();
    EXPECT_EQ(inst->process(&ctx, request), SLUICE_END);   // what came before END is emitted
    EXPECT_EQ(sink.values(), (std::vector<std::string>{"acked o2,o0"}));
    EXPECT_EQ(inst->process(&ctx, request), SLUICE_END);   // and it is not read again
    EXPECT_EQ(inst->finish(&ctx), SLUICE_OK);
  }).join();
}

// The source's pending_handler through the ABI's pending (1.2), as the host's source
// worker asks it for the sluice_source_pending_messages gauge.
TEST_F(PythonSinkSourceAbi, PendingHandlerIsTheSourcesBacklogAndUnknownIsNegative) {
  std::thread([&] {
    RecordingSink sink;
    sluice_ctx ctx(SLUICE_KIND_SOURCE, "py", &sink);
    auto pending = [&](const std::string& handler) -> int64_t {
      auto inst = create(SLUICE_KIND_SOURCE, &ctx, handler);
      return inst ? inst->pending() : -2;
    };
    EXPECT_EQ(pending(R"("class": "Counted", "args": {"left": 17})"), 17);
    EXPECT_EQ(pending(R"("class": "Counted", "args": {"left": 0})"), 0);
    EXPECT_EQ(pending(R"("class": "Plain", "args": {"answer": 5})"), 5);
    EXPECT_EQ(pending(R"("class": "Plain")"), -1) << "None: unknown";
    EXPECT_EQ(pending(R"("class": "Plain", "args": {"answer": -3})"), -1);
    EXPECT_EQ(pending(R"("class": "AsyncPending")"), 42) << "run on the instance's loop";
    EXPECT_EQ(pending(R"("class": "NoPending")"), -1);
    EXPECT_EQ(pending(R"("function": "numbers")"), -1);
    // A wrong answer or an exception is logged and reads as unknown.
    EXPECT_EQ(pending(R"("class": "Plain", "args": {"answer": "many"})"), -1);
    EXPECT_EQ(pending(R"("class": "BrokenPending")"), -1);
  }).join();
}

}  // namespace
}  // namespace sluice::host
