// End-to-end tests of the `python` stage type: each test writes a flow file and a
// handler module into a fresh temporary folder and runs the real `sluice` binary on it,
// which loads libsluice-python.so from the built-in folder through the ordinary plugin
// loader and runs the handler in the embedded /usr/bin/python3 interpreter. The spec
// these follow is docs/python-guide.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "python_test_support.h"

namespace sluice::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

using PythonMap = PythonMapFlowTest;
using PythonErrors = PythonMapFlowTest;
using PythonConfig = PythonMapFlowTest;
using PythonRuntime = PythonMapFlowTest;

// --- maps ------------------------------------------------------------------------------

TEST_F(PythonMap, UppercasesEveryValueExactly) {
  write("handlers.py", R"(
def upper(datum):
    return datum.value.upper()
)");
  write("in.txt", "abc\nHello, World\n\nmixed Case 42\n");
  RunResult r = run(map_flow("{module: handlers, function: upper}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_file(at("out.txt")), "ABC\nHELLO, WORLD\n\nMIXED CASE 42\n");
  const auto rows = summary(r.err);
  EXPECT_EQ(rows.at("up").in, 4) << r;
  EXPECT_EQ(rows.at("up").out, 4) << r;
  EXPECT_EQ(rows.at("up").failed, 0) << r;
}

TEST_F(PythonMap, NumaflowStyleHandlerReturnsMessagesRoutedByTags) {
  // Only the import differs from a numaflow-python map handler.
  write("router.py", R"(
from sluice import Message, Messages, Datum

def handler(keys: list[str], datum: Datum) -> Messages:
    n = int(datum.value)
    messages = Messages()
    messages.append(Message(datum.value, keys=keys, tags=["even" if n % 2 == 0 else "odd"]))
    if n == 3:
        messages.append(Message(b"three", keys=["special"], tags=["odd"]))
    return messages
)");
  const std::string f = flow(R"(
mode: job
stages:
  - {name: gen, source: generator, config: {count: 10, keys: 2, template: "{seq}"}}
  - {name: route, map: python, config: {module: router, function: handler}}
  - {name: even, sink: file, config: {path: even.txt}}
  - {name: odd, sink: file, config: {path: odd.jsonl, format: json}}
edges:
  - {from: gen, to: route}
  - {from: route, to: even, when: {tags: [even]}}
  - {from: route, to: odd, when: {tags: [odd]}}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("even.txt")), (std::vector<std::string>{"0", "2", "4", "6", "8"}));
  std::vector<std::string> odd_values, odd_keys;
  for (const std::string& line : read_lines(at("odd.jsonl"))) {
    json j = json::parse(line);
    odd_values.push_back(j.at("value"));
    odd_keys.push_back(j.at("keys").dump());
  }
  EXPECT_EQ(odd_values, (std::vector<std::string>{"1", "3", "three", "5", "7", "9"}));
  // keys= passes the input's keys on (generator: key-<seq % 2>); the extra message has
  // its own.
  EXPECT_EQ(odd_keys, (std::vector<std::string>{R"(["key-1"])", R"(["key-1"])", R"(["special"])",
                                                R"(["key-1"])", R"(["key-1"])", R"(["key-1"])"}));
}

TEST_F(PythonMap, NumaflowMapperSubclassRunsWithOnlyItsImportsChanged) {
  // numaflow-python's flatmap example, with `pynumaflow.mapper` replaced by `sluice`
  // and the MapServer start-up left out.
  write("flatmap.py", R"(
from sluice import Messages, Message, Datum, Mapper


class Flatmap(Mapper):
    """
    This is a class that inherits from the Mapper class.
    It implements the handler method that is called for each datum.
    """

    def handler(self, keys: list[str], datum: Datum) -> Messages:
        val = datum.value
        _ = datum.event_time
        _ = datum.watermark
        strs = val.decode("utf-8").split(",")
        messages = Messages()
        if len(strs) == 0:
            messages.append(Message.to_drop())
            return messages
        for s in strs:
            messages.append(Message(str.encode(s)))
        return messages
)");
  write("in.txt", "a,b,c\nd\n");
  RunResult r = run(map_flow("{module: flatmap, class: Flatmap}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST_F(PythonMap, TheGuidesPortedEvenOddHandlerRunsWithItsServerImportAndMainBlock) {
  // docs/python-guide.md, "Porting from numaflow-python": the server class stays in the
  // import line and the __main__ block stays in the file.
  write("even_odd.py", R"(from sluice import Messages, Message, Datum, Mapper, MapServer

class EvenOdd(Mapper):
    def handler(self, keys: list[str], datum: Datum) -> Messages:
        n = int(datum.value)
        tag = "even" if n % 2 == 0 else "odd"
        return Messages(Message(datum.value, keys=[tag], tags=[tag]))

if __name__ == "__main__":
    MapServer(EvenOdd()).start()
)");
  write("in.txt", "1\n2\n3\n4\n");
  const std::string f = flow(R"(
mode: job
stages:
  - {name: in, source: file, config: {path: in.txt}}
  - {name: even-odd, map: python, config: {module: even_odd, class: EvenOdd}}
  - {name: even, sink: file, config: {path: even.txt}}
  - {name: odd, sink: file, config: {path: odd.txt}}
edges:
  - {from: in, to: even-odd}
  - {from: even-odd, to: even, when: {tags: [even]}}
  - {from: even-odd, to: odd, when: {tags: [odd]}}
)");
  RunResult r = run(f, {"--no-summary"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_file(at("even.txt")), "2\n4\n");
  EXPECT_EQ(read_file(at("odd.txt")), "1\n3\n");
  // Run directly, its __main__ block says what to do instead.
  RunResult direct = run_process("/usr/bin/python3", {(at("even_odd.py")).string()},
                                 [] {
                                   RunOptions o = options();
                                   o.env["PYTHONPATH"] = SLUICE_PYTHON_DIR;
                                   return o;
                                 }());
  EXPECT_NE(direct.exit_code, 0) << direct;
  EXPECT_NE(direct.err.find("MapServer.start(): Sluice has no per-handler server"),
            std::string::npos)
      << direct;
}

TEST_F(PythonMap, NoneFiltersDropDropsAndListsGiveSeveralOutputs) {
  write("choose.py", R"(
import sluice

def choose(datum):
    n = int(datum.value)
    if n % 4 == 0:
        return None                          # filtered out
    if n % 4 == 1:
        return sluice.DROP                   # dropped (counted)
    if n % 4 == 2:
        return [datum.value, "twice " + str(n)]   # bytes and str both work
    return sluice.Message.to_drop()
)");
  write("in.txt", "0\n1\n2\n3\n4\n5\n6\n7\n");
  RunResult r = run(map_flow("{module: choose, function: choose}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (std::vector<std::string>{"2", "twice 2", "6", "twice 6"}));
  const auto rows = summary(r.err);
  EXPECT_EQ(rows.at("up").in, 8) << r;
  EXPECT_EQ(rows.at("up").out, 4) << r;
  // 0, 4 filtered out (None), 1, 5 (DROP) and 3, 7 (to_drop()): all count as dropped.
  EXPECT_EQ(rows.at("up").dropped, 6) << r;
  EXPECT_EQ(rows.at("up").failed, 0) << r;
}

TEST_F(PythonMap, DatumCarriesKeysValueTimesHeadersAndId) {
  write("show.py", R"(
import datetime, json

def show(keys, datum):
    assert keys == datum.keys
    assert datum.event_time.tzinfo is not None
    delta = datum.event_time - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    assert delta // datetime.timedelta(milliseconds=1) == datum.event_time_ms
    return json.dumps({"keys": datum.keys, "value": datum.value.decode(), "id": datum.id,
                       "headers": datum.headers, "has_time": datum.event_time_ms > 0,
                       "tags": datum.tags})
)");
  write("in.jsonl", R"({"user": "ann", "n": 1})" "\n");
  const std::string f = flow(R"(
mode: job
stages:
  - {name: in, source: file, config: {path: in.jsonl, format: json, key: user}}
  - {name: up, map: python, config: {module: show, function: show}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  const auto lines = read_lines(at("out.txt"));
  ASSERT_EQ(lines.size(), 1u) << r;
  json j = json::parse(lines[0]);
  EXPECT_EQ(j.at("keys"), json::array({"ann"}));
  EXPECT_EQ(j.at("value"), R"({"user": "ann", "n": 1})");
  EXPECT_EQ(j.at("id"), "0") << "the file source's id is the line's byte offset";
  EXPECT_EQ(j.at("headers"), json::object());
  EXPECT_EQ(j.at("has_time"), true);
  EXPECT_EQ(j.at("tags"), json::array());
}

TEST_F(PythonMap, ClassHandlerIsMadeWithArgsAndFunctionsTakeArgsAsKeywords) {
  write("handlers.py", R"(
from sluice import Message

class Prefix:
    def __init__(self, prefix, upper=False):
        self.prefix = prefix.encode()
        self.upper = upper

    def handler(self, keys, datum):
        value = datum.value.upper() if self.upper else datum.value
        return Message(self.prefix + value)

def suffix(datum, suffix="!"):
    return datum.value + suffix.encode()
)");
  write("in.txt", "a\nb\n");
  RunResult r = run(map_flow("{module: handlers, class: Prefix, args: {prefix: '> ', upper: true}}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_file(at("out.txt")), "> A\n> B\n");

  RunResult s = run(map_flow("{module: handlers, function: suffix, args: {suffix: '?'}}"));
  ASSERT_EQ(s.exit_code, 0) << s;
  EXPECT_EQ(read_file(at("out.txt")), "a?\nb?\n");
}

TEST_F(PythonMap, ModuleByFilePathAndPathEntriesRelativeToTheFlow) {
  write("lib/helpers.py", "def shout(b):\n    return b.upper() + b'!'\n");
  write("code/handle.py", R"(
import helpers

def run(datum):
    return helpers.shout(datum.value)
)");
  write("in.txt", "hi\n");
  RunResult r = run(map_flow("{module: code/handle.py, function: run, path: [lib]}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_file(at("out.txt")), "HI!\n");
}

TEST_F(PythonMap, AFileNamedLikeAStandardModuleDoesNotReplaceIt) {
  // Loaded from its path, inspect.py gets a module name of its own: `inspect` (which
  // the runtime itself uses to read the handler's signature) stays the standard one.
  write("inspect.py", R"(
import sys

def check(datum):
    return repr((__name__, sys.modules["inspect"].__file__ != __file__))
)");
  write("in.txt", "x\n");
  RunResult r = run(map_flow("{module: inspect.py, function: check}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_file(at("out.txt")), "('inspect__sluice1', True)\n");
}

TEST_F(PythonMap, StagesAndWorkersSharingAFileRunItsTopLevelOnce) {
  write("counted.py", R"(
import builtins
builtins.loads = getattr(builtins, "loads", 0) + 1

def show(datum):
    return f"{datum.value.decode()} loads={builtins.loads}"
)");
  const std::string f = flow(R"(
mode: job
stages:
  - {name: gen, source: generator, config: {count: 1, template: "x"}}
  - {name: one, map: python, config: {module: counted.py, function: show}, threads: 2}
  - {name: two, map: python, config: {module: ./counted.py, function: show}}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  RunResult r = run(f);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_file(at("out.txt")), "x loads=1 loads=1\n");
}

TEST_F(PythonMap, NumpyImportsAndScoresVectors) {
  // numpy's C extension imports only because the plugin makes libpython global.
  write("score.py", R"(
import numpy as np

WEIGHTS = np.array([0.5, 2.0, -1.0])

def score(datum):
    v = np.array([float(x) for x in datum.value.split(b",")])
    return f"{float(v @ WEIGHTS):.2f}"
)");
  write("in.txt", "1,2,3\n4,0,1\n0,0,0\n");
  RunResult r = run(map_flow("{module: score, function: score}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (std::vector<std::string>{"1.50", "1.00", "0.00"}));
}

// --- errors ----------------------------------------------------------------------------

const char* kBoom = R"(
def boom(datum):
    if datum.value == b"bad":
        raise ValueError("cannot take " + repr(datum.value))
    return datum.value
)";

TEST_F(PythonErrors, ExceptionWithThenDropDropsThatMessageAloneAndCountsIt) {
  write("handlers.py", kBoom);
  write("in.txt", "a\nbad\nc\n");
  RunResult r = run(map_flow("{module: handlers, function: boom}", "    onError: {then: drop}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (std::vector<std::string>{"a", "c"}));
  const auto rows = summary(r.err);
  EXPECT_EQ(rows.at("up").dropped, 1) << r;
  EXPECT_EQ(rows.at("up").failed, 1) << r;
  EXPECT_TRUE(contains(r.err, "ValueError: cannot take b'bad' (at " + dir() +
                                  "/handlers.py:4 in boom)"))
      << r;
}

TEST_F(PythonErrors, ExceptionWithThenFailExits1NamingTheStageAndThePythonLine) {
  write("handlers.py", kBoom);
  write("in.txt", "a\nbad\nc\n");
  RunResult r = run(map_flow("{module: handlers, function: boom}"));
  EXPECT_EQ(r.exit_code, 1) << r;
  // The file source's id is the byte offset of the line: "bad" starts at 2.
  EXPECT_TRUE(contains(r.err, "sluice: error: stage \"up\" failed: message 2: ValueError: "
                              "cannot take b'bad' (at " + dir() + "/handlers.py:4 in boom)\n"))
      << r;
}

TEST_F(PythonErrors, ExceptionIsRetriedByThePolicyLikeAnyMessageFailure) {
  // Fails the first time it sees each value: one retry makes every message pass.
  write("flaky.py", R"(
seen = set()

def once(datum):
    if datum.value not in seen:
        seen.add(datum.value)
        raise RuntimeError("first try")
    return datum.value
)");
  write("in.txt", "x\ny\n");
  RunResult r = run(map_flow("{module: flaky, function: once}",
                             "    onError: {retry: {attempts: 1, initialInterval: 1ms}}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(summary(r.err).at("up").retried, 2) << r;
}

TEST_F(PythonErrors, WrongReturnTypeFailsTheMessageSayingWhatWasExpected) {
  write("handlers.py", R"(
def count(datum):
    return len(datum.value)

def listed(datum):
    return [datum.value, 7]
)");
  write("in.txt", "a\n");
  RunResult r = run(map_flow("{module: handlers, function: count}"));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(contains(r.err, "message 0: handlers.count returned int; expected sluice.Message, "
                              "sluice.Messages (or a list of sluice.Message), bytes, str or None\n"))
      << r;

  RunResult l = run(map_flow("{module: handlers, function: listed}"));
  EXPECT_EQ(l.exit_code, 1) << l;
  EXPECT_TRUE(contains(l.err, "message 0: handlers.listed returned a list holding a int; expected "))
      << l;
}

TEST_F(PythonErrors, RaisingSystemExitFailsTheMessageAndTheHostCarriesOn) {
  write("handlers.py", R"(
import sys

def leave(datum):
    if datum.value == b"quit":
        sys.exit(3)
    return datum.value
)");
  write("in.txt", "a\nquit\nb\n");
  RunResult r = run(map_flow("{module: handlers, function: leave}", "    onError: {then: drop}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("out.txt")), (std::vector<std::string>{"a", "b"}));
}

// `sluice check` on the flow: exit 2, and the one error's location and message (the
// part after "(python, <library>): ").
struct CheckError {
  int exit_code;
  std::string where, message;
};
CheckError check_error(const std::string& flow_file, const RunResult& r) {
  CheckError e{r.exit_code, "", "<no check error in: " + r.err + ">"};
  const size_t at = r.err.find(": error: stage \"up\" (python, ");
  if (at == std::string::npos) return e;
  const size_t start = r.err.rfind('\n', at) == std::string::npos ? 0 : r.err.rfind('\n', at) + 1;
  e.where = r.err.substr(start, at - start);
  if (e.where.rfind(flow_file + ":", 0) == 0) e.where = e.where.substr(flow_file.size() + 1);
  const size_t colon = r.err.find("): ", at);
  e.message = r.err.substr(colon + 3, r.err.find('\n', colon) - colon - 3);
  return e;
}

TEST_F(PythonConfig, CheckFindsHandlerErrorsWithTheirPythonFileAndLine) {
  write("handlers.py", R"(def up(datum):
    return datum.value.upper()

def three(a, b, c):
    return a

class Made:
    def __init__(self, prefix):
        open("constructed.txt", "w").write("made")  # must not run in check
        self.prefix = prefix

    def handler(self, keys, datum):
        return self.prefix + datum.value

class BadHandler:
    def handler(self):
        return None
)");
  write("broken.py", "def ok(datum):\n    return datum.value\n\ndef bad(datum:\n    pass\n");
  auto check = [&](const std::string& config) {
    const std::string f = map_flow(config);
    return check_error(f, run_process(SLUICE_BIN, {"check", f}, options()));
  };

  // Valid, with a class: ok, and its constructor never ran.
  const std::string good = map_flow("{module: handlers, class: Made, args: {prefix: \">\"}}");
  RunResult ok = run_process(SLUICE_BIN, {"check", good}, options());
  EXPECT_EQ(ok.exit_code, 0) << ok;
  EXPECT_FALSE(fs::exists(at("constructed.txt"))) << "check must not construct the class";

  CheckError missing = check("{module: nowhere, function: f}");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.where, "8:22");
  EXPECT_EQ(missing.message, "config.module: no Python module named \"nowhere\" (looked in " +
                                 dir() + " and sys.path; set path: to add folders)");

  CheckError syntax = check("{module: broken, function: ok}");
  EXPECT_EQ(syntax.exit_code, 2);
  EXPECT_EQ(syntax.message, "config.module: importing \"broken\" failed: " + dir() +
                                "/broken.py:4:8: SyntaxError: '(' was never closed");

  CheckError function = check("{module: handlers, function: upp}");
  EXPECT_EQ(function.exit_code, 2);
  EXPECT_EQ(function.where, "8:42");  // the value of function:
  EXPECT_EQ(function.message, "config.function: handlers (" + dir() +
                                  "/handlers.py) has no function \"upp\" (it has: up, three)");

  CheckError signature = check("{module: handlers, function: three}");
  EXPECT_EQ(signature.exit_code, 2);
  EXPECT_EQ(signature.message,
            "config.function: handlers.three(a, b, c) from handlers (" + dir() +
                "/handlers.py) has the wrong signature: a map handler is handler(datum) or "
                "handler(keys, datum)");

  CheckError method = check("{module: handlers, class: BadHandler}");
  EXPECT_EQ(method.exit_code, 2);
  EXPECT_EQ(method.message.rfind("config.class: handlers.BadHandler.handler() from handlers (", 0),
            0u)
      << method.message;
  EXPECT_NE(method.message.find("has the wrong signature"), std::string::npos) << method.message;

  // A Mapper whose handler is misspelt: abstract, which only making it would say.
  write("abstract.py", "from sluice import Mapper\n\nclass Upper(Mapper):\n"
                       "    def handle(self, keys, datum):\n        return datum.value\n");
  CheckError abstract = check("{module: abstract, class: Upper}");
  EXPECT_EQ(abstract.exit_code, 2);
  EXPECT_EQ(abstract.message, "config.class: abstract.Upper is abstract: it does not define "
                              "handler (a misspelt method name?)");

  CheckError args = check("{module: handlers, class: Made, args: {prefx: \">\"}}");
  EXPECT_EQ(args.exit_code, 2);
  EXPECT_EQ(args.message.rfind("config.args: handlers.Made(**args) would fail: ", 0), 0u)
      << args.message;
  EXPECT_FALSE(fs::exists(at("constructed.txt")));
}

TEST_F(PythonConfig, MissingModuleIsAConfigErrorNamingWhereItLooked) {
  write("in.txt", "a\n");
  RunResult r = run(map_flow("{module: nowhere, function: f}"));
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(start_error(r), "config.module: no Python module named \"nowhere\" (looked in " +
                                dir() + " and sys.path; set path: to add folders)")
      << r;

  RunResult file = run(map_flow("{module: nowhere.py, function: f}"));
  EXPECT_EQ(file.exit_code, 2) << file;
  EXPECT_EQ(start_error(file),
            "config.module: " + dir() + "/nowhere.py does not exist or is not a file");
}

TEST_F(PythonConfig, SyntaxErrorNamesTheFileAndLine) {
  write("broken.py", "def ok(datum):\n    return datum.value\n\ndef bad(datum:\n    pass\n");
  write("in.txt", "a\n");
  RunResult r = run(map_flow("{module: broken, function: ok}"));
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(start_error(r), "config.module: importing \"broken\" failed: " + dir() +
                                "/broken.py:4:8: SyntaxError: '(' was never closed")
      << r;
}

TEST_F(PythonConfig, ExceptionAtImportNamesItsLine) {
  write("top.py", "import os\nraise RuntimeError('not today')\n");
  write("in.txt", "a\n");
  RunResult r = run(map_flow("{module: top, function: f}"));
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(start_error(r), "config.module: importing \"top\" failed: RuntimeError: not today "
                            "(at " + dir() + "/top.py:2 in <module>)")
      << r;
}

TEST_F(PythonConfig, MissingFunctionListsTheModulesOwnFunctions) {
  write("handlers.py", "from os.path import join\n\ndef upper(d): pass\n\ndef lower(d): pass\n"
                       "\nclass Thing: pass\n");
  write("in.txt", "a\n");
  RunResult r = run(map_flow("{module: handlers, function: uper}"));
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(start_error(r), "config.function: handlers (" + dir() +
                                "/handlers.py) has no function \"uper\" (it has: upper, lower)")
      << r;

  RunResult cls = run(map_flow("{module: handlers, function: Thing}"));
  EXPECT_EQ(start_error(cls),
            "config.function: handlers.Thing is a class, not a function (name it with class:)");
}

TEST_F(PythonConfig, WrongSignatureIsAConfigError) {
  write("handlers.py", "def three(a, b, c):\n    return a\n");
  write("in.txt", "a\n");
  RunResult r = run(map_flow("{module: handlers, function: three}"));
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(start_error(r), "config.function: handlers.three(a, b, c) from handlers (" + dir() +
                                "/handlers.py) has the wrong signature: a map handler is "
                                "handler(datum) or handler(keys, datum)")
      << r;
}

TEST_F(PythonConfig, UnknownKeysAndBadArgsAreRejected) {
  write("handlers.py", "def f(datum, scale=1):\n    return datum.value\n");
  write("in.txt", "a\n");
  // The type's JSON Schema catches an unknown key before anything runs: check says so.
  const std::string f = map_flow("{module: handlers, function: f, modul: x}");
  RunResult c = run_process(SLUICE_BIN, {"check", f}, options());
  EXPECT_EQ(c.exit_code, 2) << c;
  EXPECT_TRUE(contains(c.err, "modul")) << c;

  RunResult r = run(map_flow("{module: handlers, function: f, args: {scale: 2, shift: 1}}"));
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(start_error(r), "config.args: handlers.f: got an unexpected keyword argument 'shift'")
      << r;
}

// --- the runtime -----------------------------------------------------------------------

TEST_F(PythonRuntime, TwoWorkersEachRunTheHandlerOnTheirOwnThread) {
  // time.sleep releases the GIL, so while one worker sleeps the other takes a batch.
  write("handlers.py", R"(
import threading, time

def tag(datum):
    time.sleep(0.002)
    return datum.value + b" " + str(threading.get_ident()).encode()
)");
  std::string input;
  for (int i = 0; i < 200; ++i) input += "m" + std::to_string(i) + "\n";
  write("in.txt", input);
  // Small batches from the source, so there are many for the two workers to share.
  RunResult r = run(map_flow("{module: handlers, function: tag}", "    threads: 2"),
                    {"--set", "defaults.batch=5"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::vector<std::string> values;
  std::set<std::string> threads;
  for (const std::string& line : read_lines(at("out.txt"))) {
    const size_t space = line.find(' ');
    ASSERT_NE(space, std::string::npos) << line;
    values.push_back(line.substr(0, space));
    threads.insert(line.substr(space + 1));
  }
  std::sort(values.begin(), values.end());
  std::vector<std::string> expected = numbered("m", 200);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(values, expected) << "every message exactly once";
  EXPECT_EQ(threads.size(), 2u) << "both workers ran the handler";
}

TEST_F(PythonRuntime, PrintGoesToStderrAndStdoutCarriesOnlyData) {
  write("handlers.py", "def loud(datum):\n    print('saw', datum.value)\n    return datum.value\n");
  const std::string f = flow(R"(
mode: job
stages:
  - {name: gen, source: generator, config: {count: 2, template: "v{seq}"}}
  - {name: up, map: python, config: {module: handlers, function: loud}}
  - {name: out, sink: stdout}
)");
  RunResult r = run(f, {"--no-summary"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "v0\nv1\n");
  EXPECT_TRUE(contains(r.err, "saw b'v0'\n")) << r;
}

TEST_F(PythonRuntime, InterpreterIsDebiansPythonWithoutTheWorkingDirectoryOnSysPath) {
  write("handlers.py", R"(
import os, sys

def info(datum):
    return repr((sys.executable, "" in sys.path, os.getcwd() in sys.path,
                 any(p.endswith("dist-packages") for p in sys.path)))
)");
  write("in.txt", "a\n");
  RunResult r = run(map_flow("{module: handlers, function: info}"));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_file(at("out.txt")), "('/usr/bin/python3', False, False, True)\n");
}

TEST_F(PythonRuntime, SigtermStopsAStreamingFlowCleanly) {
  write("handlers.py", "def same(datum):\n    return datum.value\n");
  const std::string f = flow(R"(
mode: streaming
stages:
  - {name: gen, source: generator, config: {rate: 2000, template: "{seq}"}}
  - {name: up, map: python, config: {module: handlers, function: same}, threads: 2}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  ChildProcess child(SLUICE_BIN, {"run", f}, options());
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (read_file(at("out.txt")).empty() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  ASSERT_FALSE(read_file(at("out.txt")).empty()) << child.wait();
  ASSERT_TRUE(child.signal(SIGTERM));
  RunResult r = child.wait();
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(r.timed_out) << r;
  // Nothing lost or duplicated on the way out: 0, 1, 2, ... with no gap.
  const auto lines = read_lines(at("out.txt"));
  std::vector<std::string> sorted_lines = lines;
  std::sort(sorted_lines.begin(), sorted_lines.end(),
            [](const std::string& a, const std::string& b) { return std::stoll(a) < std::stoll(b); });
  EXPECT_EQ(sorted_lines, numbered("", lines.size()));
}

TEST_F(PythonRuntime, AHandlerThreadLeftRunningDoesNotHangTheExit) {
  // Py_Finalize joins non-daemon threads: one that never ends would hang the process.
  write("handlers.py", R"(import threading, time
def forever():
    while True:
        time.sleep(1)
threading.Thread(target=forever, name="poller").start()
def up(datum):
    return datum.value.upper()
)");
  write("in.txt", "a\n");
  RunResult r = run(map_flow("{module: handlers, function: up}"), {"--no-summary"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_file(at("out.txt")), "A\n");
  EXPECT_NE(r.err.find("python: handler threads still running at exit (poller); not "
                       "finalizing Python."),
            std::string::npos)
      << r;
}

TEST_F(PythonRuntime, SluiceTryRunsAHandlerOnStdin) {
  write("handlers.py", "def upper(datum):\n    return datum.value.upper()\n");
  RunOptions opts = options();
  opts.stdin_data = "one\ntwo\n";
  RunResult r = run_process(
      SLUICE_BIN,
      {"try", "python", "--kind", "map", "--config",
       R"({"module": ")" + at("handlers.py").string() + R"(", "function": "upper"})"},
      opts);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "ONE\nTWO\n");
}

}  // namespace
}  // namespace sluice::test
