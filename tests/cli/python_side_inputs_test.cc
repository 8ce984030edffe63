// Side inputs from Python, end to end through the real `sluice` binary and the embedded
// interpreter (docs/side-inputs.md, "Reading from Python" and "Writing a retriever in
// Python"): sluice.side_input per message with a `file` retriever, parse caching,
// on_side_input with each new version, a Python retriever (value, None, exception), and
// the error cases (an undeclared name, a call outside a stage call).
//
// The flows that must see a value change drive themselves: a Python source keeps
// producing, slowly, until the stage has seen the change (or a deadline passes), so
// the test only runs the flow to its end.
#include <filesystem>
#include <string>

#include "python_test_support.h"

namespace sluice::test {
namespace {

namespace fs = std::filesystem;

// The 1-based number of the line of `text` holding `needle`.
size_t line_of(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  size_t n = 1;
  for (size_t i = 0; i < at && i < text.size(); ++i) n += text[i] == '\n';
  return n;
}

// How many times `needle` occurs in `haystack`.
size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size()))
    ++n;
  return n;
}

class PythonSideInputsTest : public PythonFlowTest {
 protected:
  // The handlers module every test uses: h.py, next to the flow. `P(name)` is a path in
  // the test's folder.
  void handlers(const std::string& body) const {
    write("h.py", R"(import json, os, threading, time
import sluice

HERE = os.path.dirname(os.path.abspath(__file__))

def P(name):
    return os.path.join(HERE, name)

def append(name, line):
    with open(P(name), "a") as f:
        f.write(line + "\n")

def exists(name):
    return os.path.exists(P(name))

# A source that ticks every 20 ms until the file `until` exists (then 3 more ticks), or
# for at most 20 s. `then(i)` runs before tick i (to change a side input's file).
def ticking(until, then=None):
    deadline = time.monotonic() + 20
    after = 0
    i = 0
    while time.monotonic() < deadline and after < 3:
        if then:
            then(i)
        yield str(i)
        i += 1
        if exists(until):
            after += 1
        time.sleep(0.02)
)" + body);
  }
};

// A Python map reads a `file` side input per message: the bytes (one object per
// version), the parsed value (parse called once for 200 messages) and the version.
TEST_F(PythonSideInputsTest, MapReadsTheValuePerMessageAndParsesOncePerVersion) {
  write("cfg.json", R"({"suffix": "a"})");
  std::string in;
  for (int i = 0; i < 200; ++i) in += "m" + std::to_string(i) + "\n";
  write("in.txt", in);
  handlers(R"(
def parse(b):
    append("parses.txt", b.decode())
    return json.loads(b)

def tag(datum):
    cfg = sluice.side_input("cfg", parse=parse)
    raw = sluice.side_input("cfg")
    same = raw is sluice.side_input(name="cfg") and cfg is sluice.side_input("cfg", parse)
    # An inline lambda capturing nothing is recognised as the same function.
    upper = sluice.side_input("cfg", parse=lambda b: b.upper())
    return b"%s|%s|%d|%s|%s" % (datum.value, cfg["suffix"].encode(),
                                sluice.side_input_version("cfg"), same and b"same" or b"copies",
                                upper)

)");
  const std::string f = flow(R"(
name: py
mode: job
sideInputs:
  - {name: cfg, retriever: file, config: {path: cfg.json}}
stages:
  - {name: in, source: file, config: {path: in.txt}}
  - {name: up, map: python, config: {module: h, function: tag}, sideInputs: [cfg]}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  const RunResult r = run(f, {"--no-summary"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const Lines out = read_lines(at("out.txt"));
  ASSERT_EQ(out.size(), 200u) << r;
  for (size_t i = 0; i < out.size(); ++i)
    EXPECT_EQ(out[i], "m" + std::to_string(i) + R"(|a|1|same|{"SUFFIX": "A"})") << i;
  EXPECT_EQ(read_lines(at("parses.txt")), Lines{R"({"suffix": "a"})"});
}

// on_side_input is called with the initial value, then with each new version (the
// file changes while the flow runs); the map reads the new value from then on, and
// parses each version once.
TEST_F(PythonSideInputsTest, OnSideInputIsCalledWithEachNewVersion) {
  write("cfg.json", R"({"suffix": "a"})");
  handlers(R"(
def change(i):
    if i == 10:
        with open(P("cfg.json.tmp"), "w") as f:
            f.write('{"suffix": "bb"}')
        os.replace(P("cfg.json.tmp"), P("cfg.json"))

def ticks():
    yield from ticking("saw-2", change)

class Tagger(sluice.Mapper):
    def __init__(self):
        self.suffix = None

    def on_side_input(self, name, value, version):
        same = value is sluice.side_input(name) and version == sluice.side_input_version(name)
        append("changes.txt", "%s@%d=%s %s" % (name, version, value.decode(), same))
        self.suffix = json.loads(value)["suffix"]
        if version == 2:
            append("saw-2", "")

    def handler(self, keys, datum):
        parsed = sluice.side_input("cfg", parse=parse)  # once per version, not per message
        assert parsed["suffix"] == self.suffix
        return datum.value + b"|" + self.suffix.encode()

def parse(b):
    append("parses.txt", b.decode())
    return json.loads(b)
)");
  const std::string f = flow(R"(
name: py
mode: job
sideInputs:
  - {name: cfg, retriever: file, config: {path: cfg.json}, trigger: {interval: 200ms}}
stages:
  - {name: in, source: python, config: {module: h, function: ticks}}
  - {name: up, map: python, config: {module: h, class: Tagger}, sideInputs: [cfg]}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  const RunResult r = run(f, {"--no-summary"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("changes.txt")),
            (Lines{R"(cfg@1={"suffix": "a"} True)", R"(cfg@2={"suffix": "bb"} True)"}))
      << r;
  const Lines out = read_lines(at("out.txt"));
  ASSERT_GE(out.size(), 4u) << r;
  EXPECT_EQ(out.front(), "0|a");
  EXPECT_TRUE(contains(out.back(), "|bb")) << out.back();
  EXPECT_EQ(read_lines(at("parses.txt")), (Lines{R"({"suffix": "a"})", R"({"suffix": "bb"})"}));
}

// A Python retriever: its value is the side input's; None keeps the version; an
// exception fails the retrieval (the old value stays, the error is logged with the
// file and line); a later value is the next version. A class retriever with args too.
TEST_F(PythonSideInputsTest, PythonRetrieverValueNoChangeAndFailure) {
  handlers(R"(
CALLS = 0

def fetch():
    global CALLS
    CALLS += 1
    append("calls.txt", str(CALLS))
    if CALLS == 1:
        return b"v1"
    if CALLS == 2:
        return None
    if CALLS == 3:
        raise ValueError("boom on purpose")
    return "v2"

class Fixed:
    def __init__(self, value):
        self.value = value

    def retrieve(self):
        return self.value

def ticks():
    yield from ticking("saw-2")

def read(datum):
    v = sluice.side_input_version("live")
    if v == 2:
        append("saw-2", "")
    return b"%s|%s@%d|%s" % (datum.value, sluice.side_input("live"), v, sluice.side_input("fixed"))
)");
  const std::string f = flow(R"(
name: py
mode: job
sideInputs:
  - name: live
    retriever: python
    config: {module: h, function: fetch}
    trigger: {interval: 100ms}
    retry: {initialInterval: 100ms}
  - {name: fixed, retriever: python, config: {module: h, class: Fixed, args: {value: fixed}}}
stages:
  - {name: in, source: python, config: {module: h, function: ticks}}
  - {name: up, map: python, config: {module: h, function: read}, sideInputs: [live, fixed]}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  const RunResult r = run(f, {"--no-summary"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const Lines out = read_lines(at("out.txt"));
  ASSERT_GE(out.size(), 4u) << r;
  EXPECT_EQ(out.front(), "0|v1@1|fixed") << r;
  EXPECT_EQ(out.back().substr(out.back().find('|')), "|v2@2|fixed") << r;
  for (const std::string& line : out) {
    const std::string tail = line.substr(line.find('|'));
    EXPECT_TRUE(tail == "|v1@1|fixed" || tail == "|v2@2|fixed") << line;  // never @3
  }
  EXPECT_GE(read_lines(at("calls.txt")).size(), 4u);
  EXPECT_TRUE(contains(r.err, "side input live: retrieval failed (the old value stays")) << r;
  const size_t raise_line = line_of(read_file(at("h.py")), "raise ValueError");
  EXPECT_TRUE(contains(r.err, "h.fetch: ValueError: boom on purpose (at " + at("h.py").string() +
                                  ":" + std::to_string(raise_line) + " in fetch)"))
      << r;
  EXPECT_TRUE(contains(r.err, "retrieval succeeded again after 1 failure")) << r;
}

// What goes wrong, said clearly: an undeclared name (KeyError naming it and
// sideInputs:, the host asked once per worker), a call at import time, from another
// thread, or with a wrong argument; on_side_input raising is logged and the stage goes
// on; a retriever returning the wrong type fails its retrieval.
TEST_F(PythonSideInputsTest, ErrorsNameTheProblem) {
  write("cfg.txt", "x");
  write("in.txt", "a\nb\nc\n");
  handlers(R"(
try:
    sluice.side_input("cfg")
    AT_IMPORT = "no error"
except RuntimeError as e:
    AT_IMPORT = "RuntimeError: " + str(e)

class Probe(sluice.Mapper):
    def on_side_input(self, name, value):
        raise ValueError("on_side_input failing on purpose")

    def handler(self, keys, datum):
        # The failing retriever below has answered (its failure is then logged).
        deadline = time.monotonic() + 10
        while not exists("number-called") and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            sluice.side_input("nope")
            undeclared = "no error"
        except KeyError as e:
            undeclared = "KeyError: " + e.args[0]
        box = []
        def other():
            try:
                sluice.side_input("cfg")
                box.append("no error")
            except RuntimeError as e:
                box.append("RuntimeError: " + str(e))
        t = threading.Thread(target=other)
        t.start()
        t.join()
        try:
            sluice.side_input(7)
            wrong = "no error"
        except TypeError as e:
            wrong = "TypeError: " + str(e)
        return "\n".join([datum.value.decode(), undeclared, AT_IMPORT, box[0], wrong,
                          sluice.side_input("cfg").decode()])

def number():
    append("number-called", "")
    return 42
)");
  const std::string f = flow(R"(
name: py
mode: job
sideInputs:
  - {name: cfg, retriever: file, config: {path: cfg.txt}}
  - {name: bad, retriever: python, config: {module: h, function: number}}
stages:
  - {name: in, source: file, config: {path: in.txt}}
  - {name: up, map: python, config: {module: h, class: Probe}, sideInputs: [cfg]}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  const RunResult r = run(f, {"--no-summary"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const Lines out = read_lines(at("out.txt"));
  ASSERT_EQ(out.size(), 18u) << r;
  EXPECT_EQ(out[0], "a");
  EXPECT_EQ(out[1],
            "KeyError: side input 'nope': the stage does not list it; add it to the stage's "
            "sideInputs: in the flow (only listed side inputs can be read)");
  EXPECT_TRUE(contains(out[2], "RuntimeError: sluice.side_input('cfg') was called outside a "
                               "stage call"))
      << out[2];
  EXPECT_TRUE(contains(out[2], "not at import time")) << out[2];
  EXPECT_TRUE(contains(out[3], "RuntimeError: sluice.side_input('cfg') was called outside a "
                               "stage call"))
      << out[3];
  EXPECT_EQ(out[4], "TypeError: sluice.side_input(name): name must be a str, the side input's "
                    "name, not int");
  EXPECT_EQ(out[5], "x");
  // The host refused the undeclared name once (logged once), not once per message.
  EXPECT_EQ(count(r.err, "does not list side input 'nope'"), 1u) << r;
  EXPECT_TRUE(contains(r.err, "side_input_changed for 'cfg' version 1 failed (the stage goes on "
                              "with the new value): h.Probe.on_side_input: ValueError: "
                              "on_side_input failing on purpose (at " +
                                  at("h.py").string()))
      << r;
  EXPECT_TRUE(contains(r.err, "h.number returned int; a retriever returns bytes or str (the new "
                              "value), or None (no change)"))
      << r;
}

// Every kind of handler reads side inputs the same way: an async def map, a batch map,
// and a sink class (whose on_side_input takes the version as an optional parameter).
TEST_F(PythonSideInputsTest, AsyncBatchAndSinkHandlersReadSideInputs) {
  write("cfg.txt", "x");
  write("in.txt", "a\nb\n");
  handlers(R"(
import asyncio

async def amap(datum):
    await asyncio.sleep(0)
    return datum.value + b"|" + sluice.side_input("cfg")

def bmap(datums):
    return [d.value + b"|" + sluice.side_input("cfg") for d in datums]

class Sink(sluice.Sinker):
    def on_side_input(self, name, value, version=None):
        append("sink.txt", "on_side_input %s %s %s" % (name, value.decode(), version))

    def handler(self, datums):
        for d in datums:
            append("sink.txt", "%s %s" % (d.value.decode(), sluice.side_input("cfg").decode()))
)");
  const std::string f = flow(R"(
name: py
mode: job
sideInputs:
  - {name: cfg, retriever: file, config: {path: cfg.txt}}
stages:
  - {name: in, source: file, config: {path: in.txt}}
  - {name: a, map: python, config: {module: h, function: amap}, sideInputs: [cfg]}
  - {name: b, map: python, config: {module: h, function: bmap, mode: batch}, sideInputs: [cfg]}
  - {name: out, sink: python, config: {module: h, class: Sink}, sideInputs: [cfg]}
)");
  const RunResult r = run(f, {"--no-summary"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(read_lines(at("sink.txt")),
            (Lines{"on_side_input cfg x 1", "a|x|x x", "b|x|x x"}))
      << r;
}

// A wrong on_side_input signature is refused before the flow starts, by sluice check.
TEST_F(PythonSideInputsTest, CheckRefusesAWrongOnSideInputSignature) {
  write("cfg.txt", "x");
  handlers(R"(
class Bad(sluice.Mapper):
    def on_side_input(self, name):
        pass

    def handler(self, keys, datum):
        return datum.value
)");
  const std::string f = flow(R"(
name: py
mode: job
sideInputs:
  - {name: cfg, retriever: file, config: {path: cfg.txt}}
stages:
  - {name: in, source: file, config: {path: in.txt}}
  - {name: up, map: python, config: {module: h, class: Bad}, sideInputs: [cfg]}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  const RunResult r = run_process(SLUICE_BIN, {"check", f}, options());
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "h.Bad.on_side_input has the wrong signature: it is "
                              "on_side_input(self, name, value) or on_side_input(self, name, "
                              "value, version)"))
      << r;
}

// `sluice check` imports a Python retriever's module and checks its signature, and
// reports a problem at the side input's config.
TEST_F(PythonSideInputsTest, CheckLoadsPythonRetrievers) {
  handlers(R"(
def needs_arg(x):
    return b"v"
)");
  const std::string f = flow(R"(
name: py
mode: job
sideInputs:
  - {name: a, retriever: python, config: {module: nosuchmodule, function: get}}
  - {name: b, retriever: python, config: {module: h, function: needs_arg}}
stages:
  - {name: in, source: file, config: {path: in.txt}}
  - {name: up, map: cat, sideInputs: [a, b]}
  - {name: out, sink: file, config: {path: out.txt}}
)");
  const RunResult r = run_process(SLUICE_BIN, {"check", f}, options());
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(contains(r.err, "side input \"a\" (retriever python")) << r;
  EXPECT_TRUE(contains(r.err, "no Python module named \"nosuchmodule\"")) << r;
  EXPECT_TRUE(contains(r.err, "h.needs_arg has the wrong signature: a retriever takes no positional arguments")) << r;
}

// `sluice plugins` lists the python type with the side-input kind.
TEST_F(PythonSideInputsTest, PluginsListsThePythonTypeAsARetriever) {
  const RunResult r = run_process(SLUICE_BIN, {"plugins"}, options());
  ASSERT_EQ(r.exit_code, 0) << r;
  std::string line;
  for (const std::string& l : split_lines(r.out))
    if (l.rfind("python", 0) == 0 || contains(l, " python ")) line = l;
  EXPECT_TRUE(contains(line, "side-input")) << r;
}

}  // namespace
}  // namespace sluice::test
