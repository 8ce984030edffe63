"""The handler of the Python guide's first flow (docs/python-guide.md): a word per line
in; the word upper-cased, with its length, out; empty lines filtered out."""
from sluice import Datum, Message


def shout(datum: Datum):
    word = datum.value.decode().strip()
    if not word:
        return None  # filtered out: no output for this message
    return Message(f"{word.upper()} {len(word)}")
