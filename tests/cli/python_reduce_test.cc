// Python reducers end to end (`reduce: python`, docs/python-reducers.md), through the
// real `sluice` binary and the embedded interpreter: a numaflow-style Reducer class and
// a function reducer (sums per key per fixed window, from the generator's event times),
// a reduce streamer, a session reducer whose sessions merge, a numaflow-python example
// run with only its imports changed, a handler that raises, and `sluice check`.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include "python_test_support.h"

namespace sluice::test {
namespace {

// The 1-based number of the line of `text` holding `needle`.
size_t line_of(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  size_t n = 1;
  for (size_t i = 0; i < at && i < text.size(); ++i) n += text[i] == '\n';
  return n;
}

class PythonReduceTest : public PythonFlowTest {
 protected:
  // The generator's 10 messages, value n, key key-<n mod 2>, event time 1000 + 1000 n,
  // into the python reducer `sums` with `config` and 4 s fixed windows, then out.txt.
  std::string generator_flow(const std::string& config, const std::string& window = "{fixed: 4s}") const {
    return flow(R"(
name: py-reduce
mode: job
stages:
  - {name: gen, source: generator, config: {count: 10, keys: 2, template: "{seq}", eventTimeStart: 1000, eventTimeStep: 1000}}
  - {name: sums, reduce: python, window: )" + window + R"(, config: )" + config + R"(}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  }
  // The fixtures' ack source with these events (key@ms), sessions of 3 s.
  std::string session_flow(const std::string& events, const std::string& config) const {
    return flow(std::string("plugins: [") + SLUICE_FIXTURE_DIR + R"(]
name: py-sessions
mode: job
stages:
  - name: in
    source: test-ack-source
    config: {events: )" + events + ", ack_log: " + at("acks.txt").string() + R"(}
    watermark: {maxDelay: 1m}
  - {name: sessions, reduce: python, window: {session: {gap: 3s}}, config: )" + config + R"(}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  }
};

// Per key and 4 s window (message n at 1000 + 1000 n, key key-<n mod 2>):
//   [0,4000): key-0 0+2, key-1 1;  [4000,8000): key-0 4+6, key-1 3+5;
//   [8000,12000): key-0 8, key-1 7+9. Windows close in order of end, then key.
const Lines kSums = {"key-0 0-4000 sum=2",  "key-1 0-4000 sum=1",  "key-0 4000-8000 sum=10",
                     "key-1 4000-8000 sum=8", "key-0 8000-12000 sum=8", "key-1 8000-12000 sum=16"};

constexpr const char* kSumHandlers = R"(from collections.abc import AsyncIterable
from sluice import Datum, Message, Messages, Metadata, Reducer


def window_text(md):
    w = md.interval_window
    ms = lambda t: int(t.timestamp() * 1000)
    return "%d-%d" % (ms(w.start), ms(w.end))


class Sum(Reducer):
    def __init__(self, label="sum"):
        self.label = label
        self.total = 0  # a new instance per window: never carried over

    async def handler(self, keys: list[str], datums: AsyncIterable[Datum], md: Metadata) -> Messages:
        async for d in datums:
            self.total += int(d.value)
        text = "%s %s %s=%d" % (keys[0], window_text(md), self.label, self.total)
        return Messages(Message(text.encode(), keys=keys))


def sum_sync(keys, datums, md):
    total = sum(int(d.value) for d in datums)
    return "%s %s sum=%d" % (keys[0], window_text(md), total)
)";

TEST_F(PythonReduceTest, ANumaflowStyleReducerClassSumsPerKeyAndWindow) {
  write("h.py", kSumHandlers);
  const RunResult r = run(generator_flow("{module: h, class: Sum}"), {"--no-summary"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), kSums);
}

TEST_F(PythonReduceTest, AFunctionReducerWithArgsAndAPlainReturn) {
  write("h.py", kSumHandlers);
  const RunResult r = run(generator_flow("{module: h, function: sum_sync}"), {"--no-summary"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), kSums);

  // A class's args go to its constructor, once per window.
  const RunResult c = run(generator_flow("{module: h, class: Sum, args: {label: total}}"), {"--no-summary"});
  ASSERT_EQ(c.exit_code, 0) << c;
  EXPECT_EQ(read_lines(at("out.txt")).front(), "key-0 0-4000 total=2");
}

// A reduce streamer puts results on `output` as it goes: here every time the running
// sum reaches 5, and the rest at the end of the window (numaflow's ReduceSum shape).
TEST_F(PythonReduceTest, AReduceStreamerPutsResultsAsItGoes) {
  write("h.py", R"(from sluice import Datum, Message, Metadata, NonBlockingIterator, ReduceStreamer


class StreamSum(ReduceStreamer):
    def __init__(self, threshold=5):
        self.threshold = threshold

    async def handler(self, keys, datums, output: NonBlockingIterator, md: Metadata):
        total = 0
        async for d in datums:
            total += int(d.value)
            if total >= self.threshold:
                await output.put(Message(("%s %d" % (keys[0], total)).encode(), keys=keys))
                total = 0
        await output.put(Message(("%s rest %d" % (keys[0], total)).encode(), keys=keys))


async def plain(keys, datums, output, md):  # four arguments: a streamer by its shape
    async for d in datums:
        await output.put(d.value)
)");
  const RunResult r = run(generator_flow("{module: h, class: StreamSum}", "{fixed: 10s}"), {"--no-summary"});
  ASSERT_EQ(r.exit_code, 0) << r;
  // [0,10000): key-0 0 2 4 | 6 | 8; key-1 1 3 5 | 7; [10000,20000): key-1 9. An async
  // streamer's puts are emitted as its datums arrive, so windows interleave (the order
  // depends on the batches): compared sorted.
  EXPECT_EQ(sorted(read_lines(at("out.txt"))),
            sorted(Lines{"key-0 6", "key-0 6", "key-0 8", "key-0 rest 0", "key-1 9", "key-1 7", "key-1 rest 0",
                         "key-1 9", "key-1 rest 0"}));

  const RunResult p = run(generator_flow("{module: h, function: plain}", "{fixed: 100s}"), {"--no-summary"});
  ASSERT_EQ(p.exit_code, 0) << p;
  EXPECT_EQ(sorted(read_lines(at("out.txt"))), sorted(numbered("", 10)));

  // A plain `def` streamer (and a class without a sluice base, by its four arguments)
  // runs buffered: each window's puts come when it closes, in order.
  write("h2.py", R"(class Evens:
    def handler(self, keys, datums, output, md):
        for d in datums:
            if int(d.value) % 2 == 0:
                output.put_nowait(d.value)
)");
  const RunResult e = run(generator_flow("{module: h2, class: Evens}", "{fixed: 100s}"), {"--no-summary"});
  ASSERT_EQ(e.exit_code, 0) << e;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"0", "2", "4", "6", "8"}));
}

// An `async def` reduce streamer streams: what it puts is emitted while the window is
// still open (here it never closes: maxDelay 1h), and a stop cancels it (its end-of-
// window put never comes). A session window merge cannot merge two running handlers.
TEST_F(PythonReduceTest, AnAsyncReduceStreamerEmitsWhileTheWindowIsOpen) {
  write("h.py", R"(async def echo(keys, datums, output, md):
    async for d in datums:
        await output.put(d.value)
    await output.put(b"end " + keys[0].encode())
)");
  const std::string f = flow(std::string("plugins: [") + SLUICE_FIXTURE_DIR + R"(]
name: py-stream
stages:
  - name: in
    source: test-ack-source
    config: {events: [a@1000, a@2000, b@1500], hold: true, ack_log: )" + at("acks.txt").string() + R"(}
    watermark: {maxDelay: 1h}
  - {name: echo, reduce: python, window: {fixed: 10s}, config: {module: h, function: echo}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  ChildProcess proc(SLUICE_BIN, {"run", f, "--no-summary"}, options());
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (read_lines(at("out.txt")).size() < 3 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  EXPECT_EQ(sorted(read_lines(at("out.txt"))), (Lines{"a@1000", "a@2000", "b@1500"})) << proc.err_so_far();
  EXPECT_TRUE(proc.running());
  proc.signal(SIGTERM);
  const RunResult r = proc.wait();
  EXPECT_EQ(r.exit_code, 4) << r;  // the windows stay open: not acknowledged
  EXPECT_EQ(sorted(read_lines(at("out.txt"))), (Lines{"a@1000", "a@2000", "b@1500"}));

  const RunResult s = run(session_flow("[a@1000, a@5000, a@3500]", "{module: h, function: echo}"), {"--no-summary"});
  EXPECT_EQ(s.exit_code, 1) << s;
  EXPECT_TRUE(contains(s.err, "h.echo is a streaming reducer (mode: stream, async def), whose running "
                              "windows cannot merge: for session windows use a session reducer"))
      << s;
}

// A session reducer: a@1000 and a@5000 open two sessions ([1000,4000), [5000,8000)),
// which a@3500 merges into [1000,8000); b@1000 and b@4000 are exactly the gap apart,
// two sessions. The merged session's datums all reach one handler call.
TEST_F(PythonReduceTest, ASessionReducerSeesMergedSessionsWhole) {
  write("h.py", R"(from sluice import Message, SessionReduceStreamer


class Collect(SessionReduceStreamer):
    def __init__(self):
        self.values = []

    async def session_reduce_handler(self, keys, datums, output):
        async for d in datums:
            self.values.append(d.value.decode())
        await output.put(Message(("%s %d %s" % (keys[0], len(self.values), ",".join(sorted(self.values)))).encode(), keys=keys))

    async def accumulator(self) -> bytes:
        return ",".join(self.values).encode()

    async def merge_accumulator(self, accumulator: bytes):
        self.values.extend(accumulator.decode().split(","))


async def count(keys, datums, output):
    n = 0
    async for _ in datums:
        n += 1
    await output.put(Message(("%s %d" % (keys[0], n)).encode()))
)");
  const std::string events = "[a@1000, a@5000, b@1000, b@4000, a@3500]";
  const RunResult r = run(session_flow(events, "{module: h, class: Collect}"), {"--no-summary"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"b 1 b@1000", "b 1 b@4000", "a 3 a@1000,a@3500,a@5000"}));

  // A function needs mode: session (three arguments read as handler(keys, datums, md)).
  const RunResult f = run(session_flow(events, "{module: h, function: count, mode: session}"), {"--no-summary"});
  ASSERT_EQ(f.exit_code, 0) << f;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"b 1", "b 1", "a 3"}));
}

// numaflow-python's reduce counter example, as its docs show it, with only its imports
// changed (pynumaflow.reducer -> sluice); the server block never runs under Sluice.
TEST_F(PythonReduceTest, ANumaflowPythonReducerRunsWithOnlyItsImportsChanged) {
  write("counter.py", R"(import os
from collections.abc import AsyncIterable

from sluice import Messages, Message, Datum, Metadata, ReduceAsyncServer, Reducer


class ReduceCounter(Reducer):
    def __init__(self, counter):
        self.counter = counter

    async def handler(
        self, keys: list[str], datums: AsyncIterable[Datum], md: Metadata
    ) -> Messages:
        interval_window = md.interval_window
        self.counter = 0
        async for _ in datums:
            self.counter += 1
        msg = (
            f"counter:{self.counter} interval_window_start:{interval_window.start} "
            f"interval_window_end:{interval_window.end}"
        )
        return Messages(Message(str.encode(msg), keys=keys))


async def reduce_handler(keys: list[str], datums: AsyncIterable[Datum], md: Metadata) -> Messages:
    interval_window = md.interval_window
    counter = 0
    async for _ in datums:
        counter += 1
    msg = (
        f"counter:{counter} interval_window_start:{interval_window.start} "
        f"interval_window_end:{interval_window.end}"
    )
    return Messages(Message(str.encode(msg), keys=keys))


if __name__ == "__main__":
    invoke = os.getenv("INVOKE", "func_handler")
    if invoke == "class":
        grpc_server = ReduceAsyncServer(ReduceCounter, init_args=(0,))
    else:
        grpc_server = ReduceAsyncServer(reduce_handler)
    grpc_server.start()
)");
  const Lines want = {
      "counter:2 interval_window_start:1970-01-01 00:00:00+00:00 interval_window_end:1970-01-01 00:00:04+00:00",
      "counter:1 interval_window_start:1970-01-01 00:00:00+00:00 interval_window_end:1970-01-01 00:00:04+00:00",
      "counter:2 interval_window_start:1970-01-01 00:00:04+00:00 interval_window_end:1970-01-01 00:00:08+00:00",
      "counter:2 interval_window_start:1970-01-01 00:00:04+00:00 interval_window_end:1970-01-01 00:00:08+00:00",
      "counter:1 interval_window_start:1970-01-01 00:00:08+00:00 interval_window_end:1970-01-01 00:00:12+00:00",
      "counter:2 interval_window_start:1970-01-01 00:00:08+00:00 interval_window_end:1970-01-01 00:00:12+00:00"};
  const RunResult f = run(generator_flow("{module: counter, function: reduce_handler}"), {"--no-summary"});
  ASSERT_EQ(f.exit_code, 0) << f;
  EXPECT_EQ(read_lines(at("out.txt")), want);
  const RunResult c = run(generator_flow("{module: counter, class: ReduceCounter, args: {counter: 0}}"),
                          {"--no-summary"});
  ASSERT_EQ(c.exit_code, 0) << c;
  EXPECT_EQ(read_lines(at("out.txt")), want);
}

// A handler that raises fails the flow (exit 1) with the exception and where it was
// raised.
TEST_F(PythonReduceTest, AHandlerThatRaisesFailsTheFlow) {
  const std::string code = R"(async def broken(keys, datums, md):
    async for d in datums:
        if d.value == b"5":
            raise ValueError("no fives")
    return b"ok"
)";
  write("h.py", code);
  const RunResult r = run(generator_flow("{module: h, function: broken}"), {"--no-summary"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(contains(r.err, "h.broken raised ValueError: no fives")) << r;
  EXPECT_TRUE(contains(r.err, "h.py:" + std::to_string(line_of(code, "raise ValueError")))) << r;
  // A result that is no message fails it too.
  write("h.py", "def bad(keys, datums, md):\n    return 42\n");
  const RunResult b = run(generator_flow("{module: h, function: bad}"), {"--no-summary"});
  EXPECT_EQ(b.exit_code, 1) << b;
  EXPECT_TRUE(contains(b.err, "h.bad returned int; a reducer returns Messages")) << b;
}

// A stop closes no window (reduce.md, Delivery): the python reducer drops the buffered
// datums without calling the handler; with --flush-windows the windows close and the
// handler runs.
TEST_F(PythonReduceTest, AStopDiscardsWindowsWithoutCallingTheHandler) {
  write("h.py", R"(import os

def count(keys, datums, md):
    with open(os.path.join(os.path.dirname(__file__), "called.txt"), "a") as f:
        f.write(keys[0] + "\n")
    return "%s %d" % (keys[0], len(datums))
)");
  const std::string f = flow(std::string("plugins: [") + SLUICE_FIXTURE_DIR + R"(]
name: py-stop
stages:
  - name: in
    source: test-ack-source
    config: {events: [a@1000, a@2000, b@1500], hold: true, ack_log: )" + at("acks.txt").string() + R"(}
    watermark: {maxDelay: 1h}
  - {name: counts, reduce: python, window: {fixed: 10s}, config: {module: h, function: count}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  {
    ChildProcess proc(SLUICE_BIN, {"run", f, "--no-summary"}, options());
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    proc.signal(SIGTERM);
    const RunResult r = proc.wait();
    EXPECT_EQ(r.exit_code, 4) << r;
    EXPECT_TRUE(contains(r.err, "2 open window(s) not closed at the stop")) << r;
    EXPECT_FALSE(std::filesystem::exists(at("called.txt")));
    EXPECT_EQ(read_file(at("out.txt")), "");
  }
  {
    ChildProcess proc(SLUICE_BIN, {"run", f, "--no-summary", "--flush-windows"}, options());
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    proc.signal(SIGTERM);
    const RunResult r = proc.wait();
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(read_lines(at("out.txt")), (Lines{"a 2", "b 1"}));
    EXPECT_EQ(read_lines(at("called.txt")), (Lines{"a", "b"}));
  }
}

// `sluice check` imports the module and checks the handler's signature for its mode.
TEST_F(PythonReduceTest, CheckRejectsAWrongSignature) {
  write("h.py", R"(from sluice import Reducer, SessionReducer

def two(keys, datums):
    return None

def three(keys, datums, md):
    return None

class NoHandler(Reducer):
    def handle(self, keys, datums, md):
        return None

class Session(SessionReducer):
    async def session_reduce_handler(self, keys, datums, output):
        pass
)");
  auto check = [&](const std::string& config) {
    return run_process(SLUICE_BIN, {"check", generator_flow(config)}, options());
  };
  const RunResult ok = check("{module: h, function: three}");
  EXPECT_EQ(ok.exit_code, 0) << ok;
  const RunResult two = check("{module: h, function: two}");
  EXPECT_EQ(two.exit_code, 2) << two;
  EXPECT_TRUE(contains(two.err, "config.function: h.two(keys, datums) from h (" + dir() +
                                    "/h.py) has the wrong signature: a reducer is handler(keys, datums, md) "
                                    "(or set mode: stream / session)"))
      << two;
  const RunResult stream = check("{module: h, function: three, mode: stream}");
  EXPECT_EQ(stream.exit_code, 2) << stream;
  EXPECT_TRUE(contains(stream.err, "a reduce streamer is handler(keys, datums, output, md)")) << stream;
  const RunResult abstract = check("{module: h, class: NoHandler}");
  EXPECT_EQ(abstract.exit_code, 2) << abstract;
  EXPECT_TRUE(contains(abstract.err, "h.NoHandler is abstract: it does not define handler")) << abstract;
  const RunResult mismatch = check("{module: h, class: Session, mode: reduce}");
  EXPECT_EQ(mismatch.exit_code, 2) << mismatch;
  EXPECT_TRUE(contains(mismatch.err, "h.Session is a sluice.SessionReducer (session), but mode is reduce"))
      << mismatch;
  const RunResult map_mode = check("{module: h, function: three, mode: batch}");
  EXPECT_EQ(map_mode.exit_code, 2) << map_mode;
  EXPECT_TRUE(contains(map_mode.err, "config.mode: expected one of reduce, stream, session, got \"batch\""))
      << map_mode;
}

}  // namespace
}  // namespace sluice::test
