"""The sources of examples/python-source: a numaflow-style Sourcer that reads a file in
pages and checkpoints what the flow finished, and a generator function."""
import json
import os

from sluice import END, AckRequest, Message, Offset, PendingResponse, ReadRequest, Sourcer


class EventPages(Sourcer):
    """Made once per worker with the flow's args."""

    def __init__(self, path: str, checkpoint: str):
        # A relative path is taken beside this file (the flow's folder).
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, path)) as f:
            self.lines = [line for line in f.read().splitlines() if line]
        self.checkpoint = checkpoint
        self.next = 0        # the next line to read
        self.acked = set()   # line numbers the flow has finished

    def read_handler(self, request: ReadRequest):
        if self.next == len(self.lines):
            yield END  # no more data: the source ends (and so does the job)
            return
        for number in range(self.next, min(self.next + request.num_records, len(self.lines))):
            event = json.loads(self.lines[number])
            yield Message(
                payload=f"{event['user']} {event['action']}",
                keys=[event["user"]],
                offset=Offset.offset_with_default_partition_id(str(number).encode()),
            )
            self.next = number + 1

    def ack_handler(self, request: AckRequest):
        # Acks come in any order; each offset exactly once.
        self.acked.update(int(offset.offset) for offset in request.offsets)

    def pending_handler(self) -> PendingResponse:
        return PendingResponse(count=len(self.lines) - self.next)

    def close(self):
        """At the end (Sluice's finish): every ack has arrived. Record the checkpoint:
        the lines 0..n-1 that are all finished."""
        done = 0
        while done in self.acked:
            done += 1
        with open(self.checkpoint, "w") as f:
            f.write(f"finished lines: {done} of {len(self.lines)}\n")


def countdown(start: int = 10):
    """A generator function is a source: each yield is one message."""
    for n in range(start, 0, -1):
        yield str(n)
    yield "liftoff"
