// End-to-end tests of the `python` type's map kinds beyond the plain map: map-stream
// (generators), batch map, source transform, `async def` handlers, `mode:` and the
// kind a handler's class base gives, and `threads:` overlapping handlers that release
// the GIL. Each test writes a flow and a handler module into a fresh temporary folder
// and runs the real `sluice` binary on it. The spec these follow is docs/python-maps.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "python_test_support.h"

namespace sluice::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Lines "<value> <start> <end>" (times in seconds) -> values, and the span from the
// first start to the last end.
struct Timed {
  Lines values;
  double span = 0;
};

Timed timed(const Lines& lines) {
  Timed t;
  double first = 1e300, last = 0;
  for (const std::string& line : lines) {
    std::istringstream in(line);
    std::string value;
    double start = 0, end = 0;
    in >> value >> start >> end;
    t.values.push_back(value);
    first = std::min(first, start);
    last = std::max(last, end);
  }
  t.span = last - first;
  return t;
}

using PythonMapStream = PythonMapFlowTest;
using PythonBatchMap = PythonMapFlowTest;
using PythonSourceTransform = PythonMapFlowTest;
using PythonAsyncMap = PythonMapFlowTest;
using PythonMapMode = PythonMapFlowTest;
using PythonThreads = PythonMapFlowTest;

// --- map-stream --------------------------------------------------------------------------

TEST_F(PythonMapStream, AGeneratorFunctionIsAStreamAndEachYieldIsAnOutput) {
  write("handlers.py", R"(
from sluice import Message

def words(datum):
    for word in datum.value.split():
        yield Message(word, tags=["word"])
    yield b"--"
)");
  write("in.txt", "a b c\nd\n\n");
  RunResult r = run(map_flow("{module: handlers, function: words}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"a", "b", "c", "--", "d", "--", "--"}));
  EXPECT_EQ(summary(r.err).at("up").out, 7) << r;
}

TEST_F(PythonMapStream, NumaflowAsyncMapStreamHandlerPortsWithOnlyItsImportsChanged) {
  // numaflow-python's flatmap_stream example: `pynumaflow.mapstreamer` -> `sluice`, the
  // server start-up left out.
  write("example.py", R"(
from collections.abc import AsyncIterable

from sluice import Message, Datum


async def map_stream_handler(_: list[str], datum: Datum) -> AsyncIterable[Message]:
    """
    A handler that splits the input datum value into multiple strings by `,` separator and
    emits them as a stream.
    """
    val = datum.value
    _ = datum.event_time
    _ = datum.watermark
    strs = val.decode("utf-8").split(",")

    if len(strs) == 0:
        yield Message.to_drop()
        return
    for s in strs:
        yield Message(str.encode(s))
)");
  write("in.txt", "a,b,c\nd\ne,f\n");
  RunResult r = run(map_flow("{module: example, function: map_stream_handler}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  // Outputs in input order, then in yield order, though the generators ran concurrently.
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"a", "b", "c", "d", "e", "f"}));
}

TEST_F(PythonMapStream, MapStreamerSubclassWithArgsAndAwaitInside) {
  write("handlers.py", R"(
import asyncio
from sluice import MapStreamer, Message

class Repeat(MapStreamer):
    def __init__(self, times):
        self.times = times

    async def handler(self, keys, datum):
        for n in range(self.times):
            await asyncio.sleep(0)
            yield Message(datum.value + b"." + str(n).encode(), keys=["k"])
)");
  write("in.txt", "x\ny\n");
  RunResult r = run(map_flow("{module: handlers, class: Repeat, args: {times: 3}}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"x.0", "x.1", "x.2", "y.0", "y.1", "y.2"}));
}

TEST_F(PythonMapStream, AnExceptionMidStreamFailsThatMessageAloneWithNoneOfItsOutputs) {
  // Whatever the failing message yielded before raising goes nowhere; the others pass.
  write("handlers.py", R"(
def sync_split(datum):
    yield datum.value + b"-1"
    if datum.value == b"bad":
        raise ValueError("no second part")
    yield datum.value + b"-2"

async def async_split(datum):
    yield datum.value + b"-1"
    if datum.value == b"bad":
        raise ValueError("no second part")
    yield datum.value + b"-2"
)");
  write("in.txt", "a\nbad\nc\n");
  for (const std::string fn : {"sync_split", "async_split"}) {
    RunResult r = run(map_flow("{module: handlers, function: " + fn + "}",
                               "    onError: {then: drop}"));
    ASSERT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(read_lines(at("out.txt")), (Lines{"a-1", "a-2", "c-1", "c-2"})) << fn;
    EXPECT_EQ(summary(r.err).at("up").failed, 1) << r;
    EXPECT_TRUE(contains(r.err, "ValueError: no second part (at " + dir() + "/handlers.py:")) << r;
  }
}

TEST_F(PythonMapStream, YieldingSomethingElseFailsTheMessageSayingWhatIsExpected) {
  write("handlers.py", "def count(datum):\n    yield datum.value\n    yield 7\n");
  write("in.txt", "a\n");
  RunResult r = run(map_flow("{module: handlers, function: count}"));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(contains(r.err, "message 0: handlers.count yielded int; a map-stream handler yields "
                              "sluice.Message, bytes or str\n"))
      << r;
}

// --- batch map ---------------------------------------------------------------------------

TEST_F(PythonBatchMap, NumaflowBatchMapperFlatmapPortsWithOnlyItsImportsChanged) {
  // numaflow-python's batchmap flatmap example, `pynumaflow.batchmapper` -> `sluice`.
  write("example.py", R"(
from collections.abc import AsyncIterable

from sluice import (
    Message,
    Datum,
    BatchMapper,
    BatchResponses,
    BatchResponse,
)


class Flatmap(BatchMapper):
    """
    This is a class that inherits from the BatchMapper class.
    It implements a flatmap operation over a batch of input messages
    """

    async def handler(
        self,
        datums: AsyncIterable[Datum],
    ) -> BatchResponses:
        batch_responses = BatchResponses()
        async for datum in datums:
            val = datum.value
            _ = datum.event_time
            _ = datum.watermark
            strs = val.decode("utf-8").split(",")
            batch_response = BatchResponse.from_id(datum.id)
            if len(strs) == 0:
                batch_response.append(Message.to_drop())
            else:
                for s in strs:
                    batch_response.append(Message(str.encode(s)))
            batch_responses.append(batch_response)

        return batch_responses
)");
  write("in.txt", "a,b,c\nd\ne,f\n");
  RunResult r = run(map_flow("{module: example, class: Flatmap}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"a", "b", "c", "d", "e", "f"}));
  EXPECT_EQ(summary(r.err).at("up").in, 3) << r;
  EXPECT_EQ(summary(r.err).at("up").out, 6) << r;
}

TEST_F(PythonBatchMap, PlainFunctionWithModeBatchGetsAtMostBatchDatumsAndReturnsAList) {
  // Each entry is what a map handler returns for its datum; the batch size is the
  // stage's `batch:`.
  write("handlers.py", R"(
from sluice import Message, Messages

def per_batch(datums):
    out = []
    for d in datums:
        n = int(d.value)
        if n % 3 == 0:
            out.append(None)                                     # filtered out
        elif n % 3 == 1:
            out.append(f"{n} of {len(datums)}")                  # one output
        else:
            out.append(Messages(Message(str(n)), Message(str(-n))))  # two
    return out
)");
  std::string input;
  for (int i = 0; i < 12; ++i) input += std::to_string(i) + "\n";
  write("in.txt", input);
  RunResult r = run(map_flow("{module: handlers, function: per_batch, mode: batch}",
                             "    batch: 4"));
  ASSERT_EQ(r.exit_code, 0) << r;
  Lines values;
  for (const std::string& line : read_lines(at("out.txt"))) {
    const size_t of = line.find(" of ");
    if (of != std::string::npos) {
      const int size = std::stoi(line.substr(of + 4));
      EXPECT_GE(size, 1) << line;
      EXPECT_LE(size, 4) << "a batch holds at most `batch:` datums: " << line;
      values.push_back(line.substr(0, of));
    } else {
      values.push_back(line);
    }
  }
  EXPECT_EQ(values, (Lines{"1", "2", "-2", "4", "5", "-5", "7", "8", "-8", "10", "11", "-11"}));
  EXPECT_EQ(summary(r.err).at("up").dropped, 4) << r;
}

TEST_F(PythonBatchMap, DatumIdsAreUniqueWithinABatchAndCarryNoRepeats) {
  // A flat map upstream gives two messages with one source id; the batch handler sees
  // them as "<id>" and "<id>#2" and answers each.
  write("handlers.py", R"(
from sluice import BatchResponse, BatchResponses, Message

def twice(datum):
    return [datum.value, datum.value]

def ids(datums):
    responses = BatchResponses()
    for d in reversed(list(datums)):        # any order: answers go by id
        responses.append(BatchResponse.from_id(d.id).append(Message(d.value + b" " + d.id.encode())))
    return responses
)");
  write("in.txt", "a\nb\n");
  const std::string f = flow(R"(
mode: job
stages:
  - {name: in, source: file, config: {path: in.txt}}
  - {name: two, map: python, config: {module: handlers, function: twice}}
  - {name: up, map: python, config: {module: handlers, function: ids, mode: batch}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  // Emitted in input order whatever the order of the responses; file ids are offsets.
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"a 0", "a 0#2", "b 2", "b 2#2"}));
}

TEST_F(PythonBatchMap, ADatumWithoutAResponseFailsAlone) {
  write("handlers.py", R"(
from sluice import BatchResponse, BatchResponses

def skip_bad(datums):
    responses = BatchResponses()
    for d in datums:
        if d.value != b"bad":
            responses.append(BatchResponse.from_id(d.id).append(d.value.upper()))
    return responses
)");
  write("in.txt", "a\nbad\nc\n");
  RunResult r = run(map_flow("{module: handlers, function: skip_bad, mode: batch}",
                             "    onError: {then: drop}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"A", "C"}));
  EXPECT_EQ(summary(r.err).at("up").failed, 1) << r;

  RunResult f = run(map_flow("{module: handlers, function: skip_bad, mode: batch}"));
  EXPECT_EQ(f.exit_code, 1) << f;
  // "message 2": the failed message's id (its offset in in.txt), as the host says it.
  EXPECT_TRUE(contains(f.err, "message 2: handlers.skip_bad returned no BatchResponse for datum "
                              "'2' (each datum of the batch needs one)\n"))
      << f;
}

TEST_F(PythonBatchMap, AnExceptionFailsEveryMessageOfTheBatch) {
  write("handlers.py", R"(
async def boom(datums):
    async for d in datums:
        if d.value == b"bad":
            raise ValueError("cannot take " + repr(d.value))
    return [d.value for d in datums]
)");
  write("in.txt", "a\nbad\nc\n");
  RunResult r = run(map_flow("{module: handlers, function: boom, mode: batch}",
                             "    onError: {then: drop}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_file(at("out.txt")), "");
  EXPECT_EQ(summary(r.err).at("up").failed, 3) << r;
  EXPECT_EQ(summary(r.err).at("up").dropped, 3) << r;

  RunResult f = run(map_flow("{module: handlers, function: boom, mode: batch}"));
  EXPECT_EQ(f.exit_code, 1) << f;
  EXPECT_TRUE(contains(f.err, "message 0 (and 2 more): ValueError: cannot take b'bad' (at " +
                                  dir() + "/handlers.py:5 in boom)\n"))
      << f;
}

TEST_F(PythonBatchMap, AWrongResultFailsTheBatchSayingWhatIsExpected) {
  write("handlers.py", R"(
from sluice import BatchResponse, BatchResponses

def short(datums):
    return [d.value for d in datums][:-1]

def number(datums):
    return 7

def stranger(datums):
    return BatchResponses(BatchResponse.from_id("nobody"))

def bad_entry(datums):
    return [d.value if d.value != b"b" else 3.5 for d in datums]
)");
  write("in.txt", "a\nb\n");
  const std::string expected =
      "a batch map handler returns sluice.BatchResponses (a BatchResponse per datum id) or a "
      "list with one entry per datum, in order\n";
  RunResult s = run(map_flow("{module: handlers, function: short, mode: batch}"));
  EXPECT_EQ(s.exit_code, 1) << s;
  EXPECT_TRUE(contains(s.err, "message 0 (and 1 more): handlers.short returned a list of 1 entries for 2 datums; " +
                                  expected))
      << s;
  RunResult n = run(map_flow("{module: handlers, function: number, mode: batch}"));
  EXPECT_TRUE(contains(n.err, "message 0 (and 1 more): handlers.number returned int; " + expected)) << n;
  RunResult st = run(map_flow("{module: handlers, function: stranger, mode: batch}"));
  EXPECT_TRUE(contains(st.err, "message 0 (and 1 more): handlers.stranger returned a BatchResponse for id "
                               "'nobody', which no datum of the batch has\n"))
      << st;
  // One bad entry fails its datum alone.
  RunResult b = run(map_flow("{module: handlers, function: bad_entry, mode: batch}",
                             "    onError: {then: drop}"));
  ASSERT_EQ(b.exit_code, 0) << b;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"a"}));
  EXPECT_TRUE(contains(b.err, "handlers.bad_entry's entry for this datum is float; expected "
                              "sluice.Message"))
      << b;
}

// --- source transform -------------------------------------------------------------------

TEST_F(PythonSourceTransform, NumaflowEventTimeFilterPortsAndTheEventTimeReachesTheNextStage) {
  // numaflow-python's event_time_filter, as a SourceTransformer class (imports changed),
  // reading the event time it filters on from the value; the next stage sees the event
  // time the transform set.
  write("transform.py", R"(
import datetime
import json

from sluice import Messages, Message, Datum, SourceTransformer

january_first_2022 = datetime.datetime(2022, 1, 1, tzinfo=datetime.timezone.utc)
january_first_2023 = datetime.datetime(2023, 1, 1, tzinfo=datetime.timezone.utc)


class EventTimeFilter(SourceTransformer):
    def handler(self, keys: list[str], datum: Datum) -> Messages:
        val = datum.value
        event_time = datetime.datetime.fromisoformat(json.loads(val)["at"])
        messages = Messages()

        if event_time < january_first_2022:
            messages.append(Message.to_drop(event_time))
        elif event_time < january_first_2023:
            messages.append(
                Message(value=val, event_time=january_first_2022, tags=["within_year_2022"])
            )
        else:
            messages.append(Message(value=val, event_time=january_first_2023, tags=["after_year_2022"]))

        return messages


def show(datum):
    return f"{json.loads(datum.value)['n']} {datum.event_time_ms} {datum.event_time.isoformat()} {datum.tags}"
)");
  write("in.jsonl",
        R"({"n": 1, "at": "2021-06-01T00:00:00+00:00"})" "\n"
        R"({"n": 2, "at": "2022-03-04T05:06:07+00:00"})" "\n"
        R"({"n": 3, "at": "2024-02-29T12:00:00+00:00"})" "\n");
  const std::string f = flow(R"(
mode: job
stages:
  - {name: in, source: file, config: {path: in.jsonl}}
  - {name: up, map: python, config: {module: transform, class: EventTimeFilter}}
  - {name: show, map: python, config: {module: transform, function: show}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")),
            (Lines{"2 1640995200000 2022-01-01T00:00:00+00:00 ['within_year_2022']",
                   "3 1672531200000 2023-01-01T00:00:00+00:00 ['after_year_2022']"}));
  EXPECT_EQ(summary(r.err).at("up").dropped, 1) << r;
}

TEST_F(PythonSourceTransform, AFunctionSetsEventTimesAsMillisecondsOrNaiveUtcDatetimes) {
  write("transform.py", R"(
import datetime
from sluice import Message

def stamp(keys, datum):
    n = int(datum.value)
    if n % 2:
        return Message(datum.value, event_time=n * 1000)
    return Message(datum.value, event_time=datetime.datetime(2020, 1, 1, 0, 0, n))

def show(datum):
    return f"{datum.value.decode()} {datum.event_time_ms}"
)");
  write("in.txt", "1\n2\n");
  const std::string f = flow(R"(
mode: job
stages:
  - {name: in, source: file, config: {path: in.txt}}
  - {name: stamp, map: python, config: {module: transform, function: stamp}}
  - {name: show, map: python, config: {module: transform, function: show}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"1 1000", "2 1577836802000"}));
}

// --- async def ----------------------------------------------------------------------------

TEST_F(PythonAsyncMap, CoroutinesOfABatchRunConcurrently) {
  // 20 handlers sleeping 50 ms each take about 50 ms together, not a second.
  write("handlers.py", R"(
import asyncio, time

async def slow(datum):
    start = time.monotonic()
    await asyncio.sleep(0.05)
    return f"{datum.value.decode()} {start:.4f} {time.monotonic():.4f}"
)");
  std::string input;
  for (int i = 0; i < 20; ++i) input += "m" + std::to_string(i) + "\n";
  write("in.txt", input);
  RunResult r = run(map_flow("{module: handlers, function: slow}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  const Timed t = timed(read_lines(at("out.txt")));
  Lines expected;
  for (int i = 0; i < 20; ++i) expected.push_back("m" + std::to_string(i));
  EXPECT_EQ(t.values, expected) << "every output, in input order";
  EXPECT_LT(t.span, 0.6) << "the 20 sleeps overlapped";
  std::cerr << "[ measured ] 20 x asyncio.sleep(0.05) in one batch took " << t.span << " s\n";
}

TEST_F(PythonAsyncMap, AnExceptionFailsThatMessageAloneEvenSystemExit) {
  write("handlers.py", R"(
import asyncio, sys
from sluice import Message, Mapper

class Checker(Mapper):
    async def handler(self, keys, datum):
        await asyncio.sleep(0)
        if datum.value == b"bad":
            raise ValueError("cannot take " + repr(datum.value))
        if datum.value == b"quit":
            sys.exit(3)
        return Message(datum.value.upper())
)");
  write("in.txt", "a\nbad\nquit\nd\n");
  RunResult r = run(map_flow("{module: handlers, class: Checker}", "    onError: {then: drop}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"A", "D"}));
  EXPECT_EQ(summary(r.err).at("up").failed, 2) << r;

  write("in.txt", "a\nbad\n");
  RunResult f = run(map_flow("{module: handlers, class: Checker}"));
  EXPECT_EQ(f.exit_code, 1) << f;
  EXPECT_TRUE(contains(f.err, "message 2: ValueError: cannot take b'bad' (at " + dir() +
                                  "/handlers.py:9 in handler)\n"))
      << f;
}

TEST_F(PythonAsyncMap, AnAwaitableFromAPlainFunctionIsAwaited) {
  // A decorator's plain wrapper hides the async def from inspect: what it returns is
  // awaited all the same (one message at a time).
  write("handlers.py", R"(
import asyncio

def logged(fn):
    def wrapper(datum):
        return fn(datum)
    return wrapper

@logged
async def later(datum):
    await asyncio.sleep(0)
    if datum.value == b"bad":
        raise ValueError("not this one")
    return datum.value.upper()
)");
  write("in.txt", "a\nbad\nc\n");
  RunResult r = run(map_flow("{module: handlers, function: later}", "    onError: {then: drop}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (Lines{"A", "C"}));
  EXPECT_TRUE(contains(r.err, "ValueError: not this one (at " + dir() + "/handlers.py:13 in later)"))
      << r;
}

// --- mode and kinds -----------------------------------------------------------------------

TEST_F(PythonMapMode, AClassBaseAndModeThatDisagreeAreAConfigError) {
  write("handlers.py", R"(
from sluice import BatchMapper, MapStreamer, Mapper

class Batcher(BatchMapper):
    def handler(self, datums):
        return [d.value for d in datums]

class Streamer(MapStreamer):
    def handler(self, keys, datum):
        return datum.value

class Both(Mapper, BatchMapper):
    def handler(self, datums):
        return list(datums)

class Yielder(Mapper):
    async def handler(self, keys, datum):
        yield datum.value
)");
  write("in.txt", "a\n");
  RunResult r = run(map_flow("{module: handlers, class: Batcher, mode: map}"));
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(start_error(r), "config.mode: handlers.Batcher is a sluice.BatchMapper (a batch map "
                            "handler), but mode is map");
  RunResult s = run(map_flow("{module: handlers, class: Streamer}"));
  EXPECT_EQ(s.exit_code, 2) << s;
  EXPECT_EQ(start_error(s), "config.class: handlers.Streamer.handler is not a generator; a "
                            "map-stream handler yields its outputs (def or async def with yield)");
  RunResult b = run(map_flow("{module: handlers, class: Both}"));
  EXPECT_EQ(start_error(b), "config.class: handlers.Both subclasses both sluice.Mapper and "
                            "sluice.BatchMapper; it can be only one kind");
  RunResult y = run(map_flow("{module: handlers, class: Yielder}"));
  EXPECT_EQ(start_error(y), "config.class: handlers.Yielder.handler is an async generator, a "
                            "map-stream handler: subclass sluice.MapStreamer");
  // The base's own mode, said again, is fine.
  RunResult ok = run(map_flow("{module: handlers, class: Batcher, mode: batch}"));
  ASSERT_EQ(ok.exit_code, 0) << ok;
  EXPECT_EQ(read_file(at("out.txt")), "a\n");
}

TEST_F(PythonMapMode, ModeMustFitTheFunction) {
  write("handlers.py", R"(
def plain(datum):
    return datum.value

async def agen(datum):
    yield datum.value

def pair(keys, datum):
    return datum.value

def three(a, b, c):
    yield a
)");
  write("in.txt", "a\n");
  RunResult s = run(map_flow("{module: handlers, function: plain, mode: stream}"));
  EXPECT_EQ(s.exit_code, 2) << s;
  EXPECT_EQ(start_error(s), "config.mode: handlers.plain is not a generator; a map-stream "
                            "handler yields its outputs (def or async def with yield)");
  RunResult a = run(map_flow("{module: handlers, function: agen, mode: map}"));
  EXPECT_EQ(start_error(a), "config.mode: handlers.agen is an async generator, a map-stream "
                            "handler: set mode: stream (or leave mode out)");
  RunResult b = run(map_flow("{module: handlers, function: pair, mode: batch}"));
  EXPECT_EQ(b.exit_code, 2) << b;
  EXPECT_EQ(start_error(b), "config.function: handlers.pair(keys, datum) from handlers (" + dir() +
                                "/handlers.py) has the wrong signature: a batch map handler is "
                                "handler(datums)");
  RunResult t = run(map_flow("{module: handlers, function: three}"));
  EXPECT_EQ(start_error(t), "config.function: handlers.three(a, b, c) from handlers (" + dir() +
                                "/handlers.py) has the wrong signature: a map-stream handler is "
                                "handler(datum) or handler(keys, datum)");
  RunResult m = run(map_flow("{module: handlers, function: agen, mode: stream}"));
  ASSERT_EQ(m.exit_code, 0) << m;
  EXPECT_EQ(read_file(at("out.txt")), "a\n");
}

TEST_F(PythonMapMode, AnUnknownModeIsRejectedByTheSchema) {
  write("handlers.py", "def plain(datum):\n    return datum.value\n");
  write("in.txt", "a\n");
  const std::string f = map_flow("{module: handlers, function: plain, mode: flat}");
  RunResult c = run_process(SLUICE_BIN, {"check", f}, options());
  EXPECT_EQ(c.exit_code, 2) << c;
  EXPECT_TRUE(contains(c.err, "error: stage \"up\" config.mode: \"flat\" is not one of: \"map\", "
                              "\"stream\", \"batch\"")) << c;
}

// --- threads -------------------------------------------------------------------------------

TEST_F(PythonThreads, FourWorkersOverlapHandlersThatReleaseTheGil) {
  // time.sleep releases the GIL: 8 x 0.2 s over 4 workers takes about 0.4 s, not 1.6 s.
  write("handlers.py", R"(
import time

def nap(datum):
    start = time.monotonic()
    time.sleep(0.2)
    return f"{datum.value.decode()} {start:.4f} {time.monotonic():.4f}"
)");
  write("in.txt", "m0\nm1\nm2\nm3\nm4\nm5\nm6\nm7\n");
  // Workers share the input in the batches the source sent: batch 1 there, too.
  RunResult r = run(map_flow("{module: handlers, function: nap}", "    threads: 4\n    batch: 1"),
                    {"--set", "defaults.batch=1"});
  ASSERT_EQ(r.exit_code, 0) << r;
  Timed t = timed(read_lines(at("out.txt")));
  std::sort(t.values.begin(), t.values.end());
  EXPECT_EQ(t.values, (Lines{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"}));
  EXPECT_LT(t.span, 1.2) << "the sleeps of the four workers overlapped";
  std::cerr << "[ measured ] 8 x time.sleep(0.2) over 4 workers took " << t.span << " s\n";
}

}  // namespace
}  // namespace sluice::test
