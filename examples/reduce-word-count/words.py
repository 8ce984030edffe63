"""The handler of examples/reduce-word-count: turns each generated message into a
sentence and yields one message per word, keyed by the word, for the `count` reduce.

The generator's value is its sequence number ("{seq}"); message n is sentence
n mod 5 of SENTENCES, so the input is the same on every run. A yielded Message without
event_time keeps the input's event time, so every word carries its sentence's time.
"""
import re

from sluice import Datum, Message

SENTENCES = [
    "The river runs to the sea",
    "A sluice gate holds the river",
    "The sea is wide and the river is long",
    "Open the gate and the water runs",
    "Water in the river and water in the sea",
]


def sentence(seq: int) -> str:
    return SENTENCES[seq % len(SENTENCES)]


def split_words(datum: Datum):
    """map-stream: a generator, one Message per word (lower case, letters only)."""
    for word in re.findall(r"[a-z]+", sentence(int(datum.value)).lower()):
        yield Message(word, keys=[word])
