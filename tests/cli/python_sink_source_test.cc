// End-to-end tests of the `python` stage type as a sink and as a source: each test
// writes a flow file and a handler module into a fresh temporary folder and runs the
// real `sluice` binary on it (libsluice-python.so from the built-in folder, the embedded
// /usr/bin/python3). The spec these follow is docs/python-sinks-sources.md.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "python_test_support.h"

namespace sluice::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class PythonSinkSource : public PythonFlowTest {
 protected:
  // in.txt -> the python sink `py` with `config` (and `stage_keys`); when those name a
  // fallback, the `dead` file sink (dead.txt) is there for it.
  std::string sink_flow(const std::string& config, const std::string& stage_keys = "") const {
    const bool fallback = contains(stage_keys, "fallback: dead");
    return flow(R"(
mode: job
stages:
  - {name: in, source: file, config: {path: in.txt}}
  - name: py
    sink: python
    config: )" + config + "\n" + stage_keys + "\n" +
                (fallback ? "  - {name: dead, sink: file, config: {path: dead.txt}}\n" : "") +
                R"(edges:
  - {from: in, to: py}
)");
  }

  // The python source `src` with `config` (and `stage_keys`) -> out.txt.
  std::string source_flow(const std::string& config, const std::string& stage_keys = "") const {
    return flow(R"(
mode: job
stages:
  - name: src
    source: python
    config: )" + config + "\n" + stage_keys + R"(
  - {name: out, sink: file, config: {path: out.txt}}
)");
  }
};

using PythonSink = PythonSinkSource;
using PythonSource = PythonSinkSource;

// --- sinks -------------------------------------------------------------------------------

TEST_F(PythonSink, FunctionSinkWritesEveryDatumAndNoneMeansAllSucceeded) {
  write("handlers.py", R"(
def write(datums, path):
    with open(path, "ab") as f:
        for d in datums:
            f.write(d.value + b"\n")
)");
  write("in.txt", "alpha\nbeta\n\ngamma delta\n");
  RunResult r = run(sink_flow("{module: handlers, function: write, args: {path: " +
                              at("out.txt").string() + "}}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_file(at("out.txt")), "alpha\nbeta\n\ngamma delta\n");
  const auto rows = summary(r.err);
  EXPECT_EQ(rows.at("py").in, 4) << r;
  EXPECT_EQ(rows.at("py").failed, 0) << r;
}

TEST_F(PythonSink, NumaflowSinkerClassAnswersByIdAndItsCloseRunsAtFinish) {
  // A numaflow-python Sinker with only its imports changed, plus a close() that flushes
  // what handler() buffered.
  write("writer.py", R"(
from sluice import Datum, Responses, Response, Sinker

class Writer(Sinker):
    def __init__(self, path):
        self.path = path
        self.buffer = []

    def handler(self, datums) -> Responses:
        responses = Responses()
        for msg in datums:
            self.buffer.append(f"{msg.id}={msg.value.decode()}")
            responses.append(Response.as_success(msg.id))
        return responses

    def close(self):
        with open(self.path, "w") as f:
            f.write("\n".join(self.buffer) + "\nclosed\n")
)");
  write("in.txt", "a\nbb\nccc\n");
  RunResult r = run(sink_flow("{module: writer, class: Writer, args: {path: " +
                              at("out.txt").string() + "}}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  // The file source's ids are the lines' byte offsets.
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"0=a", "2=bb", "5=ccc", "closed"}));
}

TEST_F(PythonSink, FailuresAndFallbacksGoToTheFallbackSinkAndRetriesAreRedelivered) {
  write("handlers.py", R"(
from sluice import Response, Responses

tries = {}

def write(datums, path):
    out = Responses()
    with open(path, "a") as f:
        for d in datums:
            v = d.value.decode()
            tries[v] = tries.get(v, 0) + 1
            if v.startswith("bad"):
                out.append(Response.as_failure(d.id, "cannot write " + v))
            elif v.startswith("fb"):
                out.append(Response.as_fallback(d.id))
            elif v == "flaky" and tries[v] == 1:
                out.append(Response.as_retry(d.id, "busy"))
            elif v == "served":
                f.write(v + "\n")
                out.append(Response.as_serve(d.id, b"result for " + d.value))
            else:
                f.write(f"{v} try {tries[v]}\n")
                out.append(Response.as_success(d.id))
    return out
)");
  write("in.txt", "ok1\nbad1\nflaky\nfb1\nserved\nbad2\nok2\n");
  RunResult r = run(sink_flow(
      "{module: handlers, function: write, args: {path: " + at("out.txt").string() + "}}",
      "    onError: {retry: {attempts: 2, initialInterval: 1ms}, then: fallback, fallback: dead}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  // A sink's retried messages come after the rest of its batch.
  EXPECT_EQ(read_lines(at("out.txt")),
            (Lines{"ok1 try 1", "served", "ok2 try 1", "flaky try 2"}));
  // Failures and fallbacks are permanent: no retry, straight to the fallback sink.
  EXPECT_EQ(sorted(read_lines(at("dead.txt"))), (Lines{"bad1", "bad2", "fb1"}));
  const auto rows = summary(r.err);
  EXPECT_EQ(rows.at("py").retried, 1) << r;
  EXPECT_EQ(rows.at("py").failed, 3) << r;
  EXPECT_EQ(rows.at("dead").in, 3) << r;
}

TEST_F(PythonSink, AFailureWithThenFailExits1WithItsReason) {
  write("handlers.py", R"(
from sluice import Response

def write(datums):
    return [Response.as_failure(d.id, "no room for " + d.value.decode()) if d.value == b"big"
            else Response.as_success(d.id) for d in datums]
)");
  write("in.txt", "a\nbig\n");
  RunResult r = run(sink_flow("{module: handlers, function: write}"));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(contains(r.err, "sluice: error: stage \"py\" failed: message 2: no room for big\n"))
      << r;
}

TEST_F(PythonSink, ADatumWithoutAResponseFailsAlone) {
  write("handlers.py", R"(
from sluice import Response, Responses

def partial(datums, path):
    out = Responses()
    with open(path, "a") as f:
        for d in datums:
            if d.value != b"lost":
                f.write(d.value.decode() + "\n")
                out.append(Response.as_success(d.id))
    return out
)");
  write("in.txt", "a\nlost\nc\n");
  const std::string config =
      "{module: handlers, function: partial, args: {path: " + at("out.txt").string() + "}}";
  RunResult r = run(sink_flow(config, "    onError: {then: drop}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"a", "c"}));
  EXPECT_EQ(summary(r.err).at("py").dropped, 1) << r;

  RunResult f = run(sink_flow(config));
  EXPECT_EQ(f.exit_code, 1) << f;
  EXPECT_TRUE(contains(f.err, "stage \"py\" failed: message 2: handlers.partial returned no "
                              "Response for id 2; return one Response per datum (or None when "
                              "all succeeded)\n"))
      << f;
}

TEST_F(PythonSink, AWrongResultOrAnUnknownIdFailsTheBatchSayingWhatWasExpected) {
  write("handlers.py", R"(
from sluice import Response

def count(datums):
    return len(datums)

def strings(datums):
    return ["ok" for d in datums]

def stranger(datums):
    return [Response.as_success("nope")]

def twice(datums):
    return [Response.as_success(d.id) for d in datums] * 2
)");
  write("in.txt", "a\nb\n");
  RunResult r = run(sink_flow("{module: handlers, function: count}"));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(contains(r.err, "stage \"py\" failed: message 0 (and 1 more): handlers.count "
                              "returned int; expected sluice.Responses (or a list of "
                              "sluice.Response), one per datum (Response.as_success(datum.id), "
                              "...), or None when every datum succeeded\n"))
      << r;

  RunResult s = run(sink_flow("{module: handlers, function: strings}"));
  EXPECT_EQ(s.exit_code, 1) << s;
  EXPECT_TRUE(contains(s.err, ": handlers.strings returned a list holding a str; expected "
                              "sluice.Responses"))
      << s;

  RunResult u = run(sink_flow("{module: handlers, function: stranger}"));
  EXPECT_EQ(u.exit_code, 1) << u;
  EXPECT_TRUE(contains(u.err, ": handlers.stranger returned a Response for id nope, which is "
                              "not in the batch (its ids: 0, 2); answer each datum with its "
                              "datum.id\n"))
      << u;

  RunResult t = run(sink_flow("{module: handlers, function: twice}"));
  EXPECT_EQ(t.exit_code, 1) << t;
  EXPECT_TRUE(contains(t.err, ": handlers.twice returned two Responses for id 0; give one per "
                              "datum"))
      << t;
}

TEST_F(PythonSink, AnExceptionRetriesTheWholeBatchThenFailsWithTheLastFrame) {
  write("handlers.py", R"(
calls = 0

def flaky(datums, path):
    global calls
    calls += 1
    if calls == 1:
        raise ConnectionError("database away")
    with open(path, "a") as f:
        for d in datums:
            f.write(d.value.decode() + "\n")

def down(datums):
    raise ConnectionError("database away")
)");
  write("in.txt", "x\ny\nz\n");
  RunResult r = run(sink_flow(
      "{module: handlers, function: flaky, args: {path: " + at("out.txt").string() + "}}",
      "    onError: {retry: {attempts: 1, initialInterval: 1ms}}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"x", "y", "z"}));
  EXPECT_EQ(summary(r.err).at("py").retried, 3) << r;

  RunResult f = run(sink_flow("{module: handlers, function: down}"));
  EXPECT_EQ(f.exit_code, 1) << f;
  EXPECT_TRUE(contains(f.err, "stage \"py\" failed: message 0 (and 2 more): handlers.down raised "
                              "ConnectionError: database away (at " + dir() +
                              "/handlers.py:14 in down)\n"))
      << f;
}

TEST_F(PythonSink, AsyncSinkerIteratesWithAsyncForOnTheInstancesLoop) {
  write("handlers.py", R"(
import asyncio
from sluice import Response, Responses, Sinker

class AsyncWriter(Sinker):
    def __init__(self, path):
        self.path = path
        self.loops = set()

    async def handler(self, datums):
        self.loops.add(id(asyncio.get_running_loop()))
        out = Responses()
        async for d in datums:
            await asyncio.sleep(0)
            with open(self.path, "a") as f:
                f.write(f"{d.value.decode()} {len(datums)} {len(self.loops)}\n")
            out.append(Response.as_success(d.id))
        return out
)");
  write("in.txt", "p\nq\n");
  RunResult r = run(sink_flow("{module: handlers, class: AsyncWriter, args: {path: " +
                              at("out.txt").string() + "}}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"p 2 1", "q 2 1"}));
}

TEST_F(PythonSink, DatumIdsAreUniqueInTheBatchWhenAMapSplitsAMessage) {
  write("handlers.py", R"(
def twice(datum):
    return [datum.value, datum.value + b"!"]

def ids(datums, path):
    with open(path, "a") as f:
        for d in datums:
            f.write(d.id + " " + d.value.decode() + "\n")
)");
  write("in.txt", "a\nb\n");
  const std::string f = flow(R"(
mode: job
stages:
  - {name: in, source: file, config: {path: in.txt}}
  - {name: split, map: python, config: {module: handlers, function: twice}}
  - name: py
    sink: python
    config: {module: handlers, function: ids, args: {path: )" + at("out.txt").string() + R"(}}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"0 a", "0#2 a!", "2 b", "2#2 b!"}));
}

TEST_F(PythonSink, ConfigMistakesAreReportedAtStart) {
  write("handlers.py", R"(
def two(datums, extra):
    pass

class NoHandler:
    pass
)");
  write("in.txt", "a\n");
  RunResult r = run(sink_flow("{module: handlers, function: two}"));
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "config.function: handlers.two(datums, extra) from handlers (" + dir() +
                              "/handlers.py) has the wrong signature: a sink handler is "
                              "handler(datums), called once per batch\n"))
      << r;

  RunResult c = run(sink_flow("{module: handlers, class: NoHandler}"));
  EXPECT_EQ(c.exit_code, 2) << c;
  EXPECT_TRUE(contains(c.err, "config.class: handlers.NoHandler has neither a handler(self, "
                              "datums) method nor __call__"))
      << c;

  RunResult k = run(sink_flow("{module: handlers, function: two, batchSize: 3}"));
  EXPECT_EQ(k.exit_code, 2) << k;
  EXPECT_TRUE(contains(k.err, "batchSize")) << k;
}

// --- sources -----------------------------------------------------------------------------

TEST_F(PythonSource, GeneratorFunctionFeedsAJobAndItsEndEndsTheFlow) {
  write("gen.py", R"(
from sluice import Message

def numbers(count, prefix="n"):
    for i in range(count):
        yield f"{prefix}{i}" if i % 2 else Message(f"{prefix}{i}".encode())
)");
  RunResult r = run(source_flow("{module: gen, function: numbers, args: {count: 25, prefix: x}}",
                                "    batch: 10"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), numbered("x", 25));
  EXPECT_EQ(summary(r.err).at("out").in, 25) << r;
}

TEST_F(PythonSource, SourcerClassIsAckedWithItsOffsetsAndEndsWithEnd) {
  // numaflow-python's simple source with its imports changed; sluice.END ends it.
  write("counter.py", R"(
from collections.abc import Iterable
from sluice import ReadRequest, Message, Sourcer, AckRequest, PendingResponse, Offset, END

class Counter(Sourcer):
    def __init__(self, limit, acks):
        self.limit = limit
        self.acks = acks
        self.read_idx = 0
        self.requests = []

    def read_handler(self, datum: ReadRequest) -> Iterable[Message]:
        self.requests.append(datum.num_records)
        if self.read_idx >= self.limit:
            yield END
            return
        for _ in range(min(datum.num_records, self.limit - self.read_idx)):
            yield Message(
                payload=str(self.read_idx).encode(),
                offset=Offset.offset_with_default_partition_id(str(self.read_idx).encode()),
            )
            self.read_idx += 1

    def ack_handler(self, ack_request: AckRequest):
        with open(self.acks, "a") as f:
            for offset in ack_request.offsets:
                assert offset.partition_id == 0
                f.write(offset.offset.decode() + "\n")

    def pending_handler(self) -> PendingResponse:
        return PendingResponse(count=self.limit - self.read_idx)

    def close(self):
        with open(self.acks + ".requests", "w") as f:
            f.write(" ".join(map(str, self.requests)) + "\n")
)");
  RunResult r = run(source_flow("{module: counter, class: Counter, args: {limit: 12, acks: " +
                                at("acks.txt").string() + "}}",
                                "    batch: 5"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), numbered("", 12));
  EXPECT_EQ(sorted(read_lines(at("acks.txt"))), sorted(numbered("", 12)));
  // Three full reads of 5 asked for (5, 5, 2 given), then the read that said END.
  EXPECT_EQ(read_file(at("acks.txt.requests")), "5 5 5 5\n");
}

TEST_F(PythonSource, OnlyTheOffsetsTheHandlerGaveAreAcked) {
  // A message sent without an offset (a heartbeat) gets an id the host makes up, like
  // "1"; acking it as offset b"1" would commit a record that may not be done.
  write("beats.py", R"(
from sluice import END, Message, Offset, Sourcer

class Beats(Sourcer):
    def __init__(self, acks):
        self.acks = acks
        self.done = False

    def read_handler(self, request):
        if self.done:
            return [END]
        self.done = True
        return [Message(b"heartbeat"), Message(b"r7", offset=b"7"), Message(b"heartbeat"),
                Message(b"r1", offset=Offset(b"1")), Message(b"heartbeat")]

    def ack_handler(self, request):
        with open(self.acks, "a") as f:
            for o in request.offsets:
                f.write(o.offset.decode() + "\n")
)");
  RunResult r = run(source_flow("{module: beats, class: Beats, args: {acks: " +
                                at("acks.txt").string() + "}}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")),
            (Lines{"heartbeat", "r7", "heartbeat", "r1", "heartbeat"}));
  EXPECT_EQ(sorted(read_lines(at("acks.txt"))), (Lines{"1", "7"}));
}

TEST_F(PythonSinkSource, IdsThatAreNotUtf8AreDistinctTextHandlersCanAnswerBy) {
  // Two offsets that differ only in invalid UTF-8 bytes: a batch map and a sink answer by
  // datum.id, so each must read as its own text (\xNN), not both as U+FFFD.
  write("h.py", R"(
from sluice import END, BatchResponse, BatchResponses, Message, Response, Responses, Sourcer

class Raw(Sourcer):
    def __init__(self):
        self.done = False
    def read_handler(self, request):
        if self.done:
            return [END]
        self.done = True
        return [Message(b"a", offset=b"\xffA"), Message(b"b", offset=b"\xfeA")]

def double(datums):
    out = BatchResponses()
    for d in datums:
        out.append(BatchResponse.from_id(d.id).append(Message(d.value * 2)))
    return out

def write(datums, path):
    with open(path, "a") as f:
        for d in datums:
            f.write(d.id + " " + d.value.decode() + "\n")
    return Responses(*[Response.as_success(d.id) for d in datums])
)");
  const std::string f = flow(R"(
mode: job
stages:
  - {name: src, source: python, config: {module: h, class: Raw}}
  - {name: double, map: python, config: {module: h, function: double, mode: batch}}
  - name: out
    sink: python
    config: {module: h, function: write, args: {path: ")" + at("ids.txt").string() + R"("}}
)");
  RunResult r = run_process(SLUICE_BIN, {"run", f}, options());
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(sorted(read_lines(at("ids.txt"))), (Lines{"\\xfeA bb", "\\xffA aa"}));
}

TEST_F(PythonSource, AsyncSourcerPutsIntoItsOutputAndIsAckedAsync) {
  write("asrc.py", R"(
import asyncio
from sluice import Message, Offset, Sourcer, END

class Ticks(Sourcer):
    def __init__(self, acks):
        self.acks = acks
        self.n = 0

    async def read_handler(self, request, output):
        for _ in range(request.num_records):
            if self.n == 7:
                await output.put(END)
                return
            await asyncio.sleep(0)
            await output.put(Message(f"tick {self.n}", offset=Offset(self.n)))
            self.n += 1

    async def ack_handler(self, request):
        await asyncio.sleep(0)
        with open(self.acks, "a") as f:
            for o in request.offsets:
                f.write(o.offset.decode() + "\n")
)");
  RunResult r = run(source_flow("{module: asrc, class: Ticks, args: {acks: " +
                                at("acks.txt").string() + "}}",
                                "    batch: 3"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), numbered("tick ", 7));
  EXPECT_EQ(sorted(read_lines(at("acks.txt"))), sorted(numbered("", 7)));
}

TEST_F(PythonSource, AsyncGeneratorFunctionAndCoroutineReadsWork) {
  write("handlers.py", R"(
import asyncio
from sluice import Message, Sourcer, END

async def ticks(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield f"a{i}"

class Batches(Sourcer):
    def __init__(self):
        self.reads = 0

    async def read_handler(self, request):
        self.reads += 1
        await asyncio.sleep(0)
        if self.reads == 4:
            return END
        return [Message(f"b{self.reads}-{i}") for i in range(2)]
)");
  RunResult a = run(source_flow("{module: handlers, function: ticks, args: {n: 9}}",
                                "    batch: 4"));
  ASSERT_EQ(a.exit_code, 0) << a;
  EXPECT_EQ(read_lines(at("out.txt")), numbered("a", 9));

  fs::remove(at("out.txt"));
  RunResult b = run(source_flow("{module: handlers, class: Batches}"));
  ASSERT_EQ(b.exit_code, 0) << b;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"b1-0", "b1-1", "b2-0", "b2-1", "b3-0", "b3-1"}));
}

TEST_F(PythonSource, EmptyReadsAreIdleNotTheEnd) {
  write("handlers.py", R"(
from sluice import Sourcer, END

class Slow(Sourcer):
    def __init__(self):
        self.reads = 0

    def read_handler(self, request):
        self.reads += 1
        if self.reads < 4:
            return []
        if self.reads == 4:
            return [b"late", "later"]
        return END

def gaps():
    yield None
    yield "one"
    yield None
    yield "two"
)");
  RunResult r = run(source_flow("{module: handlers, class: Slow}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"late", "later"}));

  fs::remove(at("out.txt"));
  RunResult g = run(source_flow("{module: handlers, function: gaps}"));
  ASSERT_EQ(g.exit_code, 0) << g;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"one", "two"}));
}

TEST_F(PythonSource, AnExceptionInReadFailsTheFlowWithTheTracebacksLastFrame) {
  write("handlers.py", R"(
from sluice import Sourcer

def parse(line):
    raise RuntimeError("disk gone at " + line)

class Broken(Sourcer):
    def __init__(self):
        self.reads = 0

    def read_handler(self, request):
        self.reads += 1
        if self.reads > 1:
            parse("line 2")
        yield "first"

def gen():
    yield "a"
    raise ValueError("no more")
)");
  RunResult r = run(source_flow("{module: handlers, class: Broken}"));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(contains(r.err, "sluice: error: stage \"src\" failed: handlers.Broken.read_handler "
                              "raised RuntimeError: disk gone at line 2 (at " + dir() +
                              "/handlers.py:5 in parse)\n"))
      << r;

  RunResult g = run(source_flow("{module: handlers, function: gen}"));
  EXPECT_EQ(g.exit_code, 1) << g;
  EXPECT_TRUE(contains(g.err, "sluice: error: stage \"src\" failed: finish: handlers.gen raised "
                              "ValueError: no more (at " + dir() + "/handlers.py:19 in gen) (a "
                              "generator cannot go on after that)\n"))
      << g;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"a"})) << "what it yielded first is kept";
}

TEST_F(PythonSource, AGeneratorThatRaisesKeepsWhatItYieldedAndFailsEvenWithRetries) {
  // The items a read took before the exception are delivered, and a retry policy does
  // not turn the dead generator into a quiet end of input (exit 0 with data missing).
  write("handlers.py", R"(
def gen():
    for i in range(5):
        yield f"n{i}"
    raise OSError("socket closed")

async def agen():
    for i in range(3):
        yield f"a{i}"
    raise OSError("stream reset")
)");
  RunResult r = run(source_flow("{module: handlers, function: gen}",
                                "    batch: 100\n    onError: {retry: {attempts: 3, initialInterval: 1ms}}"));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"n0", "n1", "n2", "n3", "n4"}));
  EXPECT_TRUE(contains(r.err, "handlers.gen raised OSError: socket closed")) << r;

  fs::remove(at("out.txt"));
  RunResult a = run(source_flow("{module: handlers, function: agen}", "    batch: 100"));
  EXPECT_EQ(a.exit_code, 1) << a;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"a0", "a1", "a2"}));
  EXPECT_TRUE(contains(a.err, "handlers.agen raised OSError: stream reset")) << a;
}

TEST_F(PythonSource, AWrongItemFailsTheReadSayingWhatWasExpected) {
  write("handlers.py", R"(
def numbers():
    yield 1
)");
  RunResult r = run(source_flow("{module: handlers, function: numbers}"));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(contains(r.err, "stage \"src\" failed: finish: handlers.numbers yielded int; expected "
                              "sluice.Message, bytes or str (sluice.END ends the source) (a "
                              "generator cannot go on after that)\n"))
      << r;
}

TEST_F(PythonSource, ConfigMistakesAreReportedAtStart) {
  write("handlers.py", R"(
def needs(datum):
    yield datum

def plain(n):
    return n

class NoRead:
    def ack_handler(self, request):
        pass
)");
  RunResult r = run(source_flow("{module: handlers, function: needs}"));
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "config.function: handlers.needs(datum) has the wrong signature: a "
                              "source function takes no positional arguments (give its keyword "
                              "arguments in args:)\n"))
      << r;

  RunResult p = run(source_flow("{module: handlers, function: plain, args: {n: 3}}"));
  EXPECT_EQ(p.exit_code, 2) << p;
  EXPECT_TRUE(contains(p.err, "config.function: handlers.plain returned int; a source function "
                              "is a generator"))
      << p;

  RunResult c = run(source_flow("{module: handlers, class: NoRead}"));
  EXPECT_EQ(c.exit_code, 2) << c;
  EXPECT_TRUE(contains(c.err, "config.class: handlers.NoRead has no read_handler(self, request) "
                              "method"))
      << c;

  RunResult a = run(source_flow("{module: handlers, function: plain, args: {m: 3}}"));
  EXPECT_EQ(a.exit_code, 2) << a;
  EXPECT_TRUE(contains(a.err, "config.args: handlers.plain: ")) << a;
}

TEST_F(PythonSinkSource, CheckFindsSinkAndSourceHandlerErrorsWithoutMakingAnything) {
  // `sluice check` imports the modules and checks the handlers' shapes; it constructs no
  // class (these constructors would leave a file behind) and starts no generator.
  write("handlers.py", R"(
from sluice import Sinker, Sourcer

def touch(name):
    open(name, "w").write("made")

class Ledger(Sinker):
    def __init__(self, path):
        touch("sink-made.txt")
    def handler(self, datums):
        return None

class Pages(Sourcer):
    def __init__(self, size=10):
        touch("source-made.txt")
    def read_handler(self, request):
        return []

def two(datums, extra):
    pass

class NoRead:
    def ack_handler(self, request):
        pass

def needs(datum):
    yield datum
)");
  auto check = [&](const std::string& flow_file) {
    return run_process(SLUICE_BIN, {"check", flow_file}, options());
  };
  RunResult sink_ok = check(sink_flow("{module: handlers, class: Ledger, args: {path: x}}"));
  EXPECT_EQ(sink_ok.exit_code, 0) << sink_ok;
  RunResult source_ok = check(source_flow("{module: handlers, class: Pages}"));
  EXPECT_EQ(source_ok.exit_code, 0) << source_ok;
  EXPECT_FALSE(fs::exists(at("sink-made.txt")));
  EXPECT_FALSE(fs::exists(at("source-made.txt")));

  RunResult sig = check(sink_flow("{module: handlers, function: two}"));
  EXPECT_EQ(sig.exit_code, 2) << sig;
  EXPECT_TRUE(contains(sig.err, "config.function: handlers.two(datums, extra) from handlers (" +
                                    dir() + "/handlers.py) has the wrong signature: a sink "
                                    "handler is handler(datums), called once per batch\n"))
      << sig;
  RunResult args = check(sink_flow("{module: handlers, class: Ledger}"));
  EXPECT_EQ(args.exit_code, 2) << args;
  EXPECT_TRUE(contains(args.err, "config.class: handlers.Ledger(**args) would fail: missing a "
                                     "required argument: 'path'"))
      << args;
  RunResult no_read = check(source_flow("{module: handlers, class: NoRead}"));
  EXPECT_EQ(no_read.exit_code, 2) << no_read;
  EXPECT_TRUE(contains(no_read.err, "config.class: handlers.NoRead has no read_handler(self, "
                                        "request) method"))
      << no_read;
  RunResult needs = check(source_flow("{module: handlers, function: needs}"));
  EXPECT_EQ(needs.exit_code, 2) << needs;
  EXPECT_TRUE(contains(needs.err, "config.function: handlers.needs(datum) has the wrong "
                                      "signature: a source function takes no positional"))
      << needs;
  RunResult missing = check(source_flow("{module: handlers, function: nothing}"));
  EXPECT_EQ(missing.exit_code, 2) << missing;
  EXPECT_TRUE(contains(missing.err, "config.function: handlers (" + dir() +
                                        "/handlers.py) has no function \"nothing\""))
      << missing;
  EXPECT_FALSE(fs::exists(at("sink-made.txt")));
  EXPECT_FALSE(fs::exists(at("source-made.txt")));
}

TEST_F(PythonSource, SigtermStopsAStreamingPythonSourceAndSinkCleanly) {
  // An endless source that is idle between messages (yield None), into a Python sink;
  // on SIGTERM the source stops, everything drains and is acked, the generator is
  // closed (its finally runs) and the sink's close() runs.
  write("handlers.py", R"(
import time
from sluice import Message, Offset, Response, Sinker

def endless(marker):
    n = 0
    try:
        while True:
            yield Message(str(n), offset=Offset(n))
            n += 1
            yield None  # nothing more now: the read ends, the host polls again
            time.sleep(0.001)
    finally:
        with open(marker, "w") as f:
            f.write("generator closed\n")

class Writer(Sinker):
    def __init__(self, path):
        self.file = open(path, "a")

    def handler(self, datums):
        for d in datums:
            self.file.write(d.value.decode() + "\n")
        self.file.flush()
        return [Response.as_success(d.id) for d in datums]

    def close(self):
        self.file.write("sink closed\n")
        self.file.close()
)");
  const std::string f = flow(R"(
mode: streaming
stages:
  - name: src
    source: python
    config: {module: handlers, function: endless, args: {marker: )" + at("marker.txt").string() + R"(}}
  - name: out
    sink: python
    config: {module: handlers, class: Writer, args: {path: )" + at("out.txt").string() + R"(}}
)");
  ChildProcess child(SLUICE_BIN, {"run", f}, options());
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (read_lines(at("out.txt")).size() < 3 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  ASSERT_GE(read_lines(at("out.txt")).size(), 3u) << child.wait();
  ASSERT_TRUE(child.signal(SIGTERM));
  RunResult r = child.wait();
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(r.timed_out) << r;
  Lines lines = read_lines(at("out.txt"));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "sink closed");
  lines.pop_back();
  EXPECT_EQ(lines, numbered("", lines.size()));  // in order, no gap, no duplicate
  EXPECT_EQ(read_file(at("marker.txt")), "generator closed\n");
  const auto rows = summary(r.err);
  EXPECT_EQ(rows.at("out").in, static_cast<int64_t>(lines.size())) << r;
}

}  // namespace
}  // namespace sluice::test
