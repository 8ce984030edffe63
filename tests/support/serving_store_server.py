#!/usr/bin/python3
"""An in-memory Numaflow user-defined serving store server (serving.v1.ServingStore).

In the shape of Numaflow's example store servers: Put stores the payloads of an id, Get
returns them, IsReady says yes. With --append (the default) each Put adds its payloads
to what the id holds; with --overwrite a Put replaces them. Nothing expires.

Usage:
    /usr/bin/python3 serving_store_server.py --listen unix:/abs/path.sock [--append|--overwrite]
        [--stubs DIR]

The Python stubs (serving_store_pb2.py, serving_store_pb2_grpc.py) are generated at build
time into <build>/python_stubs (the sluice-store-python-stubs target); --stubs names that
folder (default: $SLUICE_PYTHON_STUBS). Runs until SIGTERM or SIGINT. Needs Debian's
python3-grpcio and python3-protobuf.

Prints one line, "serving store listening on ADDRESS (append|overwrite)", once it serves:
connect after it. (python grpc leaves a connection made between the bind and the start of
its server hanging for about 5 s, so a client probing too early is slow to connect.)
"""

import argparse
import os
import signal
import sys
import threading
from concurrent import futures

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # Numaflow's limit, both ways


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True,
                        help="unix:/absolute/path.sock or HOST:PORT")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--append", dest="append", action="store_true", default=True,
                      help="each Put adds to what the id holds (default)")
    mode.add_argument("--overwrite", dest="append", action="store_false",
                      help="each Put replaces what the id holds")
    parser.add_argument("--stubs", default=os.environ.get("SLUICE_PYTHON_STUBS"),
                        help="folder of the generated serving_store_pb2*.py")
    args = parser.parse_args()
    if args.stubs:
        sys.path.insert(0, args.stubs)

    import grpc
    import serving_store_pb2 as pb
    import serving_store_pb2_grpc as pb_grpc

    class InMemoryStore(pb_grpc.ServingStoreServicer):
        def __init__(self, append):
            self.append = append
            self.lock = threading.Lock()
            self.store = {}  # id -> list of (origin, value)

        def Put(self, request, context):
            with self.lock:
                payloads = [(p.origin, p.value) for p in request.payloads]
                if self.append:
                    self.store.setdefault(request.id, []).extend(payloads)
                else:
                    self.store[request.id] = payloads
            return pb.PutResponse(success=True)

        def Get(self, request, context):
            with self.lock:
                payloads = list(self.store.get(request.id, []))
            return pb.GetResponse(
                id=request.id,
                payloads=[pb.Payload(origin=o, value=v) for o, v in payloads])

        def IsReady(self, request, context):
            return pb.ReadyResponse(ready=True)

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        options=[("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                 ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)])
    pb_grpc.add_ServingStoreServicer_to_server(InMemoryStore(args.append), server)
    if server.add_insecure_port(args.listen) == 0:
        sys.exit(f"serving_store_server.py: cannot listen on {args.listen}")
    server.start()
    print(f"serving store listening on {args.listen} "
          f"({'append' if args.append else 'overwrite'})", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=1).wait()


if __name__ == "__main__":
    main()
