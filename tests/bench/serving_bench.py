"""The serving benchmark: HTTP requests through the real `sluice run`, driven by wrk
(keep-alive, 64 connections, 2 threads), against baselines measured in the same run
(the machines are shared and noisy, so only same-run ratios mean much).

  echo           a bare cpp-httplib server with the serving layer's settings
                 (http_echo_server: the same thread pool, TCP_NODELAY, keep-alive)
                 answering POST /v1/process/sync with the body: the HTTP ceiling.
  sync           POST /v1/process/sync through `serving -> cat -> serve`, with the
                 default SQLite store (WAL, synchronous=FULL, group commit): each request
                 is stored, read by the serving source, processed, answered, completed.
                 sync / echo is the share of bare HTTP speed serving keeps.
  sync latency   the same at half the measured sync rate (wrk paced with delay()),
                 p50 and p99.
  async          POST /v1/process/async: every 200 answer was stored durably first.
  sse            `serving -> filter -> cat -> serve`, with bodies starting "hold" routed to
                 an async Python map that holds them for a minute: sync throughput with
                 and without 200 open SSE subscribers (each POSTs /v1/process/sse with a
                 "hold" body and keeps its stream open); the ratio should stay >= 0.7.

Each case runs once per round, rounds interleaved; medians are reported, with the range.

  usage: /usr/bin/python3 serving_bench.py --sluice build/bin/sluice
             --echo build/bin/http_echo_server --python-dir build/python
             [--seconds S] [--rounds R] [--smoke]

--smoke: a short run that checks every case works (nothing timed is asserted); exit 1
when a case fails. Otherwise the exit code is 0 whatever the numbers.
"""
import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
CONNECTIONS = 64
WRK_THREADS = 2
BODY_SIZE = 100

WRK_SCRIPT = r"""
wrk.method = "POST"
wrk.body = string.rep("x", %d)
wrk.headers["Content-Type"] = "application/octet-stream"
local d = tonumber(os.getenv("WRK_DELAY_MS") or "0")
if d > 0 then
  function delay() return d end
end
""" % BODY_SIZE

ECHO_FLOW = """
name: bench
stages:
  - {name: in, source: serving}
  - {name: work, map: cat}
  - {name: out, sink: serve}
serving:
  http: 127.0.0.1:0
  httpThreads: 128
  maxInFlight: 100000
"""

SSE_FLOW = """
name: bench-sse
stages:
  - {name: in, source: serving}
  - name: route
    map: filter
    config: {where: {regex: "^hold"}, action: tag, tag: hold, otherwise: go}
  - {name: work, map: cat}
  - {name: held, map: python, config: {module: hold.py, function: hold}}
  - {name: out, sink: serve}
edges:
  - {from: in, to: route}
  - {from: route, to: work, when: {tags: [go]}}
  - {from: route, to: held, when: {tags: [hold]}}
  - {from: work, to: out}
  - {from: held, to: out}
serving:
  http: 127.0.0.1:0
  httpThreads: 512
  maxInFlight: 100000
gracePeriod: 1s
"""

HOLD_PY = """
import asyncio
from sluice import Message

async def hold(keys, datum):
    await asyncio.sleep(60)
    return Message(datum.value)
"""


class Server:
    """A child process that prints "listening on http://HOST:PORT" to stderr."""

    def __init__(self, cmd, cwd, env=None):
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.lines = []
        self.port = None
        ready = threading.Event()

        def drain():
            for raw in self.proc.stderr:
                line = raw.decode(errors="replace").rstrip()
                self.lines.append(line)
                m = re.search(r"listening on http://[^ ]*:(\d+)", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(30) or self.port is None:
            self.stop()
            raise RuntimeError("%s did not start listening:\n%s" % (cmd[0], "\n".join(self.lines)))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def parse_duration_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def warm_up(url, script_path):
    """Opens the connections and warms the caches before a measured run: the first
    second after 64 connections arrive at once includes TCP accept-queue overflows
    (retransmitted SYN-ACKs, about 1 s each), which say nothing about serving."""
    subprocess.run(["wrk", "-t%d" % WRK_THREADS, "-c%d" % CONNECTIONS, "-d1s", "-s", script_path, url],
                   capture_output=True, timeout=60)


def wrk(url, seconds, script_path, delay_ms=0, connections=CONNECTIONS):
    env = dict(os.environ, WRK_DELAY_MS=str(delay_ms))
    out = subprocess.run(["wrk", "-t%d" % WRK_THREADS, "-c%d" % connections, "-d%ds" % seconds,
                          "--latency", "-s", script_path, url],
                         env=env, capture_output=True, text=True, timeout=seconds + 60).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError("wrk printed no rate:\n" + out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad = int(non2xx.group(1)) if non2xx else 0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    err_count = sum(int(x) for x in errors.groups()) if errors else 0
    pct = {}
    for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", out, re.M):
        pct[int(p)] = parse_duration_ms(v)
    rate = float(m.group(1))
    ok_rate = rate * (total - bad) / total if total else 0.0
    return {"rate": ok_rate, "total": total, "non2xx": bad, "errors": err_count,
            "p50": pct.get(50), "p99": pct.get(99)}


def open_sse_subscribers(port, n):
    """n sockets, each with a POST /v1/process/sse of a "hold" body; returns them once
    every one has its 200 status line."""
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        body = b"hold %d" % i
        s.sendall(b"POST /v1/process/sse HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s"
                  % (len(body), body))
        socks.append(s)
    for s in socks:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("an SSE subscriber was closed: %r" % head)
            head += chunk
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError("an SSE subscriber got %r" % head.split(b"\r\n")[0])
    return socks


def still_open(socks):
    """How many subscribers' streams have not ended (no bytes waiting means open)."""
    n = 0
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(65536)
            if data and b"event: complete" not in data:
                n += 1
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


def summary(values):
    return statistics.median(values), min(values), max(values)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--echo", required=True)
    ap.add_argument("--python-dir", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.smoke:
        args.seconds, args.rounds = 1, 1
    args.sluice, args.echo = os.path.abspath(args.sluice), os.path.abspath(args.echo)
    env = dict(os.environ, PYTHONPATH=os.path.abspath(args.python_dir))

    tmp = tempfile.TemporaryDirectory(prefix="sluice-serving-bench-")
    work = tmp.name
    script = os.path.join(work, "post.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT)
    with open(os.path.join(work, "flow.yaml"), "w") as f:
        f.write(ECHO_FLOW)
    with open(os.path.join(work, "sse.yaml"), "w") as f:
        f.write(SSE_FLOW)
    with open(os.path.join(work, "hold.py"), "w") as f:
        f.write(HOLD_PY)

    results = {k: [] for k in ("echo", "sync", "lat_rate", "p50", "p99", "async",
                               "sse_base", "sse_with", "echo_p99", "sync_p99_full")}
    failures = []

    def check(case, r):
        if r["non2xx"] or r["errors"]:
            failures.append("%s: %d non-2xx answers, %d socket errors" % (case, r["non2xx"], r["errors"]))

    for rnd in range(args.rounds):
        echo = Server([args.echo, "--threads", "128"], cwd=work)
        try:
            warm_up("http://127.0.0.1:%d/v1/process/sync" % echo.port, script)
            r = wrk("http://127.0.0.1:%d/v1/process/sync" % echo.port, args.seconds, script)
            check("echo", r)
            results["echo"].append(r["rate"])
            results["echo_p99"].append(r["p99"])
        finally:
            echo.stop()

        # A fresh store per round, so every round starts from the same file size.
        db = os.path.join(work, ".sluice")
        subprocess.run(["rm", "-rf", db])
        sl = Server([args.sluice, "run", "flow.yaml", "--no-summary"], cwd=work, env=env)
        try:
            warm_up("http://127.0.0.1:%d/v1/process/sync" % sl.port, script)
            r = wrk("http://127.0.0.1:%d/v1/process/sync" % sl.port, args.seconds, script)
            check("sync", r)
            results["sync"].append(r["rate"])
            results["sync_p99_full"].append(r["p99"])
            half = r["rate"] / 2
            delay = max(1, int(CONNECTIONS * 1000 / half)) if half > 0 else 1
            r = wrk("http://127.0.0.1:%d/v1/process/sync" % sl.port, args.seconds, script, delay_ms=delay)
            check("sync latency", r)
            results["lat_rate"].append(r["rate"])
            results["p50"].append(r["p50"])
            results["p99"].append(r["p99"])
            warm_up("http://127.0.0.1:%d/v1/process/async" % sl.port, script)
            r = wrk("http://127.0.0.1:%d/v1/process/async" % sl.port, args.seconds, script)
            check("async", r)
            results["async"].append(r["rate"])
        finally:
            sl.stop()
            if sl.proc.returncode not in (0, None):
                failures.append("sluice (sync/async) exited %s:\n%s" % (sl.proc.returncode, "\n".join(sl.lines[-20:])))

        subprocess.run(["rm", "-rf", db])
        sse = Server([args.sluice, "run", "sse.yaml", "--no-summary"], cwd=work, env=env)
        socks = []
        try:
            url = "http://127.0.0.1:%d/v1/process/sync" % sse.port
            warm_up(url, script)
            r = wrk(url, args.seconds, script)
            check("sse baseline", r)
            results["sse_base"].append(r["rate"])
            n = 20 if args.smoke else 200
            socks = open_sse_subscribers(sse.port, n)
            r = wrk(url, args.seconds, script)
            check("sync with SSE subscribers", r)
            results["sse_with"].append(r["rate"])
            left = still_open(socks)
            if left != n:
                failures.append("only %d of %d SSE subscribers stayed open" % (left, n))
        finally:
            for s in socks:
                s.close()
            # The held requests would keep the flow draining for a minute: a second
            # signal abandons them (they stay unfinished in the store, which is removed).
            if sse.proc.poll() is None:
                sse.proc.send_signal(signal.SIGTERM)
                time.sleep(0.5)
                if sse.proc.poll() is None:
                    sse.proc.send_signal(signal.SIGTERM)
                try:
                    sse.proc.wait(15)
                except subprocess.TimeoutExpired:
                    sse.proc.kill()
                    sse.proc.wait()
        print("round %d/%d done" % (rnd + 1, args.rounds), file=sys.stderr)

    def fmt(key, unit="req/s"):
        med, lo, hi = summary(results[key])
        return "%9.0f %s (%.0f - %.0f)" % (med, unit, lo, hi)

    echo = statistics.median(results["echo"])
    sync = statistics.median(results["sync"])
    print("serving benchmark: wrk -t%d -c%d, %d s per case, %d rounds, %d-byte bodies (medians, range)"
          % (WRK_THREADS, CONNECTIONS, args.seconds, args.rounds, BODY_SIZE))
    print("  echo (bare cpp-httplib)      %s, p99 %.2f ms" % (fmt("echo"), statistics.median(results["echo_p99"])))
    print("  sync  serving->cat->serve    %s, p99 %.2f ms at full load" % (fmt("sync"), statistics.median(results["sync_p99_full"])))
    print("  sync / echo                  %9.2f" % (sync / echo if echo else 0))
    print("  sync at half rate            %s: p50 %.2f ms, p99 %.2f ms"
          % (fmt("lat_rate"), statistics.median(results["p50"]), statistics.median(results["p99"])))
    print("  async (stored durably)       %s" % fmt("async", "accepted/s"))
    base = statistics.median(results["sse_base"])
    with_sse = statistics.median(results["sse_with"])
    print("  sync, filter flow            %s" % fmt("sse_base"))
    print("  ... with %3d SSE subscribers %s" % (20 if args.smoke else 200, fmt("sse_with")))
    print("  with / without subscribers   %9.2f" % (with_sse / base if base else 0))
    if failures:
        print("FAILURES:\n  " + "\n  ".join(failures))
        return 1 if args.smoke else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
