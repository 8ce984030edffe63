"""The handlers of the Python benchmark (python_bench.py): the same functions run inside
`sluice run` (the flows name this module) and in the pure-Python baseline loop."""
from sluice import Message


def identity(datum):
    """Identity map returning a Message."""
    return Message(datum.value)


def identity_bytes(datum):
    """Identity map returning the value's bytes."""
    return datum.value


def identity_batch(datums):
    """Identity batch map (`mode: batch`): one entry per datum, in order."""
    return [Message(d.value) for d in datums]


def nothing(datum):
    """Filters every message out: the cost of a call with no output (breakdown only)."""
    return None
